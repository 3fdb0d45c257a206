// NftMulticastForwarder against the real kernel and nft: a sender — router — two receivers, each in a
// namespace of its own; every delivery is counted by an nftables counter in the receiver's namespace.
// It runs on every kernel (it needs nft dup, not multicast routing).
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcessRunner } from '../system/process.adapter.js';
import { assertInsideThrowawayNetns } from '../testing/kernel-helpers.js';
import type { HeldNetns } from '../testing/netns-lab.js';
import { linkNetns, waitUntil } from '../testing/netns-lab.js';
import { createMulticastLab, G1, G2, type Deliveries, type MulticastLab } from './multicast.lab.js';
import type { MulticastDesired } from './multicast.types.js';
import { NftMulticastForwarder } from './nft-dup.forwarder.js';
import { multicastCounterId } from './nft-dup.render.js';

assertInsideThrowawayNetns();

const processes = new NodeProcessRunner();
void describe('NftMulticastForwarder (nft dup, kernel)', () => {
  let lab: MulticastLab;
  let router: HeldNetns;
  let recvB: HeldNetns;
  let atA: () => Promise<Deliveries>;
  let atB: () => Promise<Deliveries>;
  let mc: NftMulticastForwarder;

  const send: MulticastLab['send'] = (...args) => lab.send(...args);
  const make = (): NftMulticastForwarder =>
    new NftMulticastForwarder({ processes, launcher: router.launcher });
  const both = (group: string): MulticastDesired => ({
    routes: [{ group, inbound: 'rs', outbound: ['r1', 'r2'] }],
  });
  const tables = async (): Promise<string> => router.run('nft', 'list', 'tables');

  before(async () => {
    lab = await createMulticastLab('mn', processes);
    ({ router, recvB, atA, atB } = lab);
  });

  after(async () => {
    await lab?.destroy();
  });

  beforeEach(() => {
    mc = make();
  });

  afterEach(async () => {
    await mc.cleanup();
  });

  void it('is available on this kernel', async () => {
    assert.equal(await mc.unavailable(), undefined);
  });

  void it('forwards a group to both receivers with TTL-1, counts it per route and sender, and reports no drift', async () => {
    const a0 = await atA();
    const b0 = await atB();
    const result = await mc.apply(both(G1));
    assert.deepEqual(result.waiting, []);
    await send(G1, 5);
    await waitUntil(async () => (await atB())[G1] === (b0[G1] ?? 0) + 5, 'B to receive 5');
    const a1 = await atA();
    assert.equal(a1[G1], (a0[G1] ?? 0) + 5);
    assert.equal(a1.g1ttl3, (a0.g1ttl3 ?? 0) + 5, 'sent with TTL 4, one hop: TTL 3');
    const [counters] = await mc.counters(both(G1));
    assert.equal(counters?.packets, 5);
    assert.ok((counters?.bytes ?? 0) >= 5 * 32);
    assert.equal(counters?.flows.length, 1);
    assert.equal(counters?.flows[0]?.source, '10.0.0.2');
    assert.equal(counters?.flows[0]?.packets, 5);
    assert.deepEqual(await mc.drift(both(G1)), []);
    assert.deepEqual(await mc.drift(both(G2)), [
      'route needs: remove rs 239.1.1.1',
      'route needs: add rs 239.2.2.2 r1 r2',
      `counter f_${multicastCounterId({ group: G2, inbound: 'rs', outbound: [] })} missing`,
      `counter w_${multicastCounterId({ group: G2, inbound: 'rs', outbound: [] })} missing`,
    ]);
  });

  void it('does not forward TTL-1 datagrams (they may not leave the link they were sent on)', async () => {
    await mc.apply(both(G1));
    const a0 = await atA();
    const b0 = await atB();
    await send(G1, 3, 0.001, 1);
    await send(G1, 1, 0.001, 4);
    await waitUntil(async () => (await atA())[G1] === (a0[G1] ?? 0) + 1, 'A to receive the TTL-4 one');
    const [counters] = await mc.counters(both(G1));
    assert.equal(counters?.packets, 4, 'all four arrived for the route, as the kernel counts them');
    assert.equal((await atB())[G1] ?? 0, (b0[G1] ?? 0) + 1, 'B got only the TTL-4 one too');
  });

  void it('adds and removes groups and outbound interfaces at run time without losing a packet of another group; counters survive', async () => {
    await mc.apply({ routes: [{ group: G2, inbound: 'rs', outbound: ['r1'] }] });
    const a0 = await atA();
    const b0 = await atB();
    const stream = send(G2, 600, 0.003); // ≈ 2 s
    for (const routes of [
      [
        { group: G2, inbound: 'rs', outbound: ['r1'] },
        { group: G1, inbound: 'rs', outbound: ['r1', 'r2'] },
      ],
      [
        { group: G2, inbound: 'rs', outbound: ['r1'] },
        { group: G1, inbound: 'rs', outbound: ['r1'] },
      ],
      [{ group: G2, inbound: 'rs', outbound: ['r1'] }],
    ]) {
      await mc.apply({ routes });
    }
    await stream;
    await waitUntil(async () => (await atA())[G2] === (a0[G2] ?? 0) + 600, 'A to receive all 600');
    const [g2] = await mc.counters({ routes: [{ group: G2, inbound: 'rs', outbound: ['r1'] }] });
    assert.equal(g2?.packets, 600, 'one counter across the four applies');
    await mc.apply({
      routes: [
        { group: G2, inbound: 'rs', outbound: ['r1'] },
        { group: G1, inbound: 'rs', outbound: ['r1'] },
      ],
    });
    const a1 = await atA();
    await send(G1, 4);
    await waitUntil(async () => (await atA())[G1] === (a1[G1] ?? 0) + 4, 'A to receive G1');
    const b1 = await atB();
    assert.equal(b1[G1] ?? 0, b0[G1] ?? 0, 'B got none of G1');
    assert.equal(b1[G2] ?? 0, b0[G2] ?? 0, 'B got none of G2');
  });

  void it('copies a packet once: an (S,G) route wins over a (*,G) range holding its group', async () => {
    const desired: MulticastDesired = {
      routes: [
        { group: '239.0.0.0/8', inbound: 'rs', outbound: ['r1', 'r2'] },
        { group: G1, source: '10.0.0.2', inbound: 'rs', outbound: ['r2'] },
      ],
    };
    await mc.apply(desired);
    const a0 = await atA();
    const b0 = await atB();
    await send(G1, 3);
    await send(G2, 2);
    await waitUntil(async () => (await atB())[G1] === (b0[G1] ?? 0) + 3, 'B to receive G1 from the (S,G)');
    await waitUntil(async () => (await atA())[G2] === (a0[G2] ?? 0) + 2, 'A to receive G2 from the range');
    assert.equal((await atA())[G1] ?? 0, a0[G1] ?? 0, 'A is not in the (S,G) route');
    assert.equal((await atB())[G1], (b0[G1] ?? 0) + 3, 'B got each G1 datagram once');
    const [range, sg] = await mc.counters(desired);
    assert.equal(sg?.packets, 3);
    assert.equal(range?.packets, 2);
  });

  void it('keeps forwarding to the interfaces present and installs a missing one when it appears', async () => {
    const desired: MulticastDesired = { routes: [{ group: G1, inbound: 'rs', outbound: ['r1', 'r3'] }] };
    const result = await mc.apply(desired);
    assert.deepEqual(result.waiting, [{ route: desired.routes[0], missing: ['r3'] }]);
    assert.deepEqual(result.installed, [{ group: G1, inbound: 'rs', outbound: ['r1'] }]);
    const a0 = await atA();
    await send(G1, 3);
    await waitUntil(async () => (await atA())[G1] === (a0[G1] ?? 0) + 3, 'A to receive');
    assert.deepEqual(await mc.drift(desired), []);
    await router.run('ip', 'link', 'add', 'r3', 'type', 'veth', 'peer', 'name', 'r3p');
    await router.run('ip', 'link', 'set', 'r3p', 'up');
    await router.run('ip', 'link', 'set', 'r3', 'up');
    try {
      assert.deepEqual(await mc.drift(desired), [
        'route needs: remove rs 239.1.1.1',
        'route needs: add rs 239.1.1.1 r1 r3',
      ]);
      assert.deepEqual((await mc.apply(desired)).waiting, []);
      assert.deepEqual(await mc.drift(desired), []);
    } finally {
      await router.run('ip', 'link', 'del', 'r3');
    }
  });

  void it('re-resolves an interface deleted and created again (a restarted tunnel) on the next apply', async () => {
    await mc.apply(both(G1));
    await router.run('ip', 'link', 'del', 'r2');
    await linkNetns(
      { ns: router, name: 'r2', address: '10.0.2.1/24' },
      { ns: recvB, name: 'eth1', address: '10.0.2.3/24' },
    );
    const drift = await mc.drift(both(G1));
    assert.equal(drift.length, 2, drift.join('; '));
    assert.match(drift[0] ?? '', /^route needs: remove rs 239\.1\.1\.1$/);
    await mc.apply(both(G1));
    assert.deepEqual(await mc.drift(both(G1)), []);
    const b0 = await atB();
    await send(G1, 3);
    await waitUntil(async () => (await atB())[G1] === (b0[G1] ?? 0) + 3, 'B to receive on the new r2');
  });

  void it('forwarding goes on with no process of ours; a new forwarder (a restarted appliance) finds no drift and keeps the counters', async () => {
    await mc.apply(both(G1));
    await send(G1, 2);
    const a0 = await atA();
    const next = make(); // what a kill -9 and a restart leave: the table, and a forwarder that never applied
    assert.deepEqual(await next.drift(both(G1)), []);
    await next.apply(both(G1));
    await send(G1, 3);
    await waitUntil(async () => (await atA())[G1] === (a0[G1] ?? 0) + 3, 'A to receive after the restart');
    const [c] = await next.counters(both(G1));
    assert.equal(c?.packets, 5);
    const listed = await router.run('nft', 'list', 'chain', 'ip', 'weft_mcast', 'prerouting');
    assert.equal(listed.match(/comment "route /g)?.length, 1, 'one rule, no duplicate');
  });

  void it('puts back a rule deleted by hand, and an apply with nothing to change runs no transaction', async () => {
    await mc.apply(both(G1));
    const handleOf = async (comment: string): Promise<string> => {
      const listed = await router.run('nft', '-a', 'list', 'chain', 'ip', 'weft_mcast', 'prerouting');
      const line = listed.split('\n').find((l) => l.includes(`comment "${comment}"`));
      return /# handle (\d+)/.exec(line ?? '')?.[1] ?? assert.fail(`no rule "${comment}"`);
    };
    const before = await handleOf('route rs * 239.1.1.1');
    await mc.apply(both(G1));
    assert.equal(await handleOf('route rs * 239.1.1.1'), before, 'the same rule, not rewritten');
    await router.run(
      'nft',
      'delete',
      'rule',
      'ip',
      'weft_mcast',
      'prerouting',
      'handle',
      await handleOf('ttl rs * 239.1.1.1'),
    );
    assert.deepEqual(await mc.drift(both(G1)), [
      'the rules of ip weft_mcast are not in the order Weft writes them',
    ]);
    await mc.apply(both(G1));
    assert.deepEqual(await mc.drift(both(G1)), []);
  });

  void it('gives its copies leaving by a NETMAP link the mapped source, host part kept, and only those', async () => {
    const desired: MulticastDesired = {
      ...both(G1),
      sourceMaps: [{ outbound: 'r1', from: '10.0.0.0/24', to: '10.11.0.0/24' }],
    };
    for (const [ns, rule] of [
      [lab.recvA, 'ip saddr 10.11.0.2 ip daddr 239.1.1.1 counter comment "mapped"'],
      [recvB, 'ip saddr 10.0.0.2 ip daddr 239.1.1.1 counter comment "real"'],
    ] as const) {
      await ns.run('nft', 'add', 'rule', 'ip', 'mctest', 'pre', ...rule.split(' '));
    }
    await mc.apply(desired);
    assert.deepEqual(await mc.drift(desired), []);
    assert.deepEqual(await mc.drift(both(G1)), [
      'the source maps of ip weft_mcast (NETMAP links) are not none',
    ]);
    const a0 = await atA();
    const b0 = await atB();
    await send(G1, 3);
    await waitUntil(async () => (await atA()).mapped === (a0.mapped ?? 0) + 3, 'A to see 10.11.0.2');
    await waitUntil(async () => (await atB()).real === (b0.real ?? 0) + 3, 'B to see 10.0.0.2');
    assert.equal((await atA())[G1], (a0[G1] ?? 0) + 3, 'every datagram at A is a mapped one');
  });

  void it('deletes its table when no route is left, and cleanup leaves nothing; another table is untouched', async () => {
    await router.run('nft', 'add', 'table', 'ip', 'someone_else');
    try {
      await mc.apply(both(G1));
      assert.match(await tables(), /table ip weft_mcast/);
      await mc.apply({ routes: [] });
      assert.doesNotMatch(await tables(), /weft_mcast/);
      assert.deepEqual(await mc.drift({ routes: [] }), []);
      await mc.apply(both(G2));
      await mc.cleanup();
      assert.doesNotMatch(await tables(), /weft_mcast/);
      assert.match(await tables(), /table ip someone_else/);
    } finally {
      await router.run('nft', 'delete', 'table', 'ip', 'someone_else');
    }
  });
});
