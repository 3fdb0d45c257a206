import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AttrStream, rt } from 'netlink';
import {
  addressToKernel,
  changeFromKernel,
  errnoName,
  linkInfoKind,
  routeFromKernel,
  routeSelectorToKernel,
  routeToKernel,
  ruleFromKernel,
  ruleToKernel,
} from './netlink.codec.js';
import { RTM } from './netlink.types.js';
import { InvalidArgumentError } from '../errors.js';

function routeBytes(m: { data: rt.Route; attrs: rt.RouteAttrs }): Buffer {
  const out = new AttrStream();
  rt.formatRouteMessage({ kind: 'route', ...m }, out);
  return Buffer.concat(out.bufs);
}

function ruleBytes(m: { data: rt.Rule; attrs: rt.RuleAttrs }): Buffer {
  const out = new AttrStream();
  rt.formatRuleMessage({ kind: 'rule', ...m }, out);
  return Buffer.concat(out.bufs);
}

void describe('netlink codec', () => {
  void it('encodes an unreachable route in table 7373 byte for byte', () => {
    const bytes = routeBytes(
      routeToKernel({
        destination: '10.1.0.0/16',
        type: 'unreachable',
        table: 7373,
        metric: 100,
        protocol: 87,
      }),
    );
    const rtmsg = '02 10 00 00 00 57 00 07 00000000'; // family, dst_len, src_len, tos, table (UNSPEC), protocol 87, scope, RTN_UNREACHABLE, flags
    const rtaDst = '0800 0100 0a010000'; // RTA_DST 10.1.0.0
    const rtaPriority = '0800 0600 64000000'; // RTA_PRIORITY 100
    const rtaTable = '0800 0f00 cd1c0000'; // RTA_TABLE 7373
    assert.equal(bytes.toString('hex'), [rtmsg, rtaDst, rtaTable, rtaPriority].join('').replace(/ /g, ''));
  });

  void it('round-trips routes through the wire format', () => {
    const specs = [
      { destination: '10.1.0.0/16', type: 'unicast', table: 7373, metric: 100, protocol: 87, ifindex: 4 },
      {
        destination: '10.2.0.0/16',
        type: 'unicast',
        table: 7373,
        metric: 5,
        protocol: 87,
        gateway: '192.0.2.1',
      },
      { destination: '2001:db8:1::/48', type: 'blackhole', table: 7373, metric: 1024, protocol: 87 },
      {
        destination: '::/0',
        type: 'unicast',
        table: 254,
        metric: 1,
        protocol: 4,
        gateway: 'fe80::1',
        ifindex: 2,
      },
    ] as const;
    for (const spec of specs) {
      const parsed = routeFromKernel(rt.parseRouteMessage(routeBytes(routeToKernel(spec))));
      assert.ok(parsed);
      assert.equal(parsed.destination, spec.destination);
      assert.equal(parsed.type, spec.type);
      assert.equal(parsed.table, spec.table);
      assert.equal(parsed.metric, spec.metric);
      assert.equal(parsed.protocol, spec.protocol);
      assert.equal(parsed.gateway, 'gateway' in spec ? spec.gateway : undefined);
      assert.equal(parsed.ifindex, 'ifindex' in spec ? spec.ifindex : undefined);
      assert.equal(parsed.scope, 'gateway' in spec || spec.type !== 'unicast' ? 0 : 253);
    }
  });

  void it('leaves protocol and type as wildcards in a delete unless given', () => {
    const { data, attrs } = routeSelectorToKernel({ destination: '10.1.0.0/16', table: 7373, metric: 100 });
    assert.equal(data.protocol, 0);
    assert.equal(data.type, 0);
    assert.equal(data.scope, 255); // RT_SCOPE_NOWHERE
    assert.equal(attrs.table, 7373);
  });

  void it('refuses route specs the kernel would refuse, before sending', () => {
    const base = { table: 7373, metric: 1, protocol: 87 };
    assert.throws(
      () => routeToKernel({ ...base, destination: '10.1.0.0/16', type: 'unicast' }),
      InvalidArgumentError,
    );
    assert.throws(
      () => routeToKernel({ ...base, destination: '10.1.0.0/16', type: 'blackhole', ifindex: 3 }),
      InvalidArgumentError,
    );
    assert.throws(
      () => routeToKernel({ ...base, destination: '10.1.0.0/16', type: 'unicast', gateway: '2001:db8::1' }),
      InvalidArgumentError,
    );
    assert.throws(
      () => routeToKernel({ ...base, destination: '10.1.0.7/16', type: 'unreachable' }),
      InvalidArgumentError,
    );
  });

  void it('round-trips "from all lookup 7373" rules and tells them from narrower ones', () => {
    const all = ruleFromKernel(
      rt.parseRuleMessage(
        ruleBytes(ruleToKernel({ family: 'inet6', table: 7373, priority: 5300, protocol: 87 })),
      ),
    );
    assert.deepEqual(all && [all.family, all.table, all.priority, all.protocol, all.action, all.fromAll], [
      'inet6',
      7373,
      5300,
      87,
      'lookup',
      true,
    ]);
    const narrow = ruleFromKernel(
      rt.parseRuleMessage(
        ruleBytes(
          ruleToKernel({ family: 'inet', table: 7373, priority: 5301, src: '10.0.0.0/8', fwmark: 7 }),
        ),
      ),
    );
    assert.deepEqual(narrow && [narrow.src, narrow.fwmark, narrow.fromAll], ['10.0.0.0/8', 7, false]);
  });

  void it('sends an address as IFA_LOCAL with IFA_ADDRESS the peer, keeping host bits', () => {
    const { data, attrs } = addressToKernel({ ifindex: 3, cidr: '192.0.2.1/24' });
    assert.deepEqual([data.family, data.prefixlen, data.index], [2, 24, 3]);
    assert.deepEqual(
      [attrs.local, attrs.address],
      [Buffer.from([192, 0, 2, 1]), Buffer.from([192, 0, 2, 1])],
    );
    const p2p = addressToKernel({ ifindex: 3, cidr: '10.9.0.1/32', peer: '10.9.0.2' });
    assert.deepEqual(p2p.attrs.address, Buffer.from([10, 9, 0, 2]));
    assert.equal(attrs.label, undefined, 'no IFA_LABEL unless asked');
  });

  void it('sends a label as IFA_LABEL, so an owner finds its addresses again', () => {
    const { attrs } = addressToKernel({ ifindex: 1, cidr: '10.11.0.1/32', label: 'lo:weft' });
    assert.equal(attrs.label, 'lo:weft');
  });

  void it('turns notifications into changes, telling RTM_NEW* from RTM_DEL*', () => {
    const payload = routeBytes(
      routeToKernel({
        destination: '10.1.0.0/16',
        type: 'unreachable',
        table: 7373,
        metric: 1,
        protocol: 87,
      }),
    );
    const added = changeFromKernel(RTM.NEWROUTE, payload);
    const removed = changeFromKernel(RTM.DELROUTE, payload);
    assert.equal(added?.kind === 'route' && added.action, 'new');
    assert.equal(removed?.kind === 'route' && removed.action, 'del');
    assert.equal(removed?.kind === 'route' && removed.route.destination, '10.1.0.0/16');
    assert.equal(changeFromKernel(RTM.NEWROUTE, Buffer.from([1, 2])), undefined);
  });

  void it('reads IFLA_INFO_KIND out of IFLA_LINKINFO', () => {
    // IFLA_INFO_KIND "veth\0", then a nested IFLA_INFO_DATA
    const info = Buffer.from('0900 0100 7665746800 000000 0400 0280'.replace(/ /g, ''), 'hex');
    assert.equal(linkInfoKind(info), 'veth');
    assert.equal(linkInfoKind(Buffer.from('0400 0280'.replace(/ /g, ''), 'hex')), undefined);
    assert.equal(linkInfoKind(Buffer.from('ff00 0100', 'hex')), undefined);
  });

  void it('finds the errno name in the netlink package errors', () => {
    assert.equal(errnoName(new Error('Request rejected: EEXIST')), 'EEXIST');
    assert.equal(
      errnoName(Object.assign(new Error('recvmsg: No buffer space'), { code: 'ENOBUFS' })),
      'ENOBUFS',
    );
    assert.equal(errnoName(new Error('Timeout has been reached')), undefined);
  });
});
