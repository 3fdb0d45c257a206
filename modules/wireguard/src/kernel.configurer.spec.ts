import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AttrStream, wg } from 'netlink';
import { DeviceConflictError, DeviceNotFoundError } from './errors.js';
import { generateKeyPair, generatePresharedKey, keyBytes } from './keys.js';
import {
  KernelConfigurer,
  endpointOf,
  mergeDump,
  peerSetMessages,
  sockaddrOf,
  type WgGenlSocket,
} from './kernel.configurer.js';
import { FakeLinks } from './testing/fake-links.js';
import type { WgPeerConfig } from './wireguard.types.js';

/** A strict double of the genetlink socket: scripted GET answers, every SET recorded and encoded. */
class StrictWgSocket implements WgGenlSocket {
  readonly sets: Array<{ ifname: string; device: wg.Device }> = [];
  readonly devices = new Map<string, wg.Device[]>();
  closed = false;

  getDevice(ifname: string): Promise<wg.Device[]> {
    const parts = this.devices.get(ifname);
    return parts ? Promise.resolve(parts) : Promise.reject(new Error('Request rejected: ENODEV'));
  }

  setDevice(ifname: string, device: wg.Device): Promise<unknown> {
    assert.ok(!this.closed, 'set on a closed socket');
    // It must encode as the package would send it.
    new AttrStream().emit(wg.formatDevice({ ...device, ifname }));
    this.sets.push({ ifname, device });
    return Promise.resolve([]);
  }

  close(): void {
    this.closed = true;
  }
}

const me = generateKeyPair();
const peerA = generateKeyPair().publicKey;
const peerB = generateKeyPair().publicKey;
const psk = generatePresharedKey();

function kernelPeer(publicKey: string, extra: Partial<wg.Peer> = {}): wg.Peer {
  return {
    publicKey: keyBytes(publicKey),
    presharedKey: Buffer.alloc(32),
    endpoint: sockaddrOf('192.0.2.1:51820'),
    persistentKeepaliveInterval: 0,
    lastHandshakeTime: Buffer.alloc(16),
    rxBytes: 0n,
    txBytes: 0n,
    allowedIps: [{ family: 2, ipaddr: Buffer.from([10, 1, 0, 0]), cidrMask: 16 }],
    protocolVersion: 1,
    ...extra,
  };
}

function setup(peers: wg.Peer[] = []): {
  socket: StrictWgSocket;
  links: FakeLinks;
  configurer: KernelConfigurer;
} {
  const socket = new StrictWgSocket();
  const links = new FakeLinks();
  links.kernelWireGuard = true;
  links.add('wg0', 'wireguard', { mtu: 1420, up: true });
  socket.devices.set('wg0', [
    {
      ifname: 'wg0',
      privateKey: keyBytes(me.privateKey),
      publicKey: keyBytes(me.publicKey),
      listenPort: 51820,
      fwmark: 0,
      peers,
    },
  ]);
  return {
    socket,
    links,
    configurer: new KernelConfigurer({ links, openSocket: () => Promise.resolve(socket) }),
  };
}

const desiredA: WgPeerConfig = { publicKey: peerA, endpoint: '192.0.2.1:51820', allowedIps: ['10.1.0.0/16'] };

