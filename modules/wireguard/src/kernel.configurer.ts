// WireGuard in the kernel: `ip link add <name> type wireguard`, then WG_CMD_SET_DEVICE / GET_DEVICE over
// generic netlink through the `netlink` package (0.3.0). This kernel has no WireGuard module, so the
// tests check the messages we build against a strict double of the socket (kernel.configurer.spec.ts).
import { createWireGuard, type wg } from 'netlink';
import { formatIp, parseIp, parsePrefix } from '@weft/core';
import type { WireGuardConfigurer } from './configurer.js';
import { DeviceConflictError, DeviceNotFoundError, WireGuardUnavailableError } from './errors.js';
import { WG_KEY_LENGTH, keyBytes, publicKeyOf } from './keys.js';
import type { LinkAdapter } from './link.adapter.js';
import {
  diffPeers,
  summarizeOperations,
  type ObservedPeer,
  type PeerDiff,
  type PeerOperation,
} from './peer.diff.js';
import {
  assertDeviceConfig,
  assertInterfaceName,
  assertMtu,
  normalizePeers,
  parseEndpoint,
} from './validate.js';
import type { WgDevice, WgDeviceConfig, WgPeerConfig, WgPeerState } from './wireguard.types.js';

/** The part of the netlink package's WireGuardSocket we use, so tests can hand in a strict double. */
export interface WgGenlSocket {
  /** WG_CMD_GET_DEVICE (a dump: large devices come in several messages). */
  getDevice(ifname: string): Promise<wg.Device[]>;
  /** WG_CMD_SET_DEVICE */
  setDevice(ifname: string, device: wg.Device): Promise<unknown>;
  close(): void;
}

/** Opens a genetlink socket for the `wireguard` family; fails when the kernel has no WireGuard. */
export async function openWgGenlSocket(timeoutMs = 5000): Promise<WgGenlSocket> {
  let socket: Awaited<ReturnType<typeof createWireGuard>>;
  try {
    socket = await createWireGuard();
  } catch (cause) {
    throw new WireGuardUnavailableError('the kernel has no "wireguard" generic netlink family', { cause });
  }
  socket.socket.socket.on('error', () => undefined); // a failed receive surfaces as the request's timeout
  return {
    getDevice: (ifname) => socket.getDevice(ifname, { timeout: timeoutMs }),
    setDevice: (ifname, device) => socket.setDevice(ifname, device, { timeout: timeoutMs }),
    close: () => socket.socket.socket.close(),
  };
}

export interface KernelConfigurerOptions {
  links: LinkAdapter;
  /** Default: openWgGenlSocket(), opened on first use. */
  openSocket?: () => Promise<WgGenlSocket>;
  /**
   * Budget per WG_CMD_SET_DEVICE message, in bytes of attributes. `wg` keeps to a page; larger peer
   * sets, and peers with many allowed IPs, are split over several messages the same way.
   */
  messageBudget?: number;
}

/** WGPEER_A_* sizes, for splitting messages (attribute header 4 bytes, payload padded to 4). */
const SIZE = {
  message: 16 + 4 + 20 + 4, // nlmsghdr + genlmsghdr + IFNAME (16) + PEERS nest
  peer: 4 + (4 + WG_KEY_LENGTH) + 8, // nest + PUBLIC_KEY + FLAGS
  presharedKey: 4 + WG_KEY_LENGTH,
  endpoint: 4 + 28,
  keepalive: 8,
  allowedIpsNest: 4,
  allowedIp: 4 + 8 + (4 + 16) + 8, // nest + FAMILY + IPADDR + CIDR_MASK
} as const;

const ZERO_KEY = Buffer.alloc(WG_KEY_LENGTH);
const AF_INET = 2;
const AF_INET6 = 10;

export class KernelConfigurer implements WireGuardConfigurer {
  readonly kind = 'kernel';
  private readonly links: LinkAdapter;
  private readonly openSocket: () => Promise<WgGenlSocket>;
  private readonly messageBudget: number;
  private socket: Promise<WgGenlSocket> | undefined;
  private closed = false;

  constructor(options: KernelConfigurerOptions) {
    this.links = options.links;
    this.openSocket = options.openSocket ?? (() => openWgGenlSocket());
    this.messageBudget = options.messageBudget ?? 4096;
  }

