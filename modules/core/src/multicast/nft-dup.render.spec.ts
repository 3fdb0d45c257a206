import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../errors.js';
import type { MulticastRoute } from './multicast.types.js';
import {
  forwardRule,
  multicastCounterId,
  multicastRuleComments,
  multicastRuleOrder,
  parseMulticastNft,
  renderMulticastNft,
  renderMulticastNftCleanup,
  sourceMapRule,
  ttlExpiredRule,
  wrongInterfaceRule,
} from './nft-dup.render.js';

const star: MulticastRoute = { group: '239.1.1.1', inbound: 'lan0', outbound: ['wg-b', 'tun-c'] };
const range: MulticastRoute = { group: '239.5.0.0/16', inbound: 'lan0', outbound: ['wg-b'] };
const sg: MulticastRoute = { group: '239.1.1.1', source: '10.1.0.5', inbound: 'lan0', outbound: ['tun-c'] };

void describe('multicast nft rendering', () => {
  void it('orders (S,G) first, then the longer group prefix, then by key', () => {
    assert.deepEqual(multicastRuleOrder([range, star, sg]), [sg, star, range]);
    const wide: MulticastRoute = { group: '239.0.0.0/8', inbound: 'lan0', outbound: ['wg-b'] };
    assert.deepEqual(multicastRuleOrder([wide, range]), [range, wide]);
  });

  void it('gives a route one stable counter id, the same for 239.1.1.1 and 239.1.1.1/32', () => {
    const id = multicastCounterId(star);
    assert.match(id, /^[0-9a-f]{16}$/);
    assert.equal(multicastCounterId({ ...star, group: '239.1.1.1/32', outbound: ['x'] }), id);
    assert.notEqual(multicastCounterId(sg), id);
  });

  void it('renders the forward, TTL and wrong-interface rules as nft lists them', () => {
    const id = multicastCounterId(star);
    assert.equal(
      forwardRule(star),
      `iifname "lan0" ip daddr 239.1.1.1 ip ttl > 1 counter name "f_${id}" update @flows { ip saddr . ip daddr . iifname } ` +
        'dup to ip daddr device "tun-c" dup to ip daddr device "wg-b" accept comment "route lan0 * 239.1.1.1"',
    );
    assert.equal(
      ttlExpiredRule(sg),
      `iifname "lan0" ip saddr 10.1.0.5 ip daddr 239.1.1.1 ip ttl <= 1 counter name "f_${multicastCounterId(sg)}" ` +
        'update @flows { ip saddr . ip daddr . iifname } accept comment "ttl lan0 10.1.0.5 239.1.1.1"',
    );
    assert.equal(
      wrongInterfaceRule(range),
      `iifname != "lan0" ip daddr 239.5.0.0/16 counter name "w_${multicastCounterId(range)}" accept comment "wrong lan0 * 239.5.0.0/16"`,
    );
  });

  void it('writes one transaction: table, flush, counters, stale counters deleted, rules in order', () => {
    const script = renderMulticastNft([range, star], ['f_dead', `f_${multicastCounterId(star)}`]);
    const lines = script.trimEnd().split('\n');
    assert.equal(lines[0], 'table ip weft_mcast {');
    const flush = lines.indexOf('flush chain ip weft_mcast prerouting');
    assert.ok(flush > 0);
    const after = lines.slice(flush + 1);
    assert.deepEqual(
      after.filter((l) => l.includes(' counter ip ')),
      [
        `add counter ip weft_mcast f_${multicastCounterId(star)}`,
        `add counter ip weft_mcast w_${multicastCounterId(star)}`,
        `add counter ip weft_mcast f_${multicastCounterId(range)}`,
        `add counter ip weft_mcast w_${multicastCounterId(range)}`,
        'delete counter ip weft_mcast f_dead',
      ],
    );
    const comments = after.flatMap((l) => /comment "([^"]+)"$/.exec(l)?.[1] ?? []);
    assert.deepEqual(comments, [
      'ttl lan0 * 239.1.1.1',
      'route lan0 * 239.1.1.1',
      'ttl lan0 * 239.5.0.0/16',
      'route lan0 * 239.5.0.0/16',
      'wrong lan0 * 239.1.1.1',
      'wrong lan0 * 239.5.0.0/16',
    ]);
    assert.equal(renderMulticastNft([range, star], []), renderMulticastNft([star, range], []));
    assert.deepEqual(comments, multicastRuleComments([star, range]));
  });

  void it('renders a source map as a stateless rewrite of untracked multicast copies, in the output chain', () => {
    const m = { outbound: 'wg-b', from: '10.1.0.0/24', to: '10.11.0.0/24' };
    assert.equal(
      sourceMapRule(m),
      'ct state untracked oifname "wg-b" ip daddr 224.0.0.0/4 ip saddr 10.1.0.0/24 ip saddr set ip saddr & 0.0.0.255 | 10.11.0.0 comment "map wg-b 10.1.0.0/24 10.11.0.0/24"',
    );
    const script = renderMulticastNft([star], [], { sourceMaps: [m] });
    assert.match(script, /^flush chain ip weft_mcast output$/m);
    assert.match(script, /^add rule ip weft_mcast output ct state untracked oifname "wg-b" /m);
    assert.throws(
      () => renderMulticastNft([star], [], { sourceMaps: [{ ...m, to: '10.11.0.0/16' }] }),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /sourceMaps\[0\]\.to: .* not as long/.test(err.message),
    );
    assert.throws(
      () => renderMulticastNft([star], [], { sourceMaps: [m, { ...m, to: '10.12.0.0/24' }] }),
      (err: unknown) =>
        err instanceof InvalidArgumentError && /sourceMaps\[1\]\.outbound: .* already has/.test(err.message),
    );
  });

  void it('deletes the table when no route is left, and refuses an invalid route naming its field', () => {
    assert.equal(renderMulticastNft([], ['f_x']), renderMulticastNftCleanup());
    assert.equal(renderMulticastNftCleanup(), 'table ip weft_mcast {}\ndelete table ip weft_mcast\n');
    assert.throws(
      () => renderMulticastNft([{ group: '10.0.0.1', inbound: 'lan0', outbound: ['wg-b'] }], []),
      (err: unknown) => err instanceof InvalidArgumentError && /routes\[0\]\.group/.test(err.message),
    );
    assert.throws(
      () => renderMulticastNft([{ group: '239.1.1.1', inbound: 'lan"0', outbound: ['wg-b'] }], []),
      (err: unknown) => err instanceof InvalidArgumentError && /routes\[0\]\.inbound/.test(err.message),
    );
  });
});

