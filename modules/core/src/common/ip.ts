// IP addresses and prefixes as the kernel sees them (byte arrays) and as people write them (text).
// Routes are compared by their text, so every prefix we produce or compare goes through `formatIp`.
import { isIPv4, isIPv6 } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** AF_INET / AF_INET6, named as ip(8) names them. */
export type IpFamily = 'inet' | 'inet6';

export interface IpPrefix {
  family: IpFamily;
  /** Network byte order, 4 or 16 bytes. */
  bytes: Buffer;
  prefixLength: number;
}

export function familyOfBytes(bytes: Uint8Array): IpFamily {
  if (bytes.length === 4) return 'inet';
  if (bytes.length === 16) return 'inet6';
  throw new InvalidArgumentError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
}

export function maxPrefixLength(family: IpFamily): number {
  return family === 'inet' ? 32 : 128;
}

export function parseIp(text: string): { family: IpFamily; bytes: Buffer } {
  if (isIPv4(text)) return { family: 'inet', bytes: Buffer.from(text.split('.').map(Number)) };
  if (isIPv6(text) && !text.includes('%')) return { family: 'inet6', bytes: parseIpv6(text) };
  throw new InvalidArgumentError(`"${text}" is not an IP address`);
}

function parseIpv6(text: string): Buffer {
  let head = text;
  const tail: number[] = [];
  // An embedded dotted quad (::ffff:192.0.2.1) fills the last two groups.
  const lastColon = text.lastIndexOf(':');
  const last = text.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = last.split('.').map(Number);
    tail.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    head = text.slice(0, lastColon + 1);
    if (head.endsWith(':') && !head.endsWith('::')) head = head.slice(0, -1);
  }
  const [left = '', right] = head.split('::');
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const l = groups(left);
  const r = [...groups(right ?? ''), ...tail];
  const fill = right === undefined ? [] : new Array<number>(8 - l.length - r.length).fill(0);
  const all = right === undefined ? [...l, ...tail] : [...l, ...fill, ...r];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Dotted quad, or RFC 5952 text for IPv6 (lower case, longest zero run compressed). */
export function formatIp(bytes: Uint8Array): string {
  if (familyOfBytes(bytes) === 'inet') return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  let bestStart = -1;
  let bestLen = 1; // RFC 5952 4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/**
 * Parses `10.1.0.0/16`, `2001:db8::/32`, or a bare address (a host prefix). Host bits set beyond the
 * prefix length are refused unless `allowHostBits` (interface addresses carry them on purpose).
 */
export function parsePrefix(text: string, options: { allowHostBits?: boolean } = {}): IpPrefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const { family, bytes } = parseIp(addrText);
  const max = maxPrefixLength(family);
  let prefixLength = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    prefixLength = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
    if (!(prefixLength >= 0 && prefixLength <= max)) {
      throw new InvalidArgumentError(`"${text}": the prefix length must be 0 to ${max}`);
    }
  }
  if (!options.allowHostBits) {
    const network = maskBytes(bytes, prefixLength);
    if (!network.equals(bytes)) {
      throw new InvalidArgumentError(
        `"${text}" has host bits set; the network is ${formatIp(network)}/${prefixLength}`,
      );
    }
  }
  return { family, bytes, prefixLength };
}

export function formatPrefix(prefix: IpPrefix): string {
  return `${formatIp(prefix.bytes)}/${prefix.prefixLength}`;
}

/** The canonical text of a prefix, so `2001:DB8:0::/32` and `2001:db8::/32` compare equal. */
export function canonicalPrefix(text: string): string {
  return formatPrefix(parsePrefix(text));
}

export function maskBytes(bytes: Uint8Array, prefixLength: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, prefixLength - i * 8));
    out[i] = (out[i] ?? 0) & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}