  async ensureDevice(name: string, device: WgDeviceConfig, mtu: number): Promise<void> {
    assertInterfaceName(name);
    assertDeviceConfig(device);
    assertMtu(mtu);
    const link = await this.links.getLink(name);
    if (link === undefined) await this.links.addWireGuardLink(name);
    else if (link.kind !== 'wireguard') {
      throw new DeviceConflictError(
        `an interface named "${name}" exists and is not a kernel WireGuard device`,
      );
    }
    const observed = await this.getDevice(name);
    const set = deviceSetMessage(device, observed);
    if (set !== undefined) await this.call(`set device ${name}`, (s) => s.setDevice(name, set));
    const now = await this.links.getLink(name);
    if (now === undefined) throw new DeviceNotFoundError(name);
    if (now.mtu !== mtu) await this.links.setMtu(name, mtu);
    if (!now.up) await this.links.setUp(name);
  }

  async syncPeers(name: string, desired: readonly WgPeerConfig[]): Promise<PeerDiff> {
    assertInterfaceName(name);
    const peers = normalizePeers(desired);
    const observed = await this.getDevice(name);
    const ops = diffPeers(peers, (observed.peers ?? []).map(observedFromKernel));
    for (const message of peerSetMessages(ops, this.messageBudget)) {
      await this.call(`set peers of ${name}`, (s) => s.setDevice(name, message));
    }
    return summarizeOperations(ops);
  }

  /**
   * Nothing to do: the kernel checks before each send that the cached source is still local and drops
   * it when not (drivers/net/wireguard/socket.c, send4/send6).
   */
  forgetSourceAddresses(name: string): Promise<string[]> {
    assertInterfaceName(name);
    return Promise.resolve([]);
  }

  async readDevice(name: string): Promise<WgDevice | undefined> {
    assertInterfaceName(name);
    try {
      return deviceFromKernel(name, await this.getDevice(name));
    } catch (err) {
      if (err instanceof DeviceNotFoundError) return undefined;
      throw err;
    }
  }

  async removeDevice(name: string): Promise<void> {
    assertInterfaceName(name);
    const link = await this.links.getLink(name);
    if (link === undefined) return;
    if (link.kind !== 'wireguard') {
      throw new DeviceConflictError(`"${name}" is not a kernel WireGuard device; not deleting it`);
    }
    await this.links.deleteLink(name);
  }

  async listDevices(): Promise<string[]> {
    return (await this.links.listLinks()).filter((l) => l.kind === 'wireguard').map((l) => l.name);
  }

  /** Closes the genetlink socket. Kernel devices are kernel state: they stay until removed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) (await socket.catch(() => undefined))?.close();
  }

  /** The device, its dump's messages merged. Rejects with DeviceNotFoundError on ENODEV. */
  private async getDevice(name: string): Promise<wg.Device> {
    const parts = await this.call(`get device ${name}`, (s) => s.getDevice(name));
    return mergeDump(parts);
  }

  private async call<T>(what: string, fn: (socket: WgGenlSocket) => Promise<T>): Promise<T> {
    if (this.closed) throw new WireGuardUnavailableError('the kernel WireGuard configurer is closed');
    this.socket ??= this.openSocket();
    const socket = await this.socket;
    try {
      return await fn(socket);
    } catch (cause) {
      const code = /Request rejected: (E[A-Z0-9]+)/.exec(cause instanceof Error ? cause.message : '')?.[1];
      const device = / (\S+)$/.exec(what)?.[1] ?? '';
      if (code === 'ENODEV' || code === 'EOPNOTSUPP') throw new DeviceNotFoundError(device, { cause });
      throw new Error(`${what}${code ? `: ${code}` : ''}`, { cause });
    }
  }
}

/** WG_CMD_SET_DEVICE for the device's own fields, or undefined when they already match. */
export function deviceSetMessage(config: WgDeviceConfig, observed: wg.Device): wg.Device | undefined {
  const set: wg.Device = {};
  const havePrivate = observed.privateKey && !observed.privateKey.equals(ZERO_KEY);
  if (
    !havePrivate ||
    publicKeyOf(observed.privateKey?.toString('base64') ?? '') !== publicKeyOf(config.privateKey)
  ) {
    set.privateKey = keyBytes(config.privateKey, 'privateKey');
  }
  if (config.listenPort !== undefined && config.listenPort !== observed.listenPort)
    set.listenPort = config.listenPort;
  if ((config.fwmark ?? 0) !== (observed.fwmark ?? 0)) set.fwmark = config.fwmark ?? 0;
  return Object.keys(set).length > 0 ? set : undefined;
}

