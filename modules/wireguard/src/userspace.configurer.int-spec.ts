// UserspaceConfigurer against the real wireguard-go, inside the namespace tools/test.mjs creates. Device A
// runs in that namespace, device B in a named namespace of its own (one namespace cannot route to its own
// addresses through a tunnel), joined by a veth underlay:
//
//   [test netns]  wgt…a 10.77.0.1 ── udp 192.168.77.1:51001 ══ veth ══ 192.168.77.2:51002 ── wgt…b 10.77.0.2  [weft-wgt-…]
//
// /var/run/wireguard is shared by every namespace, so names are unique per run and everything we start is
// stopped by PID in after().
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertInsideThrowawayNetns, ip } from '@weft/core/testing';
import { generateKeyPair, type WgKeyPair } from './keys.js';
import { IpLinkAdapter } from './link.adapter.js';
import { NodeProcessRunner, type ProcessHandle, type ProcessRunner, type SpawnOptions } from '@weft/core';
import { NetnsProcessRunner } from './testing/netns-runner.js';
import { UapiClient, WIREGUARD_GO_SOCKET_DIR } from './uapi/uapi.client.js';
import { UnixSocketTransport, type UapiTransport } from './uapi/uapi.transport.js';
import { UserspaceConfigurer, type UserspaceEvent } from './userspace.configurer.js';
import type { WgPeerConfig, WgPeerState } from './wireguard.types.js';

const execFileAsync = promisify(execFile);

assertInsideThrowawayNetns();

const run = randomBytes(2).toString('hex');
const NS_B = `weft-wgt-${run}-b`;
const WG_A = `wgt${run}a`;
const WG_B = `wgt${run}b`;
const VETH_A = `wgtv${run}a`;
const VETH_B = `wgtv${run}b`;

/** Records every PID it starts, so after() can make sure none survives. */
class RecordingRunner implements ProcessRunner {
  readonly pids: number[] = [];
  constructor(private readonly inner: ProcessRunner) {}
  async spawn(file: string, args: readonly string[], options?: SpawnOptions): Promise<ProcessHandle> {
    const handle = await this.inner.spawn(file, args, options);
    this.pids.push(handle.pid);
    return handle;
  }
  run(file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    return this.inner.run(file, args);
  }
  findExecutable(name: string): Promise<string | undefined> {
    return this.inner.findExecutable(name);
  }
}

