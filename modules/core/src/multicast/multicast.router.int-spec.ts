// MulticastRouter against the real smcrouted and kernel: a sender — router — two receivers, each in a
// namespace of its own; every delivery is counted by an nftables counter in the receiver's namespace.
import { after, afterEach, before, beforeEach, describe, it as nodeIt } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeProcessRunner, type ProcessHandle } from '../system/process.adapter.js';
import { assertInsideThrowawayNetns } from '../testing/kernel-helpers.js';
import type { HeldNetns } from '../testing/netns-lab.js';
import { linkNetns, waitUntil } from '../testing/netns-lab.js';
import { createMulticastLab, G1, G2, type Deliveries, type MulticastLab } from './multicast.lab.js';
import { MulticastRouter, type MulticastRouterEvent } from './multicast.router.js';
import type { MulticastDesired } from './multicast.types.js';

assertInsideThrowawayNetns();

const processes = new NodeProcessRunner();
// smcrouted needs the kernel's multicast routing; without it (no CONFIG_IP_MROUTE, /proc/net/ip_mr_vif
// missing) Weft forwards with nftables instead, which nft-dup.forwarder.int-spec.ts drives here.
const noMroute = existsSync('/proc/net/ip_mr_vif')
  ? false
  : 'this kernel has no multicast routing (CONFIG_IP_MROUTE): smcrouted cannot run; the nftables forwarder is tested instead';

/** Each test, skipped with the reason where smcrouted cannot run (so the summary counts them as skipped). */
const it = (name: string, fn: () => Promise<void>): void => {
  void nodeIt(name, { skip: noMroute }, fn);
};

