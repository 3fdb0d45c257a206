import assert from 'node:assert/strict';
import { EventEmitter, on } from 'node:events';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  normalize,
  type Link,
  type NormalizedDocument,
  type WireGuardLink,
} from '../desired-state/document.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
import { weftBundle, wgQuick } from './wireguard.peer-config.js';
import {
  WireGuardDriver,
  type WgDevice,
  type WgDeviceConfig,
  type WgPeerConfig,
  type WgPeerState,
  type WireGuardPort,
} from './wireguard.driver.js';

const KEY_B = 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=';
const KEY_C = 'cLfR0KmN7f0ZQ8sC8bUXpk4h6cWZ2ZQmT2GqF2xk6k0=';

const MemoryState = MemoryModuleState;

class FakeWg implements WireGuardPort {
  readonly kind = 'userspace' as const;
  readonly reason = 'test';
  devices = new Map<string, WgDevice & { mtu: number }>();
  calls: string[] = [];
  ensureDevice(name: string, device: WgDeviceConfig, mtu: number): Promise<void> {
    this.calls.push(`ensure ${name}`);
    const old = this.devices.get(name);
    this.devices.set(name, {
      name,
      publicKey: `pub(${device.privateKey})`,
      listenPort: device.listenPort ?? 0,
      peers: old?.peers ?? [],
      mtu,
    });
    return Promise.resolve();
  }
  syncPeers(name: string, desired: WgPeerConfig[]): Promise<void> {
    this.calls.push(`peers ${name} ${desired.map((p) => p.publicKey.slice(0, 4)).join(',')}`);
    const dev = this.devices.get(name);
    if (!dev) return Promise.reject(new Error(`no device ${name}`));
    dev.peers = desired.map((p) => ({
      publicKey: p.publicKey,
      ...(p.endpoint ? { endpoint: p.endpoint } : {}),
      allowedIps: p.allowedIps,
      persistentKeepalive: p.persistentKeepalive ?? 0,
      lastHandshake: null,
      rxBytes: 0,
      txBytes: 0,
      hasPresharedKey: p.presharedKey !== undefined,
    }));
    return Promise.resolve();
  }
  readDevice(name: string): Promise<WgDevice | undefined> {
    return Promise.resolve(this.devices.get(name));
  }
  forgetSourceAddresses(name: string): Promise<string[]> {
    this.calls.push(`forget sources ${name}`);
    return Promise.resolve([]);
  }
  removeDevice(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.devices.delete(name);
    return Promise.resolve();
  }
  peersDiffer(desired: WgPeerConfig[], observed: WgPeerState[]): boolean {
    const norm = (ps: { publicKey: string; endpoint?: string; allowedIps: string[] }[]) =>
      JSON.stringify(ps.map((p) => [p.publicKey, p.endpoint ?? null, p.allowedIps]).sort());
    return norm(desired) !== norm(observed);
  }
  generatePrivateKey(): string {
    return 'PRIV';
  }
  publicKeyOf(k: string): string {
    return `pub(${k})`;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function wg(name: string, key: string, remote: string, extra: Partial<WireGuardLink> = {}): Link {
  return {
    name,
    type: 'wireguard',
    remote_endpoint: '203.0.113.11:51820',
    remote_subnets: [remote],
    wireguard: { peer_public_key: key },
    ...extra,
  };
}

function doc(links: Link[]): NormalizedDocument {
  return normalize({
    appliance: { name: 'site-a', public_endpoint: '203.0.113.10', local_subnets: ['10.1.0.0/24'] },
    links,
  });
}

describe('WireGuardDriver', () => {
  let fake: FakeWg;
  let state: MemoryModuleState;
  let driver: WireGuardDriver;
  let addresses: EventEmitter;
  const now = new Date('2026-01-01T00:00:00Z');

  beforeEach(async () => {
    fake = new FakeWg();
    state = new MemoryState();
    addresses = new EventEmitter();
    driver = new WireGuardDriver(
      fake,
      state,
      {
        resolve: () => Promise.resolve('198.51.100.7'),
        underlayMtu: () => Promise.resolve(1500),
        addressRemovals: async function* (signal) {
          for await (const [address] of on(addresses, 'removed', { signal })) yield String(address);
        },
        now: () => now,
      },
      silentLogger(),
    );
    await driver.start();
  });
  afterEach(async () => {
    await driver.stop();
  });

  it('makes every device forget its pinned source when a local address goes away', async () => {
    await driver.apply(
      await driver.plan(doc([wg('to-b', KEY_B, '10.2.0.0/24'), wg('to-c', KEY_C, '10.3.0.0/24')])),
    );
    fake.calls = [];
    addresses.emit('removed', '203.0.113.11');
    for (let i = 0; i < 50 && fake.calls.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(fake.calls, ['forget sources wg-to-b', 'forget sources wg-to-c']);
  });

  it('makes and keeps one key pair', async () => {
    assert.equal(state.get('private-key'), 'PRIV');
    assert.equal(driver.ownPublicKey, 'pub(PRIV)');
    await driver.start();
    assert.equal(driver.ownPublicKey, 'pub(PRIV)');
  });

  it('creates one device per link with a kept port and the derived MTU, then has nothing to do', async () => {
    const d = doc([
      wg('to-b', KEY_B, '10.2.0.0/24'),
      wg('to-c', KEY_C, '10.3.0.0/24', { remote_endpoint: 'c.example:51820' }),
    ]);
    await driver.apply(await driver.plan(d));
    assert.deepEqual([...fake.devices.keys()], ['wg-to-b', 'wg-to-c']);
    assert.equal(fake.devices.get('wg-to-b')?.listenPort, 51820);
    assert.equal(fake.devices.get('wg-to-c')?.listenPort, 51821);
    assert.equal(fake.devices.get('wg-to-b')?.mtu, 1440);
    assert.equal(fake.devices.get('wg-to-c')?.peers[0]?.endpoint, '198.51.100.7:51820', 'DNS name resolved');
    assert.deepEqual(await driver.plan(d), []);
    // Removing the first link keeps the second one's port.
    const only = doc([wg('to-c', KEY_C, '10.3.0.0/24', { remote_endpoint: 'c.example:51820' })]);
    fake.calls = [];
    await driver.apply(await driver.plan(only));
    assert.deepEqual(fake.calls, ['remove wg-to-b']);
    assert.equal(driver.listenPortOf('wg-to-c'), 51821);
  });

  it('shares a device between links naming one interface, changing only peers', async () => {
    const hub = (keys: [string, string, string][]) =>
      doc(keys.map(([n, k, r]) => wg(n, k, r, { wireguard: { peer_public_key: k, interface: 'wg-hub' } })));
    await driver.apply(await driver.plan(hub([['to-b', KEY_B, '10.2.0.0/24']])));
    fake.calls = [];
    await driver.apply(
      await driver.plan(
        hub([
          ['to-b', KEY_B, '10.2.0.0/24'],
          ['to-c', KEY_C, '10.3.0.0/24'],
        ]),
      ),
    );
    assert.deepEqual(fake.calls, ['peers wg-hub hSDK,cLfR'], 'no device re-creation');
  });

  it('does not undo roaming: an endpoint the peer moved to is kept until the configured one changes', async () => {
    const d = doc([wg('to-b', KEY_B, '10.2.0.0/24')]);
    await driver.apply(await driver.plan(d));
    const peer = fake.devices.get('wg-to-b')?.peers[0];
    assert.ok(peer);
    peer.endpoint = '203.0.113.99:51820'; // the peer roamed
    assert.deepEqual(await driver.plan(d), []);
    const moved = doc([wg('to-b', KEY_B, '10.2.0.0/24', { remote_endpoint: '203.0.113.50:51820' })]);
    const steps = await driver.plan(moved);
    assert.equal(steps.length, 1);
    await driver.apply(steps);
    assert.equal(fake.devices.get('wg-to-b')?.peers[0]?.endpoint, '203.0.113.50:51820');
  });

  it('verifies interface names, own key and shared-device conflicts', () => {
    const problems = driver.verify(
      doc([
        wg('a-very-long-link-name', KEY_B, '10.2.0.0/24'),
        wg('x', 'pub(PRIV)', '10.3.0.0/24'),
        wg('h1', KEY_C, '10.4.0.0/24', {
          wireguard: { peer_public_key: KEY_C, interface: 'hub', listen_port: 1 },
        }),
        wg('h2', KEY_C, '10.5.0.0/24', {
          wireguard: { peer_public_key: KEY_C, interface: 'hub', listen_port: 2 },
        }),
      ]),
    );
    assert.deepEqual(
      problems.map((p) => p.pointer),
      [
        '/links/0/wireguard/interface',
        '/links/1/wireguard/peer_public_key',
        '/links/3/wireguard/listen_port',
        '/links/3/wireguard/peer_public_key',
      ],
    );
  });

  it('reports state from the device: connecting, up, down', async () => {
    const d = doc([wg('to-b', KEY_B, '10.2.0.0/24')]);
    await driver.apply(await driver.plan(d));
    assert.equal((await driver.linkStatus(d))[0]?.state, 'connecting');
    const peer = fake.devices.get('wg-to-b')?.peers[0];
    assert.ok(peer);
    peer.lastHandshake = new Date(now.getTime() - 30_000);
    peer.rxBytes = 1000;
    assert.equal((await driver.linkStatus(d))[0]?.state, 'up');
    peer.lastHandshake = new Date(now.getTime() - 600_000);
    const down = (await driver.linkStatus(d))[0];
    assert.equal(down?.state, 'down');
    assert.equal(down?.diagnosis?.code, 'handshake-stale');
  });

  it('exports a bundle the other appliance can POST as-is, and a wg-quick file', async () => {
    const link = wg('to-b', KEY_B, '10.2.0.0/24', {
      wireguard: { peer_public_key: KEY_B, preshared_key: KEY_C },
    });
    const d = doc([link]);
    await driver.apply(await driver.plan(d));
    const input = {
      doc: d,
      link: d.links[0] as never,
      publicKey: driver.ownPublicKey,
      listenPort: driver.listenPortOf('wg-to-b'),
    };
    assert.deepEqual(weftBundle(input), {
      name: 'site-a',
      type: 'wireguard',
      description: 'WireGuard link to site-a (exported from its link "to-b")',
      remote_endpoint: '203.0.113.10:51820',
      remote_subnets: ['10.1.0.0/24'],
      local_subnets: ['10.2.0.0/24'],
      wireguard: { peer_public_key: 'pub(PRIV)', preshared_key: KEY_C, persistent_keepalive: 25 },
    });
    const text = wgQuick(input);
    assert.match(text, /\[Peer\]\n# site-a\nPublicKey = pub\(PRIV\)\nPresharedKey = /);
    assert.match(text, /Endpoint = 203\.0\.113\.10:51820\nAllowedIPs = 10\.1\.0\.0\/24/);
    assert.doesNotMatch(text, /NETMAP/);
  });

  it('NETMAP: allowed-ips name the mapped remote net; the bundle mirrors the netmap, wg-quick the wire prefixes', async () => {
    const link = wg('to-b', KEY_B, '10.1.0.0/24', {
      netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
    });
    const d = doc([link]);
    await driver.apply(await driver.plan(d));
    assert.deepEqual(
      fake.devices.get('wg-to-b')?.peers.map((p) => p.allowedIps),
      [['10.12.0.0/24']],
    );
    const input = {
      doc: d,
      link: d.links[0] as never,
      publicKey: driver.ownPublicKey,
      listenPort: driver.listenPortOf('wg-to-b'),
    };
    const bundle = weftBundle(input);
    assert.deepEqual(
      [bundle.remote_subnets, bundle.local_subnets, bundle.netmap],
      [['10.1.0.0/24'], ['10.1.0.0/24'], { local: '10.12.0.0/24', remote: '10.11.0.0/24' }],
    );
    const text = wgQuick(input);
    assert.match(text, /AllowedIPs = 10\.11\.0\.0\/24\n/);
    assert.match(text, /# NETMAP: this device must present its LAN \(10\.1\.0\.0\/24\) as 10\.12\.0\.0\/24/);
    const localOnly = doc([wg('to-b', KEY_B, '10.2.0.0/24', { netmap: { local: '10.11.0.0/24' } })]);
    const only = weftBundle({ ...input, doc: localOnly, link: localOnly.links[0] as never });
    assert.deepEqual(only.netmap, { remote: '10.11.0.0/24' });
  });
});