/** What `nft -j list table ip weft_mcast` printed (nft 1.0.6), trimmed to what the parser reads. */
const listing = (extraRules: unknown[] = []): string =>
  JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', json_schema_version: 1 } },
      { table: { family: 'ip', name: 'weft_mcast', handle: 1 } },
      { counter: { family: 'ip', name: 'f_a', table: 'weft_mcast', handle: 2, packets: 7, bytes: 245 } },
      { counter: { family: 'ip', name: 'w_a', table: 'weft_mcast', handle: 3, packets: 1, bytes: 35 } },
      {
        set: {
          family: 'ip',
          name: 'flows',
          table: 'weft_mcast',
          type: ['ipv4_addr', 'ipv4_addr', 'ifname'],
          elem: [
            {
              elem: {
                val: { concat: ['10.1.0.5', '239.1.1.1', 'lan0'] },
                expires: 561,
                counter: { packets: 7, bytes: 245 },
              },
            },
          ],
        },
      },
      {
        chain: {
          family: 'ip',
          table: 'weft_mcast',
          name: 'prerouting',
          type: 'filter',
          hook: 'prerouting',
          prio: 0,
          policy: 'accept',
        },
      },
      {
        rule: {
          family: 'ip',
          table: 'weft_mcast',
          chain: 'prerouting',
          handle: 5,
          comment: 'ttl lan0 * 239.5.0.0/16',
          expr: [],
        },
      },
      {
        rule: {
          family: 'ip',
          table: 'weft_mcast',
          chain: 'prerouting',
          handle: 6,
          comment: 'route lan0 * 239.5.0.0/16',
          expr: [
            { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lan0' } },
            {
              match: {
                op: '==',
                left: { payload: { protocol: 'ip', field: 'daddr' } },
                right: { prefix: { addr: '239.5.0.0', len: 16 } },
              },
            },
            { match: { op: '>', left: { payload: { protocol: 'ip', field: 'ttl' } }, right: 1 } },
            { counter: 'f_a' },
            { set: { op: 'update', elem: { concat: [] }, set: '@flows' } },
            { dup: { addr: { payload: { protocol: 'ip', field: 'daddr' } }, dev: 'wg-b' } },
            { dup: { addr: { payload: { protocol: 'ip', field: 'daddr' } }, dev: '4' } },
            { accept: null },
          ],
        },
      },
      ...extraRules,
    ],
  });

void describe('multicast nft listing', () => {
  void it('reads routes (a gone device as its old ifindex), counters and senders', () => {
    const seen = parseMulticastNft(listing());
    assert.ok(seen);
    assert.equal(seen.hooked, true);
    assert.deepEqual(seen.routes, [{ group: '239.5.0.0/16', inbound: 'lan0', outbound: ['4', 'wg-b'] }]);
    assert.deepEqual(seen.counters.get('f_a'), { packets: 7, bytes: 245 });
    assert.deepEqual(seen.counters.get('w_a'), { packets: 1, bytes: 35 });
    assert.deepEqual(seen.flows, [
      {
        source: '10.1.0.5',
        group: '239.1.1.1',
        inbound: 'lan0',
        outbound: [],
        packets: 7,
        bytes: 245,
        wrongInterface: 0,
      },
    ]);
    assert.deepEqual(seen.foreign, []);
  });

  void it('names a rule Weft did not write, and reads a missing table as undefined', () => {
    const seen = parseMulticastNft(
      listing([
        {
          rule: {
            family: 'ip',
            table: 'weft_mcast',
            chain: 'prerouting',
            handle: 9,
            expr: [{ drop: null }],
          },
        },
        {
          rule: {
            family: 'ip',
            table: 'weft_mcast',
            chain: 'prerouting',
            handle: 10,
            comment: 'route lan0 * 239.9.9.9',
            expr: [
              { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lan0' } },
              { drop: null },
            ],
          },
        },
      ]),
    );
    assert.deepEqual(seen?.foreign, ['rule handle 9', 'rule "route lan0 * 239.9.9.9"']);
    assert.equal(parseMulticastNft(JSON.stringify({ nftables: [{ metainfo: {} }] })), undefined);
  });
});
