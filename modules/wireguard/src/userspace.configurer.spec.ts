import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@weft/core';
import { DeviceConflictError, DeviceNotFoundError, WireGuardUnavailableError } from './errors.js';
import { generateKeyPair, generatePrivateKey, keyBytes, publicKeyOf } from './keys.js';
import { FakeLinks } from './testing/fake-links.js';
import { FakeUapiServer } from './testing/fake-uapi-server.js';
import { FakeWireGuardGoRunner } from './testing/fake-wireguard-go.js';
import { UapiClient } from './uapi/uapi.client.js';
import { UserspaceConfigurer, type UserspaceEvent } from './userspace.configurer.js';
import type { WgPeerConfig } from './wireguard.types.js';

const hex = (key: string): string => keyBytes(key).toString('hex');

void describe('UserspaceConfigurer (fake wireguard-go)', () => {
  let dir: string;
  let links: FakeLinks;
  let runner: FakeWireGuardGoRunner;
  let events: UserspaceEvent[];
  let configurer: UserspaceConfigurer;
  const device = { privateKey: generatePrivateKey(), listenPort: 51820 };

  const make = (): UserspaceConfigurer =>
    new UserspaceConfigurer({
      processes: runner,
      links,
      uapi: new UapiClient({ socketDir: dir, timeoutMs: 1000 }),
      onEvent: (e) => events.push(e),
      restartBackoff: { initialMs: 10, maxMs: 40 },
      startTimeoutMs: 1000,
      stopTimeoutMs: 100,
    });
  const waitEvent = async (type: UserspaceEvent['type'], count = 1): Promise<void> => {
    for (let i = 0; i < 300 && events.filter((e) => e.type === type).length < count; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.ok(
      events.filter((e) => e.type === type).length >= count,
      `no ${count}× ${type} in ${JSON.stringify(events.map((e) => e.type))}`,
    );
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-wgus-'));
    links = new FakeLinks();
    runner = new FakeWireGuardGoRunner(dir, links);
    events = [];
    configurer = make();
  });
  afterEach(async () => {
    for (const p of runner.processes) await p.exit({ code: 0, signal: null });
    await configurer.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('starts `wireguard-go -f <name>`, configures it over UAPI, sets MTU and up', async () => {
    await configurer.ensureDevice('wg0', device, 1380);
    assert.equal(runner.processes.length, 1);
    const [p] = runner.processes;
    assert.deepEqual(p?.args, ['-f', 'wg0']);
    assert.equal(p?.file, 'wireguard-go');
    assert.equal(p?.env?.WG_PROCESS_FOREGROUND, '1');
    assert.equal(p?.server?.privateKeyHex, hex(device.privateKey));
    assert.equal(p?.server?.listenPort, 51820);
    assert.deepEqual(links.calls, ['mtu wg0 1380', 'up wg0']);
    assert.deepEqual(events, [{ type: 'started', device: 'wg0', pid: p?.pid }]);
    assert.equal(configurer.pidOf('wg0'), p?.pid);

    const read = await configurer.readDevice('wg0');
    assert.deepEqual(read, {
      name: 'wg0',
      publicKey: publicKeyOf(device.privateKey),
      listenPort: 51820,
      peers: [],
    });
  });

  void it('never re-creates an existing device, and sends only what differs', async () => {
    await configurer.ensureDevice('wg0', device, 1420);
    const server = runner.running('wg0')?.server;
    const before = server?.requests.length ?? 0;
    await configurer.ensureDevice('wg0', device, 1420);
    assert.equal(runner.processes.length, 1);
    assert.deepEqual(server?.requests.slice(before), ['get=1\n\n', 'get=1\n\n'], 'only reads');
    await configurer.ensureDevice('wg0', { ...device, listenPort: 51821 }, 1420);
    assert.equal(server?.requests.at(-1), 'set=1\nlisten_port=51821\n\n');
  });

  void it('refuses bad names before anything runs, including option-like ones', async () => {
    for (const name of ['-f', '--help', '', 'a'.repeat(16), 'wg/0', 'wg 0']) {
      await assert.rejects(configurer.ensureDevice(name, device, 1420), InvalidArgumentError, name);
    }
    await assert.rejects(configurer.ensureDevice('wg0', { privateKey: 'x' }, 1420), InvalidArgumentError);
    await assert.rejects(configurer.ensureDevice('wg0', device, 100), InvalidArgumentError);
    assert.equal(runner.processes.length, 0);
  });

  void it('refuses a name taken by another interface', async () => {
    links.add('eth9', 'veth');
    await assert.rejects(configurer.ensureDevice('eth9', device, 1420), DeviceConflictError);
  });

  void it('reports a wireguard-go that exits at start, with its output', async () => {
    runner.failNextStarts = 1;
    await assert.rejects(
      configurer.ensureDevice('wg0', device, 1420),
      (err: Error) =>
        err instanceof WireGuardUnavailableError &&
        /exited \(code 1\).*Failed to create TUN/.test(err.message),
    );
    assert.deepEqual(events, [], 'no restart for a device that never started');
  });

  void it('syncs peers as a diff: one message touching only the changed peer', async () => {
    await configurer.ensureDevice('wg0', device, 1420);
    const peers: WgPeerConfig[] = Array.from({ length: 5 }, (_, i) => ({
      publicKey: generateKeyPair().publicKey,
      endpoint: `192.0.2.${i + 1}:51820`,
      allowedIps: [`10.${i}.0.0/16`],
    }));
    assert.deepEqual(await configurer.syncPeers('wg0', peers), {
      added: peers.map((p) => p.publicKey),
      updated: [],
      removed: [],
    });
    const server = runner.running('wg0')?.server;
    const count = server?.requests.length ?? 0;
    assert.deepEqual(await configurer.syncPeers('wg0', peers), { added: [], updated: [], removed: [] });
    assert.deepEqual(server?.requests.slice(count), ['get=1\n\n'], 'nothing changed: nothing sent');

    const changed = peers.map((p, i) =>
      i === 2 ? { ...p, allowedIps: ['10.2.0.0/16', '10.22.0.0/16'] } : p,
    );
    const target = peers[2]?.publicKey ?? '';
    const diff = await configurer.syncPeers('wg0', changed.slice(0, 4));
    assert.deepEqual(diff, { added: [], updated: [target], removed: [peers[4]?.publicKey] });
    assert.equal(
      server?.requests.at(-1),
      `set=1\npublic_key=${hex(peers[4]?.publicKey ?? '')}\nremove=true\n` +
        `public_key=${hex(target)}\nupdate_only=true\nreplace_allowed_ips=true\nallowed_ip=10.2.0.0/16\nallowed_ip=10.22.0.0/16\n\n`,
    );
    assert.equal((await configurer.readDevice('wg0'))?.peers.length, 4);
  });

  void it('forgetSourceAddresses re-sets the endpoint of each peer that has one, and only those', async () => {
    await configurer.ensureDevice('wg0', device, 1420);
    const roaming = generateKeyPair().publicKey;
    const silent = generateKeyPair().publicKey;
    await configurer.syncPeers('wg0', [
      { publicKey: roaming, endpoint: '192.0.2.7:51820', allowedIps: ['10.7.0.0/16'] },
      { publicKey: silent, allowedIps: ['10.8.0.0/16'] },
    ]);
    assert.deepEqual(await configurer.forgetSourceAddresses('wg0'), [roaming]);
    assert.equal(
      runner.running('wg0')?.server?.requests.at(-1),
      `set=1\npublic_key=${hex(roaming)}\nupdate_only=true\nendpoint=192.0.2.7:51820\n\n`,
    );
    await assert.rejects(configurer.forgetSourceAddresses('wg9'), DeviceNotFoundError);
  });

  void it('syncPeers on a missing device fails with DeviceNotFoundError', async () => {
    await assert.rejects(configurer.syncPeers('wg9', []), DeviceNotFoundError);
    assert.equal(await configurer.readDevice('wg9'), undefined);
  });

  void it('restarts a crashed wireguard-go with backoff and re-applies device and peers', async () => {
    await configurer.ensureDevice('wg0', device, 1380);
    const peer = { publicKey: generateKeyPair().publicKey, allowedIps: ['10.0.0.0/8'] };
    await configurer.syncPeers('wg0', [peer]);
    const first = runner.running('wg0')?.pid;
    runner.failNextStarts = 2;
    await runner.crash('wg0');
    await waitEvent('restarted');
    const exits = events.filter((e) => e.type === 'exited');
    assert.deepEqual(
      exits.map((e) => (e.type === 'exited' ? e.restartInMs : 0)),
      [10, 20, 40],
      'delays double per failure',
    );
    assert.equal(exits[0]?.type === 'exited' && exits[0].pid, first);
    assert.ok(events.some((e) => e.type === 'restart-failed'));
    const now = runner.running('wg0');
    assert.notEqual(now?.pid, first);
    assert.equal(configurer.pidOf('wg0'), now?.pid);
    const read = await configurer.readDevice('wg0');
    assert.equal(read?.listenPort, 51820);
    assert.deepEqual(
      read?.peers.map((p) => p.publicKey),
      [peer.publicKey],
    );
    assert.equal(links.links.get('wg0')?.mtu, 1380);
    assert.equal(links.links.get('wg0')?.up, true);
  });

  void it('adopts devices whose socket answers at start, without starting a process', async () => {
    const foreign = await FakeUapiServer.listen(join(dir, 'wg5.sock'));
    links.add('wg5', 'tun');
    try {
      assert.deepEqual(await configurer.listDevices(), ['wg5']);
      assert.deepEqual(events, [{ type: 'adopted', device: 'wg5' }]);
      await configurer.ensureDevice('wg5', device, 1420);
      assert.equal(runner.processes.length, 0, 'no duplicate wireguard-go');
      assert.equal(foreign.privateKeyHex, hex(device.privateKey));
      assert.deepEqual(configurer.adoptedDevices(), ['wg5']);
      // Removing an adopted device deletes its link, which makes wireguard-go exit.
      const removing = configurer.removeDevice('wg5');
      await waitFor(() => !links.links.has('wg5'));
      await foreign.close();
      await removing;
    } finally {
      await foreign.close().catch(() => undefined);
    }
  });

  void it('removeDevice: SIGTERM, SIGKILL when ignored, interface and socket file gone', async () => {
    await configurer.ensureDevice('wg0', device, 1420);
    const p = runner.running('wg0');
    runner.ignoreSigterm = true;
    await configurer.removeDevice('wg0');
    assert.deepEqual(p?.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(links.links.has('wg0'), false);
    await assert.rejects(stat(join(dir, 'wg0.sock')), { code: 'ENOENT' });
    assert.deepEqual(await configurer.listDevices(), []);
    assert.ok(!events.some((e) => e.type === 'exited'), 'an asked-for stop is no crash');
    await configurer.removeDevice('wg0'); // idempotent
  });

  void it('close() stops supervising and leaves processes running; a new configurer adopts them', async () => {
    await configurer.ensureDevice('wg0', device, 1420);
    await configurer.close();
    await assert.rejects(configurer.readDevice('wg0'), WireGuardUnavailableError);
    await runner.crash('wg0');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(runner.processes.length, 1, 'no restart after close');

    await runner.spawn('wireguard-go', ['-f', 'wg1']);
    const next = make();
    try {
      assert.deepEqual(await next.listDevices(), ['wg1']);
      assert.deepEqual(next.adoptedDevices(), ['wg1']);
    } finally {
      await next.close();
    }
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition());
}