void describe('KernelConfigurer (strict genetlink double)', () => {
  void it('an unchanged peer produces no SET at all', async () => {
    const { socket, configurer } = setup([kernelPeer(peerA)]);
    assert.deepEqual(await configurer.syncPeers('wg0', [desiredA]), { added: [], updated: [], removed: [] });
    assert.deepEqual(socket.sets, []);
  });

  void it('an endpoint change: UPDATE_ONLY, the endpoint as sockaddr_in, no REPLACE_PEERS', async () => {
    const { socket, configurer } = setup([kernelPeer(peerA)]);
    await configurer.syncPeers('wg0', [{ ...desiredA, endpoint: '[2001:db8::7]:4500' }]);
    assert.equal(socket.sets.length, 1);
    const [set] = socket.sets;
    assert.equal(set?.device.flags, undefined, 'never WGDEVICE_F_REPLACE_PEERS');
    assert.deepEqual(set?.device.peers, [
      { publicKey: keyBytes(peerA), flags: { updateOnly: true }, endpoint: sockaddrOf('[2001:db8::7]:4500') },
    ]);
    assert.equal(endpointOf(sockaddrOf('[2001:db8::7]:4500')), '[2001:db8::7]:4500');
    const sin6 = sockaddrOf('[2001:db8::7]:4500');
    assert.equal(sin6.length, 28);
    assert.equal(sin6.readUInt16LE(0), 10);
    assert.equal(sin6.readUInt16BE(2), 4500);
  });

  void it('allowed IPs changed → REPLACE_ALLOWEDIPS for that peer only; removed → REMOVE_ME; new → REPLACE_ALLOWEDIPS', async () => {
    const { socket, configurer } = setup([kernelPeer(peerA), kernelPeer(peerB)]);
    const newPeer = generateKeyPair().publicKey;
    const diff = await configurer.syncPeers('wg0', [
      { ...desiredA, allowedIps: ['10.1.0.0/16', 'fd00::/64'] },
      { publicKey: newPeer, presharedKey: psk, allowedIps: ['10.3.0.0/16'], persistentKeepalive: 25 },
    ]);
    assert.deepEqual(diff, { added: [newPeer], updated: [peerA], removed: [peerB] });
    assert.equal(socket.sets.length, 1);
    assert.deepEqual(socket.sets[0]?.device, {
      peers: [
        { publicKey: keyBytes(peerB), flags: { removeMe: true } },
        {
          publicKey: keyBytes(peerA),
          flags: { updateOnly: true, replaceAllowedIps: true },
          allowedIps: [
            { family: 2, ipaddr: Buffer.from([10, 1, 0, 0]), cidrMask: 16 },
            { family: 10, ipaddr: Buffer.from('fd000000000000000000000000000000', 'hex'), cidrMask: 64 },
          ],
        },
        {
          publicKey: keyBytes(newPeer),
          flags: { replaceAllowedIps: true },
          presharedKey: keyBytes(psk),
          persistentKeepaliveInterval: 25,
          allowedIps: [{ family: 2, ipaddr: Buffer.from([10, 3, 0, 0]), cidrMask: 16 }],
        },
      ],
    });
  });

  void it('PSK removed → all-zero key with UPDATE_ONLY', async () => {
    const { socket, configurer } = setup([kernelPeer(peerA, { presharedKey: keyBytes(psk) })]);
    await configurer.syncPeers('wg0', [desiredA]);
    assert.deepEqual(socket.sets[0]?.device.peers, [
      { publicKey: keyBytes(peerA), flags: { updateOnly: true }, presharedKey: Buffer.alloc(32) },
    ]);
  });

  void it('splits large diffs over messages; a long allowed-IP list continues with UPDATE_ONLY', () => {
    const many = Array.from({ length: 300 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
    const messages = peerSetMessages([{ op: 'add', peer: { publicKey: peerA, allowedIps: many } }], 4096);
    assert.ok(messages.length > 1);
    const [first, ...rest] = messages;
    assert.deepEqual(first?.peers?.[0]?.flags, { replaceAllowedIps: true });
    for (const m of rest) assert.deepEqual(m.peers?.[0]?.flags, { updateOnly: true });
    const total = messages.flatMap((m) => m.peers ?? []).flatMap((p) => p.allowedIps ?? []);
    assert.equal(total.length, 300);
    for (const m of messages) {
      const size = new AttrStream();
      size.emit(wg.formatDevice({ ...m, ifname: 'wg0' }));
      assert.ok(size.bufs.reduce((n, b) => n + b.length, 0) <= 4096, 'within the budget');
    }
    const peers = Array.from({ length: 200 }, () => ({
      op: 'remove' as const,
      publicKey: generateKeyPair().publicKey,
    }));
    const removals = peerSetMessages(peers, 4096);
    assert.ok(removals.length > 1);
    assert.equal(removals.flatMap((m) => m.peers ?? []).length, 200);
  });

  void it('ensureDevice creates a missing link, sets only what differs, MTU and up', async () => {
    const { socket, links, configurer } = setup();
    await configurer.ensureDevice('wg0', { privateKey: me.privateKey, listenPort: 51820 }, 1420);
    assert.equal(socket.sets.length, 0, 'same key and port: nothing to set');
    await configurer.ensureDevice('wg0', { privateKey: me.privateKey, listenPort: 51821, fwmark: 9 }, 1400);
    assert.deepEqual(socket.sets.at(-1)?.device, { listenPort: 51821, fwmark: 9 });
    assert.deepEqual(links.calls, ['mtu wg0 1400']);

    socket.devices.set('wg1', [{ ifname: 'wg1', listenPort: 0, peers: [] }]);
    await configurer.ensureDevice('wg1', { privateKey: me.privateKey }, 1420);
    assert.deepEqual(links.calls.slice(1), ['add wg1 type wireguard', 'up wg1']);
    assert.deepEqual(socket.sets.at(-1), { ifname: 'wg1', device: { privateKey: keyBytes(me.privateKey) } });

    links.add('eth1', 'veth');
    await assert.rejects(
      configurer.ensureDevice('eth1', { privateKey: me.privateKey }, 1420),
      DeviceConflictError,
    );
  });

  void it('reads a device, merging a dump split over messages', async () => {
    const stamp = Buffer.alloc(16);
    stamp.writeBigInt64LE(1_700_000_000n, 0);
    stamp.writeBigInt64LE(5_000_000n, 8);
    const { socket, configurer } = setup();
    socket.devices.set('wg0', [
      {
        ifname: 'wg0',
        publicKey: keyBytes(me.publicKey),
        listenPort: 51820,
        peers: [kernelPeer(peerA, { lastHandshakeTime: stamp, rxBytes: 5n })],
      },
      {
        ifname: 'wg0',
        peers: [
          {
            publicKey: keyBytes(peerA),
            allowedIps: [{ family: 2, ipaddr: Buffer.from([10, 9, 0, 0]), cidrMask: 16 }],
          },
        ],
      },
    ]);
    assert.equal(mergeDump(socket.devices.get('wg0') ?? []).peers?.length, 1);
    const read = await configurer.readDevice('wg0');
    assert.deepEqual(read, {
      name: 'wg0',
      publicKey: me.publicKey,
      listenPort: 51820,
      peers: [
        {
          publicKey: peerA,
          endpoint: '192.0.2.1:51820',
          allowedIps: ['10.1.0.0/16', '10.9.0.0/16'],
          persistentKeepalive: 0,
          lastHandshake: new Date(1_700_000_000_005),
          rxBytes: 5n,
          txBytes: 0n,
          hasPresharedKey: false,
        },
      ],
    });
    assert.equal(await configurer.readDevice('wg7'), undefined);
    await assert.rejects(configurer.syncPeers('wg7', []), DeviceNotFoundError);
  });

  void it('lists and removes only wireguard links; close() closes the socket', async () => {
    const { socket, links, configurer } = setup();
    links.add('eth0', 'veth');
    assert.deepEqual(await configurer.listDevices(), ['wg0']);
    await assert.rejects(configurer.removeDevice('eth0'), DeviceConflictError);
    await configurer.removeDevice('wg0');
    await configurer.removeDevice('wg0');
    assert.deepEqual(await configurer.listDevices(), []);
    await configurer.readDevice('wg0');
    await configurer.close();
    assert.equal(socket.closed, true);
  });
});
