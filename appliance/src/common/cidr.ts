// IPv4/IPv6 prefixes as bigints, for verify's overlap and host-bit checks.

export interface Prefix {
  family: 4 | 6;
  /** Network address as an integer (host bits included as written). */
  addr: bigint;
  len: number;
  text: string;
}

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  let text = s;
  // An embedded IPv4 tail (::ffff:192.0.2.1) becomes two hex groups.
  if (text.includes('.')) {
    const lastColon = text.lastIndexOf(':');
    const v4 = parseV4(text.slice(lastColon + 1));
    if (lastColon < 0 || v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (h: string): bigint[] | undefined => {
    if (h === '') return [];
    const out: bigint[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(BigInt(parseInt(g, 16)));
    }
    return out;
  };
  const head = parseGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  const total = head.length + rest.length;
  let all: bigint[];
  if (halves.length === 2) {
    if (total > 7) return undefined;
    all = [...head, ...Array<bigint>(8 - total).fill(0n), ...rest];
  } else {
    if (total !== 8) return undefined;
    all = head;
  }
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

export function parseIp(s: string): { family: 4 | 6; addr: bigint } | undefined {
  if (s.includes(':')) {
    const a = parseV6(s);
    return a === undefined ? undefined : { family: 6, addr: a };
  }
  const a = parseV4(s);
  return a === undefined ? undefined : { family: 4, addr: a };
}

export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > (ip.family === 4 ? 32 : 128)) return undefined;
  return { family: ip.family, addr: ip.addr, len, text };
}

function bits(family: 4 | 6): number {
  return family === 4 ? 32 : 128;
}

function mask(family: 4 | 6, len: number): bigint {
  const b = BigInt(bits(family));
  return ((1n << BigInt(len)) - 1n) << (b - BigInt(len));
}

export function hasHostBits(p: Prefix): boolean {
  return (p.addr & ~mask(p.family, p.len) & ((1n << BigInt(bits(p.family))) - 1n)) !== 0n;
}

export function formatIp(family: 4 | 6, addr: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((addr >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((addr >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The prefix with its host bits cleared, e.g. 10.1.0.1/24 → 10.1.0.0/24. */
export function networkOf(p: Prefix): string {
  return `${formatIp(p.family, p.addr & mask(p.family, p.len))}/${p.len}`;
}

/**
 * The first host of a prefix as a host prefix (/32, /128): 10.11.0.0/24 → 10.11.0.1/32. A /31, /32
 * (/127, /128) has no network address to skip: its first address.
 */
export function firstHostOf(p: Prefix): string {
  const full = bits(p.family);
  const network = p.addr & mask(p.family, p.len);
  const host = p.len >= full - 1 ? network : network + 1n;
  return `${formatIp(p.family, host)}/${full}`;
}

export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const len = Math.min(a.len, b.len);
  const m = mask(a.family, len);
  return (a.addr & m) === (b.addr & m);
}
