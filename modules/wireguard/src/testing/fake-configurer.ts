// An in-memory WireGuardConfigurer with the real diff semantics, for the appliance's unit tests. It
// records every call, lets a test play the network (handshakes, learned endpoints, byte counters) and
// make any operation fail.
import type { WireGuardConfigurer, WireGuardImplementation } from '../configurer.js';
import { DeviceNotFoundError } from '../errors.js';
import { publicKeyOf } from '../keys.js';
import { diffPeers, summarizeOperations, type PeerDiff, type PeerOperation } from '../peer.diff.js';
import { assertDeviceConfig, assertInterfaceName, assertMtu, normalizePeers } from '../validate.js';
import type { WgDevice, WgDeviceConfig, WgPeerConfig, WgPeerState } from '../wireguard.types.js';

export type FakeConfigurerCall =
  | { op: 'ensureDevice'; name: string; created: boolean; mtu: number }
  | { op: 'syncPeers'; name: string; operations: PeerOperation[] }
  | { op: 'removeDevice'; name: string }
  | { op: 'forgetSourceAddresses'; name: string; peers: string[] };

interface FakeDevice {
  config: WgDeviceConfig;
  mtu: number;
  up: boolean;
  peers: Map<string, WgPeerState & { presharedKey?: string }>;
}

type Operation =
  'ensureDevice' | 'syncPeers' | 'readDevice' | 'removeDevice' | 'listDevices' | 'forgetSourceAddresses';

export class FakeConfigurer implements WireGuardConfigurer {
  readonly devices = new Map<string, FakeDevice>();
  readonly calls: FakeConfigurerCall[] = [];
  closed = false;
  private readonly failures: Array<{ op: Operation; name?: string; error: Error }> = [];

  constructor(readonly kind: WireGuardImplementation = 'userspace') {}

  /** The next call of `op` (on `name`, if given) rejects with `error`. */
  failNext(op: Operation, error: Error, name?: string): void {
    this.failures.push(name === undefined ? { op, error } : { op, name, error });
  }

  /** Plays the network: a completed handshake, a learned endpoint, traffic. */
  observePeer(
    name: string,
    publicKey: string,
    change: Partial<Pick<WgPeerState, 'endpoint' | 'lastHandshake' | 'rxBytes' | 'txBytes'>>,
  ): void {
    const peer = this.devices.get(name)?.peers.get(publicKey);
    if (!peer) throw new Error(`no peer ${publicKey} on ${name}`);
    Object.assign(peer, change);
  }

  ensureDevice(name: string, device: WgDeviceConfig, mtu: number): Promise<void> {
    return this.guard('ensureDevice', name, () => {
      assertInterfaceName(name);
      assertDeviceConfig(device);
      assertMtu(mtu);
      const existing = this.devices.get(name);
      this.calls.push({ op: 'ensureDevice', name, created: existing === undefined, mtu });
      if (existing) {
        existing.config = { ...device, listenPort: device.listenPort ?? existing.config.listenPort };
        existing.mtu = mtu;
        existing.up = true;
      } else {
        this.devices.set(name, { config: { ...device }, mtu, up: true, peers: new Map() });
      }
    });
  }

  syncPeers(name: string, desired: readonly WgPeerConfig[]): Promise<PeerDiff> {
    return this.guard('syncPeers', name, () => {
      assertInterfaceName(name);
      const device = this.devices.get(name);
      if (!device) throw new DeviceNotFoundError(name);
      const ops = diffPeers(normalizePeers(desired), [...device.peers.values()]);
      this.calls.push({ op: 'syncPeers', name, operations: ops });
      for (const op of ops) this.apply(device, op);
      return summarizeOperations(ops);
    });
  }

  readDevice(name: string): Promise<WgDevice | undefined> {
    return this.guard('readDevice', name, () => {
      const device = this.devices.get(name);
      if (!device) return undefined;
      const out: WgDevice = {
        name,
        publicKey: publicKeyOf(device.config.privateKey),
        listenPort: device.config.listenPort ?? 0,
        peers: [...device.peers.values()].map(({ presharedKey: _psk, ...peer }) => ({
          ...peer,
          allowedIps: [...peer.allowedIps],
        })),
      };
      if (device.config.fwmark) out.fwmark = device.config.fwmark;
      return out;
    });
  }

  forgetSourceAddresses(name: string): Promise<string[]> {
    return this.guard('forgetSourceAddresses', name, () => {
      const device = this.devices.get(name);
      if (!device) throw new DeviceNotFoundError(name);
      const peers = [...device.peers.values()]
        .filter((p) => p.endpoint !== undefined)
        .map((p) => p.publicKey);
      this.calls.push({ op: 'forgetSourceAddresses', name, peers });
      return peers;
    });
  }

  removeDevice(name: string): Promise<void> {
    return this.guard('removeDevice', name, () => {
      this.calls.push({ op: 'removeDevice', name });
      this.devices.delete(name);
    });
  }

  listDevices(): Promise<string[]> {
    return this.guard('listDevices', undefined, () => [...this.devices.keys()].sort());
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private apply(device: FakeDevice, op: PeerOperation): void {
    switch (op.op) {
      case 'remove':
        device.peers.delete(op.publicKey);
        return;
      case 'add': {
        const p = op.peer;
        const state: WgPeerState & { presharedKey?: string } = {
          publicKey: p.publicKey,
          allowedIps: [...p.allowedIps],
          persistentKeepalive: p.persistentKeepalive ?? 0,
          lastHandshake: null,
          rxBytes: 0n,
          txBytes: 0n,
          hasPresharedKey: p.presharedKey !== undefined,
        };
        if (p.endpoint !== undefined) state.endpoint = p.endpoint;
        if (p.presharedKey !== undefined) state.presharedKey = p.presharedKey;
        this.takeAllowedIps(device, p.publicKey, p.allowedIps);
        device.peers.set(p.publicKey, state);
        return;
      }
      case 'update': {
        const peer = device.peers.get(op.publicKey);
        if (!peer) return; // update_only
        const c = op.changes;
        if (c.endpoint !== undefined) peer.endpoint = c.endpoint;
        if (c.persistentKeepalive !== undefined) peer.persistentKeepalive = c.persistentKeepalive;
        if (c.presharedKey === null) {
          delete peer.presharedKey;
          peer.hasPresharedKey = false;
        } else if (c.presharedKey !== undefined) {
          peer.presharedKey = c.presharedKey;
          peer.hasPresharedKey = true;
        }
        if (c.allowedIps !== undefined) {
          this.takeAllowedIps(device, op.publicKey, c.allowedIps);
          peer.allowedIps = [...c.allowedIps];
        }
        return;
      }
    }
  }

  /** WireGuard moves an allowed IP to the peer that was given it last. */
  private takeAllowedIps(device: FakeDevice, owner: string, ips: readonly string[]): void {
    for (const peer of device.peers.values()) {
      if (peer.publicKey !== owner) peer.allowedIps = peer.allowedIps.filter((ip) => !ips.includes(ip));
    }
  }

  private guard<T>(op: Operation, name: string | undefined, fn: () => T): Promise<T> {
    if (this.closed) return Promise.reject(new Error('FakeConfigurer is closed'));
    const i = this.failures.findIndex((f) => f.op === op && (f.name === undefined || f.name === name));
    if (i >= 0) {
      const [failure] = this.failures.splice(i, 1);
      if (failure) return Promise.reject(failure.error);
    }
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
