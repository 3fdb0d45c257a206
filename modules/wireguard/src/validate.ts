// Checks on what callers hand us, done once before anything touches a device. Messages name the field
// and never quote a key.
import { InvalidArgumentError, canonicalPrefix, formatIp, parseIp } from '@weft/core';
import { keyBytes } from './keys.js';
import type { WgDeviceConfig, WgPeerConfig } from './wireguard.types.js';

/**
 * Linux interface names: 1–15 bytes (IFNAMSIZ − 1), no `/`, `:` or whitespace, not `.`/`..`. We also
 * refuse a leading `-`: wireguard-go takes its last argument as the name, and a name that looks like an
 * option must never reach its argv.
 */
const IFNAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.+=-]{0,14}$/;

export function assertInterfaceName(name: string): void {
  if (typeof name !== 'string' || !IFNAME_PATTERN.test(name) || name === '.' || name === '..') {
    throw new InvalidArgumentError(
      `"${String(name)}" is not a usable interface name (1–15 of A–Z a–z 0–9 _ . + = -, not starting with -)`,
    );
  }
}

export function assertMtu(mtu: number): void {
  // 1280 is IPv6's minimum; WireGuard adds 60 (IPv4) or 80 (IPv6) bytes on the underlay.
  if (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535) {
    throw new InvalidArgumentError(`mtu ${mtu} is out of range (576–65535)`);
  }
}

export function assertDeviceConfig(device: WgDeviceConfig): void {
  keyBytes(device.privateKey, 'privateKey');
  if (device.listenPort !== undefined) assertPort(device.listenPort, 'listenPort');
  if (
    device.fwmark !== undefined &&
    (!Number.isInteger(device.fwmark) || device.fwmark < 0 || device.fwmark > 0xffffffff)
  ) {
    throw new InvalidArgumentError(`fwmark ${device.fwmark} is not a 32-bit unsigned integer`);
  }
}

function assertPort(port: number, what: string, min = 0): void {
  if (!Number.isInteger(port) || port < min || port > 65535) {
    throw new InvalidArgumentError(`${what} ${port} is out of range (${min}–65535)`);
  }
}

/** Parses `192.0.2.1:51820` or `[2001:db8::1]:51820`; `undefined` when it is neither. */
export function parseEndpoint(text: string): { address: string; family: 'inet' | 'inet6'; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|(\d{1,3}(?:\.\d{1,3}){3})):(\d{1,5})$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError(`endpoint "${text}" is not ip:port or [ipv6]:port with a port 1–65535`);
  }
  const ip = parseIp(host);
  if ((m[1] !== undefined) !== (ip.family === 'inet6')) {
    throw new InvalidArgumentError(`endpoint "${text}": brackets are for IPv6 addresses only`);
  }
  return { address: formatIp(ip.bytes), family: ip.family, port };
}

/** The endpoint in the form wireguard-go and `wg` print: `192.0.2.1:51820`, `[2001:db8::1]:51820`. */
export function canonicalEndpoint(text: string): string {
  const { address, family, port } = parseEndpoint(text);
  return family === 'inet6' ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Validated copies of the desired peers: canonical, sorted and de-duplicated allowed IPs, canonical
 * endpoints, keepalive 0 dropped. Fails on the first problem, naming `peers[i].field`.
 */
export function normalizePeers(peers: readonly WgPeerConfig[]): WgPeerConfig[] {
  const seen = new Set<string>();
  return peers.map((peer, i) => {
    const at = `peers[${i}]`;
    keyBytes(peer.publicKey, `${at}.publicKey`);
    if (seen.has(peer.publicKey)) {
      throw new InvalidArgumentError(`${at}.publicKey appears twice among the peers`);
    }
    seen.add(peer.publicKey);
    if (peer.presharedKey !== undefined) keyBytes(peer.presharedKey, `${at}.presharedKey`);
    if (!Array.isArray(peer.allowedIps)) throw new InvalidArgumentError(`${at}.allowedIps must be a list`);
    const allowedIps = canonicalPrefixes(peer.allowedIps, `${at}.allowedIps`);
    const out: WgPeerConfig = { publicKey: peer.publicKey, allowedIps };
    if (peer.presharedKey !== undefined) out.presharedKey = peer.presharedKey;
    if (peer.endpoint !== undefined)
      out.endpoint = prefixed(at, () => canonicalEndpoint(peer.endpoint ?? ''));
    if (peer.persistentKeepalive !== undefined) {
      assertPort(peer.persistentKeepalive, `${at}.persistentKeepalive`);
      if (peer.persistentKeepalive > 0) out.persistentKeepalive = peer.persistentKeepalive;
    }
    return out;
  });
}

export function canonicalPrefixes(prefixes: readonly string[], what: string): string[] {
  const out = new Set<string>();
  prefixes.forEach((p, i) => out.add(prefixed(`${what}[${i}]`, () => canonicalPrefix(p))));
  return [...out].sort();
}

function prefixed<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidArgumentError) throw new InvalidArgumentError(`${what}: ${err.message}`);
    throw err;
  }
}