void describe('MulticastRouter (smcrouted, kernel)', () => {
  let lab: MulticastLab;
  let router: HeldNetns;
  let recvB: HeldNetns;
  let atA: () => Promise<Deliveries>;
  let atB: () => Promise<Deliveries>;
  let dir: string;
  let mc: MulticastRouter;
  let events: MulticastRouterEvent[];
  const extra: ProcessHandle[] = [];

  const send: MulticastLab['send'] = (...args) => lab.send(...args);
  const make = (): MulticastRouter =>
    new MulticastRouter({
      processes,
      runtimeDir: dir,
      launcher: router.launcher,
      onEvent: (e) => events.push(e),
      restartBackoff: { initialMs: 100, maxMs: 1000 },
      adoptedCheckMs: 200,
    });
  const both = (group: string): MulticastDesired => ({
    routes: [{ group, inbound: 'rs', outbound: ['r1', 'r2'] }],
  });

  before(async () => {
    if (noMroute) return;
    lab = await createMulticastLab('mc', processes);
    ({ router, recvB, atA, atB } = lab);
  });

  after(async () => {
    for (const h of extra) h.kill('SIGKILL');
    await lab?.destroy();
  });

  beforeEach(() => {
    if (noMroute) return;
    dir = mkdtempSync(join(tmpdir(), 'weft-mc-'));
    events = [];
    mc = make();
  });

  afterEach(async () => {
    if (noMroute) return;
    await mc.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('forwards a group to both receivers, counts it, and reports no drift', async () => {
    const a0 = await atA();
    const b0 = await atB();
    const result = await mc.apply(both(G1));
    assert.deepEqual(result.waiting, []);
    assert.ok(events.some((e) => e.type === 'started'));
    await send(G1, 5);
    await waitUntil(async () => (await atB())[G1] === (b0[G1] ?? 0) + 5, 'B to receive 5');
    assert.equal((await atA())[G1], (a0[G1] ?? 0) + 5);
    const [counters] = await mc.counters(both(G1));
    assert.equal(counters?.packets, 5);
    assert.equal(counters?.flows[0]?.source, '10.0.0.2');
    assert.deepEqual(counters?.flows[0]?.outbound.sort(), ['r1', 'r2']);
    assert.deepEqual(await mc.drift(both(G1)), []);
    assert.deepEqual(await mc.drift(both(G2)), [
      'route needs: remove rs 239.1.1.1',
      'route needs: add rs 239.2.2.2 r1 r2',
    ]);
  });

  it('adds and removes groups and outbound interfaces at run time without losing a packet of another group', async () => {
    await mc.apply({ routes: [{ group: G2, inbound: 'rs', outbound: ['r1'] }] });
    const a0 = await atA();
    const b0 = await atB();
    const pid = mc.pid;
    const stream = send(G2, 600, 0.003); // ≈ 2 s
    await mc.apply({
      routes: [
        { group: G2, inbound: 'rs', outbound: ['r1'] },
        { group: G1, inbound: 'rs', outbound: ['r1', 'r2'] },
      ],
    });
    await mc.apply({
      routes: [
        { group: G2, inbound: 'rs', outbound: ['r1'] },
        { group: G1, inbound: 'rs', outbound: ['r1'] },
      ],
    });
    await mc.apply({ routes: [{ group: G2, inbound: 'rs', outbound: ['r1'] }] });
    await stream;
    await waitUntil(async () => (await atA())[G2] === (a0[G2] ?? 0) + 600, 'A to receive all 600');
    assert.equal(mc.pid, pid, 'the same smcrouted throughout');
    // Only r1 for G1 now: A receives, B does not.
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

  it('keeps forwarding to the interfaces present and installs a missing one when it appears', async () => {
    const desired: MulticastDesired = {
      routes: [{ group: G1, inbound: 'rs', outbound: ['r1', 'r3'] }],
    };
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
        'interface r3 has no multicast VIF',
        'route needs: remove rs 239.1.1.1',
        'route needs: add rs 239.1.1.1 r1 r3',
      ]);
      assert.deepEqual((await mc.apply(desired)).waiting, []);
      assert.deepEqual(await mc.drift(desired), []);
      assert.ok((await mc.observe()).vifs.includes('r3'));
    } finally {
      await router.run('ip', 'link', 'del', 'r3');
    }
  });

  it('re-resolves an interface deleted and created again (a restarted tunnel) on the next apply', async () => {
    await mc.apply(both(G1));
    await router.run('ip', 'link', 'del', 'r2');
    await linkNetns(
      { ns: router, name: 'r2', address: '10.0.2.1/24' },
      { ns: recvB, name: 'eth1', address: '10.0.2.3/24' },
    );
    assert.ok((await mc.drift(both(G1))).includes('interface r2 has no multicast VIF'));
    await mc.apply(both(G1));
    assert.deepEqual(await mc.drift(both(G1)), []);
    const b0 = await atB();
    await send(G1, 3);
    await waitUntil(async () => (await atB())[G1] === (b0[G1] ?? 0) + 3, 'B to receive on the new r2');
  });

  it('restarts a killed smcrouted with its routes', async () => {
    await mc.apply(both(G1));
    const pid = mc.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => events.some((e) => e.type === 'restarted'), 'a restart', 5000);
    assert.ok(events.some((e) => e.type === 'exited' && e.signal === 'SIGKILL'));
    assert.notEqual(mc.pid, pid);
    assert.deepEqual(await mc.drift(both(G1)), []);
    const a0 = await atA();
    await send(G1, 3);
    await waitUntil(async () => (await atA())[G1] === (a0[G1] ?? 0) + 3, 'A to receive after the restart');
  });

  it('adopts an smcrouted of ours left by an earlier run, and ends one that no longer answers', async () => {
    // What a kill -9 of the appliance leaves: smcrouted running with the earlier run's conf.
    await mc.apply(both(G1));
    const conf = mc.confPath;
    await mc.stop();
    const leftover = await processes.spawn(
      'nsenter',
      [
        ...router.launcher.slice(1),
        'smcrouted',
        '-n',
        '-N',
        '-f',
        conf,
        '-u',
        mc.socketPath,
        '-P',
        mc.pidPath,
      ],
      { output: { kind: 'ignore' } },
    );
    extra.push(leftover);
    await waitUntil(() => pidFileIs(leftover.pid), 'leftover up');
    const next = make();
    await next.apply(both(G1));
    assert.equal(next.pid, leftover.pid, 'adopted, not a second smcrouted');
    assert.ok(events.some((e) => e.type === 'adopted' && e.pid === leftover.pid));
    assert.deepEqual(await next.drift(both(G1)), []);
    const a0 = await atA();
    await send(G1, 3);
    await waitUntil(async () => (await atA())[G1] === (a0[G1] ?? 0) + 3, 'A to receive via the adopted one');
    await next.stop();
    await leftover.exited;

    // One that does not answer (stopped) is ended by its PID and replaced.
    const frozen = await processes.spawn(
      'nsenter',
      [
        ...router.launcher.slice(1),
        'smcrouted',
        '-n',
        '-N',
        '-f',
        conf,
        '-u',
        mc.socketPath,
        '-P',
        mc.pidPath,
      ],
      { output: { kind: 'ignore' } },
    );
    extra.push(frozen);
    await waitUntil(() => pidFileIs(frozen.pid), 'frozen up');
    frozen.kill('SIGSTOP');
    const third = make();
    await third.apply(both(G1));
    await frozen.exited;
    assert.ok(events.some((e) => e.type === 'stale-ended' && e.pid === frozen.pid));
    assert.notEqual(third.pid, frozen.pid);
    assert.deepEqual(await third.drift(both(G1)), []);
    await third.stop();
  });

  it('stops smcrouted when no route is left, and cleanup leaves no VIF', async () => {
    await mc.apply(both(G1));
    const pid = mc.pid;
    await mc.apply({ routes: [] });
    assert.equal(mc.pid, undefined);
    assert.ok(events.some((e) => e.type === 'stopped' && e.pid === pid));
    assert.deepEqual((await mc.observe()).vifs, []);
    await mc.apply(both(G2));
    await mc.cleanup();
    assert.deepEqual((await mc.observe()).vifs, []);
  });

  async function pidFileIs(pid: number): Promise<boolean> {
    const { readFile } = await import('node:fs/promises');
    return (await readFile(mc.pidPath, 'utf8').catch(() => '')).trim() === String(pid);
  }
});