/** Records every UAPI request sent to device A. */
class RecordingTransport implements UapiTransport {
  readonly sent: Array<{ path: string; message: string }> = [];
  private readonly inner = new UnixSocketTransport();
  exchange(path: string, message: string, options: { signal: AbortSignal; device: string }): Promise<string> {
    this.sent.push({ path, message });
    return this.inner.exchange(path, message, options);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function ping(from: string, to: string): Promise<boolean> {
  try {
    await execFileAsync('ping', ['-c', '1', '-W', '1', '-I', from, to]);
    return true;
  } catch {
    return false;
  }
}

void describe('UserspaceConfigurer with wireguard-go (integration)', () => {
  const nodeRunner = new NodeProcessRunner();
  const runnerA = new RecordingRunner(nodeRunner);
  const runnerB = new RecordingRunner(new NetnsProcessRunner(nodeRunner, NS_B));
  const transport = new RecordingTransport();
  const eventsA: UserspaceEvent[] = [];
  let a: UserspaceConfigurer;
  let b: UserspaceConfigurer;
  let keyA: WgKeyPair;
  let keyB: WgKeyPair;
  const peerOfA = (): WgPeerConfig => ({
    publicKey: keyB.publicKey,
    endpoint: '192.168.77.2:51002',
    allowedIps: ['10.77.0.2/32'],
  });

  before(async () => {
    await ip('link', 'set', 'lo', 'up');
    await ip('netns', 'add', NS_B);
    await ip('-n', NS_B, 'link', 'set', 'lo', 'up');
    await ip('link', 'add', VETH_A, 'type', 'veth', 'peer', 'name', VETH_B);
    await ip('link', 'set', VETH_B, 'netns', NS_B);
    await ip('address', 'add', '192.168.77.1/24', 'dev', VETH_A);
    await ip('-n', NS_B, 'address', 'add', '192.168.77.2/24', 'dev', VETH_B);
    await ip('link', 'set', VETH_A, 'up');
    await ip('-n', NS_B, 'link', 'set', VETH_B, 'up');

    a = new UserspaceConfigurer({
      processes: runnerA,
      uapi: new UapiClient({ transport }),
      onEvent: (e) => eventsA.push(e),
    });
    b = new UserspaceConfigurer({ processes: runnerB, links: new IpLinkAdapter(runnerB) });
    keyA = generateKeyPair();
    keyB = generateKeyPair();
    await a.ensureDevice(WG_A, { privateKey: keyA.privateKey, listenPort: 51001 }, 1420);
    await b.ensureDevice(WG_B, { privateKey: keyB.privateKey, listenPort: 51002 }, 1420);
    await ip('address', 'add', '10.77.0.1/24', 'dev', WG_A);
    await ip('-n', NS_B, 'address', 'add', '10.77.0.2/24', 'dev', WG_B);
    await a.syncPeers(WG_A, [peerOfA()]);
    await b.syncPeers(WG_B, [
      { publicKey: keyA.publicKey, endpoint: '192.168.77.1:51001', allowedIps: ['10.77.0.1/32'] },
    ]);
  });

  after(async () => {
    for (const [configurer, name] of [
      [a, WG_A],
      [b, WG_B],
    ] as const) {
      await configurer?.removeDevice(name).catch(() => undefined);
      await configurer?.close();
    }
    for (const pid of [...runnerA.pids, ...runnerB.pids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    for (const name of [WG_A, WG_B]) await rm(join(WIREGUARD_GO_SOCKET_DIR, `${name}.sock`), { force: true });
    await ip('link', 'del', VETH_A).catch(() => undefined);
    await ip('netns', 'del', NS_B).catch(() => undefined);
  });

  void it('runs wireguard-go -f per device, MTU and up set, and completes a handshake', async () => {
    const link = JSON.parse(await ip('-json', 'link', 'show', 'dev', WG_A)) as Array<{
      mtu: number;
      flags: string[];
    }>;
    assert.equal(link[0]?.mtu, 1420);
    assert.ok(link[0]?.flags.includes('UP'));
    const names = await a.listDevices();
    assert.ok(names.includes(WG_A) && names.includes(WG_B), names.join(','));

    await until('a ping through the tunnel', () => ping('10.77.0.1', '10.77.0.2'));
    const device = await a.readDevice(WG_A);
    assert.equal(device?.publicKey, keyA.publicKey);
    assert.equal(device?.listenPort, 51001);
    const peer = device?.peers[0];
    assert.equal(peer?.publicKey, keyB.publicKey);
    assert.ok(peer?.lastHandshake instanceof Date, 'handshake time set');
    assert.ok(Number(peer?.rxBytes) > 0 && Number(peer?.txBytes) > 0, 'bytes counted both ways');
    assert.equal(peer?.hasPresharedKey, false);
  });

  void it('syncs 100 peers, then changes one: one peer in the message, the other 99 untouched', async () => {
    const others: WgPeerConfig[] = Array.from({ length: 99 }, (_, i) => ({
      publicKey: generateKeyPair().publicKey,
      endpoint: `192.168.77.${100 + (i % 100)}:${20000 + i}`,
      allowedIps: [`10.78.${i}.0/24`],
    }));
    const all = [peerOfA(), ...others];
    const first = await a.syncPeers(WG_A, all);
    assert.equal(first.added.length, 99);
    assert.deepEqual(first.updated, [], 'the live peer B is not touched');

    await until('traffic with B', () => ping('10.77.0.1', '10.77.0.2'));
    const before = await a.readDevice(WG_A);
    assert.equal(before?.peers.length, 100);

    const target = others[42]?.publicKey ?? '';
    const sentBefore = transport.sent.length;
    const changed = all.map((p) =>
      p.publicKey === target ? { ...p, allowedIps: ['10.78.42.0/24', '10.79.0.0/16'] } : p,
    );
    assert.deepEqual(await a.syncPeers(WG_A, changed), { added: [], updated: [target], removed: [] });

    const sets = transport.sent.slice(sentBefore).filter((s) => s.message.startsWith('set=1'));
    assert.equal(sets.length, 1);
    assert.equal(
      sets[0]?.message,
      `set=1\npublic_key=${Buffer.from(target, 'base64').toString('hex')}\nupdate_only=true\n` +
        'replace_allowed_ips=true\nallowed_ip=10.78.42.0/24\nallowed_ip=10.79.0.0/16\n\n',
    );

    const afterRead = await a.readDevice(WG_A);
    const byKey = (peers: WgPeerState[] | undefined): Map<string, WgPeerState> =>
      new Map((peers ?? []).map((p) => [p.publicKey, p]));
    const was = byKey(before?.peers);
    const now = byKey(afterRead?.peers);
    for (const [key, p] of was) {
      const q = now.get(key);
      assert.ok(q, 'peer still there');
      if (key === target) {
        assert.deepEqual(q.allowedIps, ['10.78.42.0/24', '10.79.0.0/16']);
        continue;
      }
      assert.equal(q.endpoint, p.endpoint);
      assert.deepEqual(q.allowedIps, p.allowedIps);
      assert.equal(q.persistentKeepalive, p.persistentKeepalive);
      assert.deepEqual(q.lastHandshake, p.lastHandshake, 'handshake state survives');
      assert.ok(BigInt(q.rxBytes) >= BigInt(p.rxBytes));
    }
    assert.ok(now.get(keyB.publicKey)?.lastHandshake instanceof Date);
  });

  void it('a second configurer adopts running devices instead of starting duplicates', async () => {
    const c = new UserspaceConfigurer({ processes: runnerB, links: new IpLinkAdapter(runnerB) });
    const spawned = runnerB.pids.length;
    try {
      await c.ensureDevice(WG_B, { privateKey: keyB.privateKey, listenPort: 51002 }, 1420);
      assert.ok(c.adoptedDevices().includes(WG_B));
      assert.equal(runnerB.pids.length, spawned, 'no second wireguard-go');
      assert.equal(c.pidOf(WG_B), undefined);
    } finally {
      await c.close();
    }
  });

  void it('restarts a killed wireguard-go and configures it again', async () => {
    const pid = a.pidOf(WG_A);
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGKILL');
    await until(
      'the restart event',
      () => Promise.resolve(eventsA.some((e) => e.type === 'restarted')),
      10_000,
    );
    const exited = eventsA.find((e) => e.type === 'exited');
    assert.ok(
      exited?.type === 'exited' &&
        exited.pid === pid &&
        exited.signal === 'SIGKILL' &&
        exited.restartInMs === 1000,
    );
    const newPid = a.pidOf(WG_A);
    assert.ok(newPid !== undefined && newPid !== pid && alive(newPid));
    const device = await a.readDevice(WG_A);
    assert.equal(device?.listenPort, 51001);
    assert.equal(device?.publicKey, keyA.publicKey);
    assert.equal(device?.peers.length, 100);
    // The TUN device is new: its address is the owner's to re-add (the 'restarted' event says so).
    await ip('address', 'add', '10.77.0.1/24', 'dev', WG_A);
    await until('a ping through the restarted tunnel', () => ping('10.77.0.1', '10.77.0.2'));
  });

  void it('removeDevice stops the process by PID and the interface and socket vanish', async () => {
    const pid = a.pidOf(WG_A);
    assert.ok(pid !== undefined);
    await a.removeDevice(WG_A);
    assert.equal(alive(pid), false);
    await assert.rejects(ip('link', 'show', 'dev', WG_A));
    await assert.rejects(stat(join(WIREGUARD_GO_SOCKET_DIR, `${WG_A}.sock`)), { code: 'ENOENT' });
    assert.equal(await a.readDevice(WG_A), undefined);
    assert.ok(!(await a.listDevices()).includes(WG_A));
  });

  void it('removing an adopted device deletes its link, and its wireguard-go exits', async () => {
    const pid = b.pidOf(WG_B);
    assert.ok(pid !== undefined);
    await b.close(); // as if the appliance had restarted: nobody supervises WG_B now
    const c = new UserspaceConfigurer({ processes: runnerB, links: new IpLinkAdapter(runnerB) });
    try {
      assert.ok((await c.listDevices()).includes(WG_B));
      assert.ok(c.adoptedDevices().includes(WG_B));
      await c.removeDevice(WG_B);
      await until('the adopted wireguard-go to exit', () => Promise.resolve(!alive(pid)));
      await assert.rejects(ip('-n', NS_B, 'link', 'show', 'dev', WG_B));
      await assert.rejects(stat(join(WIREGUARD_GO_SOCKET_DIR, `${WG_B}.sock`)), { code: 'ENOENT' });
    } finally {
      await c.close();
    }
  });
});