/**
 * WG_CMD_SET_DEVICE messages for a diff. WGDEVICE_F_REPLACE_PEERS is never set: every peer carries its
 * own flags (REMOVE_ME, UPDATE_ONLY, REPLACE_ALLOWEDIPS), and unchanged peers do not appear. Messages
 * stay within `budget` bytes; a peer whose allowed IPs do not fit continues in the next message with
 * UPDATE_ONLY and without REPLACE_ALLOWEDIPS, as `wg` does.
 */
export function peerSetMessages(ops: readonly PeerOperation[], budget = 4096): wg.Device[] {
  const messages: wg.Device[] = [];
  let peers: wg.Peer[] = [];
  let size = SIZE.message;
  const flush = (): void => {
    if (peers.length > 0) messages.push({ peers });
    peers = [];
    size = SIZE.message;
  };
  for (const op of ops) {
    const { head, allowedIps } = peerHead(op);
    let peer: wg.Peer = head;
    let peerSize = SIZE.peer + headSize(head) + (allowedIps ? SIZE.allowedIpsNest : 0);
    if (size + peerSize + (allowedIps?.length ? SIZE.allowedIp : 0) > budget) flush();
    if (allowedIps === undefined) {
      peers.push(peer);
      size += peerSize;
      continue;
    }
    peer.allowedIps = [];
    peers.push(peer);
    size += peerSize;
    for (const ip of allowedIps) {
      if (size + SIZE.allowedIp > budget) {
        flush();
        const publicKey = head.publicKey ?? ZERO_KEY;
        peer = { publicKey, flags: { updateOnly: true }, allowedIps: [] };
        peerSize = SIZE.peer + SIZE.allowedIpsNest;
        peers.push(peer);
        size += peerSize;
      }
      peer.allowedIps?.push(ip);
      size += SIZE.allowedIp;
    }
  }
  flush();
  return messages;
}

function peerHead(op: PeerOperation): { head: wg.Peer; allowedIps: wg.AllowedIp[] | undefined } {
  switch (op.op) {
    case 'remove':
      return {
        head: { publicKey: keyBytes(op.publicKey), flags: { removeMe: true } },
        allowedIps: undefined,
      };
    case 'add': {
      const p = op.peer;
      const head: wg.Peer = { publicKey: keyBytes(p.publicKey), flags: { replaceAllowedIps: true } };
      if (p.presharedKey !== undefined) head.presharedKey = keyBytes(p.presharedKey);
      if (p.endpoint !== undefined) head.endpoint = sockaddrOf(p.endpoint);
      if (p.persistentKeepalive !== undefined) head.persistentKeepaliveInterval = p.persistentKeepalive;
      return { head, allowedIps: p.allowedIps.map(allowedIpOf) };
    }
    case 'update': {
      const c = op.changes;
      const head: wg.Peer = { publicKey: keyBytes(op.publicKey), flags: { updateOnly: true } };
      if (c.presharedKey !== undefined) {
        head.presharedKey = c.presharedKey === null ? Buffer.from(ZERO_KEY) : keyBytes(c.presharedKey);
      }
      if (c.endpoint !== undefined) head.endpoint = sockaddrOf(c.endpoint);
      if (c.persistentKeepalive !== undefined) head.persistentKeepaliveInterval = c.persistentKeepalive;
      if (c.allowedIps === undefined) return { head, allowedIps: undefined };
      head.flags = { updateOnly: true, replaceAllowedIps: true };
      return { head, allowedIps: c.allowedIps.map(allowedIpOf) };
    }
  }
}

function headSize(head: wg.Peer): number {
  return (
    (head.presharedKey ? SIZE.presharedKey : 0) +
    (head.endpoint ? SIZE.endpoint : 0) +
    (head.persistentKeepaliveInterval !== undefined ? SIZE.keepalive : 0)
  );
}

/** struct sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes); sa_family in host order, port big-endian. */
export function sockaddrOf(endpoint: string): Buffer {
  const { address, family, port } = parseEndpoint(endpoint);
  const ip = parseIp(address).bytes;
  const out = Buffer.alloc(family === 'inet' ? 16 : 28);
  out.writeUInt16LE(family === 'inet' ? AF_INET : AF_INET6, 0);
  out.writeUInt16BE(port, 2);
  ip.copy(out, family === 'inet' ? 4 : 8);
  return out;
}

