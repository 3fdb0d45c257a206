// RtNetlinkAdapter against the real kernel, inside the namespace tools/test.mjs creates.
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RtNetlinkAdapter } from './netlink.adapter.js';
import type { KernelChange } from './netlink.types.js';
import { AdapterClosedError, KernelError } from '../errors.js';
import {
  addVeth,
  assertInsideThrowawayNetns,
  deleteLinkIfPresent,
  ip,
  ipJson,
  waitForItem,
} from '../testing/kernel-helpers.js';

const TABLE = 7373;
const PROTO = 87;

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
}
interface IpRule {
  priority: number;
  src: string;
  table: string;
  protocol?: string;
}

async function flushTable(): Promise<void> {
  for (const family of ['-4', '-6']) {
    try {
      await ip(family, 'route', 'flush', 'table', String(TABLE));
    } catch {
      // an empty table is reported as an error by some iproute2 versions
    }
  }
}

// At load time, so that not even a hook runs outside a throw-away namespace.
assertInsideThrowawayNetns();

void describe('RtNetlinkAdapter (kernel)', () => {
  let nl: RtNetlinkAdapter;

  beforeEach(async () => {
    nl = new RtNetlinkAdapter();
    await addVeth('wt0', 'wt0p', { up: true });
    await ip('address', 'add', '192.0.2.1/24', 'dev', 'wt0');
    await ip('-6', 'address', 'add', '2001:db8:ff::1/64', 'dev', 'wt0', 'nodad');
  });
  afterEach(async () => {
    await nl.close();
    await deleteLinkIfPresent('wt0');
    await deleteLinkIfPresent('wt1');
    await flushTable();
  });
  after(async () => {
    for (const family of ['-4', '-6']) {
      for (const rule of await ipJson<IpRule[]>(family, 'rule')) {
        if (rule.table === String(TABLE)) await ip(family, 'rule', 'del', 'priority', String(rule.priority));
      }
    }
  });

  void it('lists links, finds one by name, and brings one up', async () => {
    await addVeth('wt1', 'wt1p');
    const links = await nl.listLinks();
    const wt1 = links.find((l) => l.name === 'wt1');
    assert.ok(wt1, 'wt1 listed');
    assert.equal(wt1.kind, 'veth');
    assert.equal(wt1.up, false);
    assert.deepEqual(await nl.getLinkByName('wt1'), wt1);
    assert.equal(await nl.getLinkByName('nosuch0'), undefined);

    await nl.setLinkUp(wt1.index);
    const [shown] = await ipJson<Array<{ flags: string[] }>>('link', 'show', 'wt1');
    assert.ok(shown?.flags.includes('UP'), `ip link shows ${JSON.stringify(shown?.flags)}`);
  });

  void it('adds and deletes IPv4 and IPv6 addresses', async () => {
    const wt0 = await nl.getLinkByName('wt0');
    assert.ok(wt0);
    await nl.addAddress({ ifindex: wt0.index, cidr: '198.51.100.7/24' });
    await nl.addAddress({ ifindex: wt0.index, cidr: '2001:db8:aa::7/64' });
    const listed = (await nl.listAddresses({ ifindex: wt0.index })).map((a) => a.cidr);
    assert.ok(listed.includes('198.51.100.7/24') && listed.includes('2001:db8:aa::7/64'), listed.join(', '));
    const [shown] = await ipJson<Array<{ addr_info: Array<{ local: string }> }>>(
      'address',
      'show',
      'dev',
      'wt0',
    );
    assert.ok(shown?.addr_info.some((a) => a.local === '2001:db8:aa::7'));

    await assert.rejects(nl.addAddress({ ifindex: wt0.index, cidr: '198.51.100.7/24' }), { code: 'EEXIST' });
    await nl.delAddress({ ifindex: wt0.index, cidr: '198.51.100.7/24' });
    await nl.delAddress({ ifindex: wt0.index, cidr: '2001:db8:aa::7/64' });
    const after = (await nl.listAddresses({ ifindex: wt0.index })).map((a) => a.cidr);
    assert.ok(!after.includes('198.51.100.7/24') && !after.includes('2001:db8:aa::7/64'), after.join(', '));
  });

  void it('adds unicast (dev, gateway), unreachable and blackhole routes in table 7373, both families', async () => {
    const wt0 = await nl.getLinkByName('wt0');
    assert.ok(wt0);
    const base = { table: TABLE, protocol: PROTO };
    await nl.addRoute({
      ...base,
      destination: '10.1.0.0/16',
      type: 'unicast',
      ifindex: wt0.index,
      metric: 10,
    });
    await nl.addRoute({
      ...base,
      destination: '10.2.0.0/16',
      type: 'unicast',
      gateway: '192.0.2.2',
      metric: 20,
    });
    await nl.addRoute({ ...base, destination: '10.3.0.0/16', type: 'unreachable', metric: 30 });
    await nl.addRoute({ ...base, destination: '2001:db8:1::/48', type: 'blackhole', metric: 40 });
    await nl.addRoute({
      ...base,
      destination: '2001:db8:2::/48',
      type: 'unicast',
      gateway: '2001:db8:ff::2',
      metric: 0,
    });

    const v4 = await ipJson<IpRoute[]>('-4', 'route', 'show', 'table', String(TABLE));
    assert.deepEqual(
      v4.map((r) => [r.type ?? 'unicast', r.dst, r.gateway, r.dev, r.protocol, r.metric]),
      [
        ['unicast', '10.1.0.0/16', undefined, 'wt0', '87', 10],
        ['unicast', '10.2.0.0/16', '192.0.2.2', 'wt0', '87', 20],
        ['unreachable', '10.3.0.0/16', undefined, undefined, '87', 30],
      ],
    );
    const v6 = await ipJson<IpRoute[]>('-6', 'route', 'show', 'table', String(TABLE));
    assert.deepEqual(
      v6.map((r) => [r.type ?? 'unicast', r.dst, r.gateway, r.metric]),
      [
        ['blackhole', '2001:db8:1::/48', undefined, 40],
        ['unicast', '2001:db8:2::/48', '2001:db8:ff::2', 1024],
      ],
    );

    const listed = await nl.listRoutes({ table: TABLE });
    assert.equal(listed.length, 5);
    assert.ok(listed.every((r) => r.table === TABLE && r.protocol === PROTO));
    const gw = listed.find((r) => r.destination === '10.2.0.0/16');
    assert.deepEqual(gw && [gw.type, gw.gateway, gw.ifindex, gw.metric], [
      'unicast',
      '192.0.2.2',
      wt0.index,
      20,
    ]);
    const hole = listed.find((r) => r.destination === '2001:db8:1::/48');
    assert.deepEqual(hole && [hole.family, hole.type, hole.metric], ['inet6', 'blackhole', 40]);
    assert.deepEqual(await nl.listRoutes({ table: TABLE, family: 'inet6' }).then((r) => r.length), 2);
  });

  void it('refuses a duplicate, replaces in place, deletes, and says ESRCH for a missing route', async () => {
    const base = { table: TABLE, protocol: PROTO, destination: '10.4.0.0/16', metric: 7 };
    await nl.addRoute({ ...base, type: 'unreachable' });
    await assert.rejects(nl.addRoute({ ...base, type: 'unreachable' }), (err: unknown) => {
      assert.ok(err instanceof KernelError);
      assert.equal(err.code, 'EEXIST');
      assert.equal(err.kind, 'conflict');
      assert.match(err.message, /RTM_NEWROUTE unreachable 10\.4\.0\.0\/16 metric 7 table 7373/);
      return true;
    });
    await nl.replaceRoute({ ...base, type: 'unicast', gateway: '192.0.2.9' });
    const shown = await ipJson<IpRoute[]>('route', 'show', 'table', String(TABLE));
    assert.deepEqual(
      shown.map((r) => [r.type ?? 'unicast', r.dst, r.gateway, r.metric]),
      [['unicast', '10.4.0.0/16', '192.0.2.9', 7]],
    );
    await nl.replaceRoute({ ...base, destination: '2001:db8:4::/48', type: 'unreachable' });
    await nl.replaceRoute({ ...base, destination: '2001:db8:4::/48', type: 'blackhole' });
    const v6 = await ipJson<IpRoute[]>('-6', 'route', 'show', 'table', String(TABLE));
    assert.deepEqual(
      v6.map((r) => [r.type, r.dst]),
      [['blackhole', '2001:db8:4::/48']],
    );

    await nl.delRoute({ destination: '10.4.0.0/16', table: TABLE, metric: 7 });
    await nl.delRoute({ destination: '2001:db8:4::/48', table: TABLE, metric: 7 });
    assert.deepEqual(await nl.listRoutes({ table: TABLE }), []);
    await assert.rejects(nl.delRoute({ destination: '10.4.0.0/16', table: TABLE, metric: 7 }), {
      code: 'ESRCH',
    });
  });

  void it('reports an unreachable gateway as ENETUNREACH', async () => {
    await assert.rejects(
      nl.addRoute({
        destination: '10.5.0.0/16',
        type: 'unicast',
        gateway: '203.0.113.1',
        table: TABLE,
        metric: 1,
        protocol: PROTO,
      }),
      { code: 'ENETUNREACH' },
    );
  });

  void it('adds and deletes "from all lookup 7373" rules for IPv4 and IPv6', async () => {
    for (const family of ['inet', 'inet6'] as const) {
      await nl.addRule({ family, table: TABLE, priority: 5300, protocol: PROTO });
    }
    for (const flag of ['-4', '-6']) {
      const shown = (await ipJson<IpRule[]>(flag, 'rule')).filter((r) => r.table === String(TABLE));
      assert.deepEqual(shown, [{ priority: 5300, src: 'all', table: '7373', protocol: '87' }], flag);
    }
    const listed = (await nl.listRules()).filter((r) => r.table === TABLE);
    assert.deepEqual(
      listed.map((r) => [r.family, r.priority, r.action, r.protocol, r.fromAll]),
      [
        ['inet', 5300, 'lookup', 87, true],
        ['inet6', 5300, 'lookup', 87, true],
      ],
    );
    await assert.rejects(nl.addRule({ family: 'inet', table: TABLE, priority: 5300, protocol: PROTO }), {
      code: 'EEXIST',
    });
    // The kernel compares FRA_PROTOCOL too: the same rule from another originator is no duplicate.
    await nl.addRule({ family: 'inet', table: TABLE, priority: 5300 });
    assert.equal((await ipJson<IpRule[]>('-4', 'rule')).filter((r) => r.table === String(TABLE)).length, 2);
    await nl.delRule({ family: 'inet', table: TABLE, priority: 5300 });
    for (const family of ['inet', 'inet6'] as const)
      await nl.delRule({ family, table: TABLE, priority: 5300 });
    assert.deepEqual(
      (await nl.listRules()).filter((r) => r.table === TABLE),
      [],
    );
    await assert.rejects(nl.delRule({ family: 'inet', table: TABLE, priority: 5300 }), { code: 'ENOENT' });
  });

  void it('watch() sees route, address and link changes made by others', async () => {
    const changes = nl.watch()[Symbol.asyncIterator]();
    try {
      await ip('route', 'add', 'unreachable', '10.6.0.0/16', 'table', String(TABLE), 'metric', '3');
      const added = await waitForItem(
        changes,
        (c: KernelChange) =>
          c.kind === 'route' && c.action === 'new' && c.route.destination === '10.6.0.0/16',
        'RTM_NEWROUTE 10.6.0.0/16',
      );
      assert.ok(added.kind === 'route' && added.route.table === TABLE && added.route.type === 'unreachable');

      await ip('route', 'del', '10.6.0.0/16', 'table', String(TABLE), 'metric', '3');
      await waitForItem(
        changes,
        (c) => c.kind === 'route' && c.action === 'del' && c.route.destination === '10.6.0.0/16',
        'RTM_DELROUTE 10.6.0.0/16',
      );

      await ip('-6', 'route', 'add', 'blackhole', '2001:db8:6::/48', 'table', String(TABLE));
      await waitForItem(
        changes,
        (c) => c.kind === 'route' && c.route.family === 'inet6' && c.route.destination === '2001:db8:6::/48',
        'IPv6 RTM_NEWROUTE',
      );

      await ip('address', 'add', '198.51.100.9/24', 'dev', 'wt0');
      await waitForItem(
        changes,
        (c) => c.kind === 'address' && c.address.cidr === '198.51.100.9/24',
        'RTM_NEWADDR',
      );

      await ip('link', 'set', 'wt0', 'down');
      const down = await waitForItem(
        changes,
        (c) => c.kind === 'link' && c.link.name === 'wt0' && !c.link.up,
        'wt0 down',
      );
      assert.ok(down.kind === 'link' && down.action === 'new');

      await ip('rule', 'add', 'from', 'all', 'lookup', String(TABLE), 'priority', '5301');
      await waitForItem(
        changes,
        (c) => c.kind === 'rule' && c.rule.priority === 5301 && c.rule.table === TABLE,
        'RTM_NEWRULE',
      );
      await ip('rule', 'del', 'priority', '5301');
    } finally {
      await changes.return?.();
    }
  });

  void it('ends every watch when closed, and refuses calls afterwards', async () => {
    const first = nl.watch();
    const second = nl.watch();
    const drain = async (it: AsyncIterable<KernelChange>): Promise<number> => {
      let n = 0;
      for await (const _ of it) n++;
      return n;
    };
    const drained = Promise.all([drain(first), drain(second)]);
    await nl.close();
    const counts = await drained;
    assert.equal(counts.length, 2);
    await assert.rejects(nl.listLinks(), AdapterClosedError);
    const late = nl.watch()[Symbol.asyncIterator]();
    assert.deepEqual(await late.next(), { value: undefined, done: true });
  });

  void it('ends a watch when its signal aborts', async () => {
    const abort = new AbortController();
    const iterator = nl.watch({ signal: abort.signal })[Symbol.asyncIterator]();
    const pending = iterator.next();
    abort.abort();
    assert.deepEqual(await pending, { value: undefined, done: true });
  });
});