export function endpointOf(sockaddr: Buffer): string | undefined {
  if (sockaddr.length < 4) return undefined;
  const family = sockaddr.readUInt16LE(0);
  const port = sockaddr.readUInt16BE(2);
  if (family === AF_INET && sockaddr.length >= 8) return `${formatIp(sockaddr.subarray(4, 8))}:${port}`;
  if (family === AF_INET6 && sockaddr.length >= 24) return `[${formatIp(sockaddr.subarray(8, 24))}]:${port}`;
  return undefined;
}

function allowedIpOf(prefix: string): wg.AllowedIp {
  const p = parsePrefix(prefix);
  return { family: p.family === 'inet' ? AF_INET : AF_INET6, ipaddr: p.bytes, cidrMask: p.prefixLength };
}

function prefixOf(a: wg.AllowedIp): string | undefined {
  if (!a.ipaddr || a.cidrMask === undefined) return undefined;
  return `${formatIp(a.ipaddr)}/${a.cidrMask}`;
}

/** A dump may split one device, and one peer's allowed IPs, over several messages. */
export function mergeDump(parts: readonly wg.Device[]): wg.Device {
  const [first, ...rest] = parts;
  if (first === undefined) return { peers: [] };
  const merged: wg.Device = { ...first, peers: [] };
  const byKey = new Map<string, wg.Peer>();
  for (const part of [first, ...rest]) {
    for (const peer of part.peers ?? []) {
      const key = peer.publicKey?.toString('hex') ?? '';
      const have = byKey.get(key);
      if (have) have.allowedIps = [...(have.allowedIps ?? []), ...(peer.allowedIps ?? [])];
      else {
        const copy = { ...peer, allowedIps: [...(peer.allowedIps ?? [])] };
        byKey.set(key, copy);
        merged.peers?.push(copy);
      }
    }
  }
  return merged;
}

function presharedOf(peer: wg.Peer): string | undefined {
  return peer.presharedKey && !peer.presharedKey.equals(ZERO_KEY)
    ? peer.presharedKey.toString('base64')
    : undefined;
}

function observedFromKernel(peer: wg.Peer): ObservedPeer {
  const psk = presharedOf(peer);
  const observed: ObservedPeer = {
    publicKey: peer.publicKey?.toString('base64') ?? '',
    allowedIps: (peer.allowedIps ?? []).map(prefixOf).filter((p): p is string => p !== undefined),
    persistentKeepalive: peer.persistentKeepaliveInterval ?? 0,
    hasPresharedKey: psk !== undefined,
  };
  const endpoint = peer.endpoint && endpointOf(peer.endpoint);
  if (endpoint) observed.endpoint = endpoint;
  if (psk !== undefined) observed.presharedKey = psk;
  return observed;
}

/** struct __kernel_timespec: s64 seconds, s64 nanoseconds, host order. */
function handshakeOf(buf: Buffer | undefined): Date | null {
  if (!buf || buf.length < 16) return null;
  const sec = buf.readBigInt64LE(0);
  const nsec = buf.readBigInt64LE(8);
  if (sec === 0n && nsec === 0n) return null;
  return new Date(Number(sec) * 1000 + Math.floor(Number(nsec) / 1e6));
}

export function deviceFromKernel(name: string, device: wg.Device): WgDevice {
  const out: WgDevice = {
    name,
    publicKey:
      device.publicKey && !device.publicKey.equals(ZERO_KEY) ? device.publicKey.toString('base64') : '',
    listenPort: device.listenPort ?? 0,
    peers: (device.peers ?? []).map((peer): WgPeerState => {
      const o = observedFromKernel(peer);
      const state: WgPeerState = {
        publicKey: o.publicKey,
        allowedIps: [...o.allowedIps].sort(),
        persistentKeepalive: o.persistentKeepalive,
        lastHandshake: handshakeOf(peer.lastHandshakeTime),
        rxBytes: peer.rxBytes ?? 0n,
        txBytes: peer.txBytes ?? 0n,
        hasPresharedKey: o.hasPresharedKey,
      };
      if (o.endpoint !== undefined) state.endpoint = o.endpoint;
      return state;
    }),
  };
  if (device.fwmark) out.fwmark = device.fwmark;
  return out;
}
