// NftDesired → the text of one `nft -f -` run that replaces our table in a single transaction: the
// kernel either gets the whole new table or keeps the old one. Pure: validates everything it renders.
//
// Sets: prefix lists are anonymous sets inside the rule that uses them. The whole table is replaced on
// every change anyway, so a named set would buy no cheaper update, and inline sets keep each rule
// readable on its own in `nft list` and in drift messages. nft lists a one-element anonymous set as a
// plain match, so one prefix is rendered without braces.
import { InvalidArgumentError } from '../errors.js';
import {
  formatIp,
  formatPrefix,
  maskBytes,
  parseIp,
  parsePrefix,
  type IpFamily,
  type IpPrefix,
} from '../common/ip.js';
import { WEFT_NFT_TABLE } from '../owned.js';
import type { NftDesired, NftTableName } from './nft.types.js';

/** What the kernel takes as an interface name (IFNAMSIZ - 1); quoted in the script, so no globbing. */
const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;
/** Link and forward names end up in rule comments (at most 128 bytes, no quotes). */
const RULE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
/** RFC 879's default MSS (576 - 40) up to the largest an IPv4 packet holds. */
const MSS_RANGE = { min: 536, max: 65495 } as const;

/** The chains of our table: the base chain definitions, in the order they are written. */
const CHAINS = [
  { name: 'prerouting', header: 'type nat hook prerouting priority dstnat; policy accept;' },
  { name: 'postrouting', header: 'type nat hook postrouting priority srcnat; policy accept;' },
  // MSS clamping. At mangle priority, before any filter chain another table may have.
  { name: 'forward', header: 'type filter hook forward priority mangle; policy accept;' },
  // The underlay's input filter and the forwarding rules, at the filter priority.
  { name: 'input', header: 'type filter hook input priority filter; policy accept;' },
  { name: 'filter_forward', header: 'type filter hook forward priority filter; policy accept;' },
  // The multicast TTL lift: before routing (mangle runs ahead of dstnat and of the forwarding decision).
  { name: 'multicast_ttl', header: 'type filter hook prerouting priority mangle; policy accept;' },
] as const;
type ChainName = (typeof CHAINS)[number]['name'];

interface RenderedRule {
  chain: ChainName;
  text: string;
}

/**
 * The script for one `nft -f -` run: create our table if it is missing (so the delete cannot fail),
 * delete it, define it whole. nft sends all three as one netlink batch: if any rule is refused, the
 * kernel keeps the table it had. Throws InvalidArgumentError naming the field for invalid input.
 */
export function renderNftScript(desired: NftDesired, table: NftTableName = WEFT_NFT_TABLE): string {
  const id = tableId(table);
  const rules = renderRules(desired);
  const lines = [`table ${id} {}`, `delete table ${id}`, `table ${id} {`];
  CHAINS.forEach((chain, i) => {
    if (i > 0) lines.push('');
    lines.push(`\tchain ${chain.name} {`, `\t\t${chain.header}`);
    for (const rule of rules) if (rule.chain === chain.name) lines.push(`\t\t${rule.text}`);
    lines.push('\t}');
  });
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Removes our table if it is there, and nothing else (creating it first makes the delete unfailing). */
export function renderNftCleanup(table: NftTableName = WEFT_NFT_TABLE): string {
  const id = tableId(table);
  return `table ${id} {}\ndelete table ${id}\n`;
}

/** Throws what renderNftScript would throw; returns nothing. For `verify` steps. */
export function validateNftDesired(desired: NftDesired): void {
  renderRules(desired);
}

function tableId(table: NftTableName): string {
  if (table.family !== 'inet') {
    // The rules match both ip and ip6: only an inet table holds them.
    throw new InvalidArgumentError(`table.family: "${table.family}" is not supported, only "inet"`);
  }
  if (!TABLE_NAME.test(table.name)) {
    throw new InvalidArgumentError(
      `table.name: "${table.name}" is not a table name (letter, then letters, digits, _)`,
    );
  }
  return `${table.family} ${table.name}`;
}

function renderRules(desired: NftDesired): RenderedRule[] {
  for (const key of ['portForwards', 'netmaps', 'mssClamp'] as const) {
    if (!Array.isArray(desired[key])) throw new InvalidArgumentError(`${key}: must be a list`);
  }
  const netmaps = checkNetmaps(desired.netmaps);
  const forwards = checkPortForwards(desired.portForwards);
  const rules: RenderedRule[] = [];

  // NETMAP first in both nat chains: a netmapped flow must not fall to a port forward or to masquerade
  // (nat statements end the chain for the packet).
  for (const m of netmaps) {
    const ipk = ipKeyword(m.real.family);
    const remote = prefixSet(m.remote);
    const comment = `comment "netmap link ${m.link}"`;
    rules.push({
      chain: 'prerouting',
      text: `iifname "${m.device}" ${ipk} saddr ${remote} ${ipk} daddr ${formatPrefix(m.mapped)} dnat ${ipk} prefix to ${formatPrefix(m.real)} ${comment}`,
    });
    rules.push({
      chain: 'postrouting',
      text: `oifname "${m.device}" ${ipk} saddr ${formatPrefix(m.real)} ${ipk} daddr ${remote} snat ${ipk} prefix to ${formatPrefix(m.mapped)} ${comment}`,
    });
  }
  for (const f of forwards) {
    const to = f.to.family === 'inet' ? `${f.toText}:${f.toPort}` : `[${f.toText}]:${f.toPort}`;
    rules.push({
      chain: 'prerouting',
      text: `iifname "${f.iif}" ${f.protocol} dport ${f.port} dnat ${ipKeyword(f.to.family)} to ${to} comment "forward ${f.name}"`,
    });
  }
  if (desired.masquerade !== undefined) {
    const { underlay, sources, exceptTo } = checkMasquerade(desired.masquerade);
    for (const family of ['inet', 'inet6'] as const) {
      const ofFamily = sources.filter((p) => p.family === family);
      if (ofFamily.length === 0) continue;
      const ipk = ipKeyword(family);
      const except = exceptTo.filter((p) => p.family === family);
      const not = except.length > 0 ? ` ${ipk} daddr != ${prefixSet(except)}` : '';
      rules.push({
        chain: 'postrouting',
        text: `oifname "${underlay}" ${ipk} saddr ${prefixSet(ofFamily)}${not} masquerade comment "masquerade"`,
      });
    }
  }
  if (desired.input !== undefined) rules.push(...renderInput(desired.input));
  if (desired.forwardRules !== undefined && desired.forwardRules.length > 0) {
    // Rules decide about new connections; the replies of one they let through always pass.
    rules.push({
      chain: 'filter_forward',
      text: 'ct state established,related accept comment "replies"',
    });
    rules.push(...renderForwardRules(desired.forwardRules));
  }
  if (desired.multicastTtl !== undefined) rules.push(...renderMulticastTtl(desired.multicastTtl));
  for (const { device, mss } of checkMssClamp(desired.mssClamp)) {
    const syn = 'tcp flags syn tcp option maxseg size';
    rules.push({ chain: 'forward', text: `oifname "${device}" ${syn} set rt mtu comment "mss ${device}"` });
    if (mss !== undefined) {
      rules.push({
        chain: 'forward',
        text: `iifname "${device}" ${syn} > ${mss} tcp option maxseg size set ${mss} comment "mss ${device}"`,
      });
    }
  }
  return rules;
}

const MULTICAST_V4 = parsePrefix('224.0.0.0/4');

function renderMulticastTtl(lifts: NonNullable<NftDesired['multicastTtl']>): RenderedRule[] {
  if (!Array.isArray(lifts)) throw new InvalidArgumentError('multicastTtl: must be a list');
  const seen = new Map<string, number>();
  const checked = lifts.map((l, i) => {
    const at = `multicastTtl[${i}]`;
    const iif = interfaceName(l.iif, `${at}.iif`);
    if (!Array.isArray(l.groups) || l.groups.length === 0) {
      throw new InvalidArgumentError(`${at}.groups: name at least one group`);
    }
    const groups = l.groups.map((g, j) => {
      const p = prefix(g, `${at}.groups[${j}]`);
      if (!covers(MULTICAST_V4, p)) {
        throw new InvalidArgumentError(`${at}.groups[${j}]: ${g} is not an IPv4 group inside 224.0.0.0/4`);
      }
      return p;
    });
    if (!Number.isInteger(l.ttl) || l.ttl < 2 || l.ttl > 255) {
      throw new InvalidArgumentError(`${at}.ttl: ${String(l.ttl)} is not a TTL of 2 to 255`);
    }
    const key = `${iif} ${l.ttl}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw new InvalidArgumentError(`${at}: same iif and ttl as multicastTtl[${first}]; merge their groups`);
    }
    seen.set(key, i);
    return { iif, groups: minimalPrefixes(groups), ttl: l.ttl };
  });
  return checked
    .sort((a, b) => compareText(a.iif, b.iif) || a.ttl - b.ttl)
    .map((l) => ({
      chain: 'multicast_ttl' as const,
      text: `iifname "${l.iif}" ip daddr ${prefixSet(l.groups)} ip ttl < ${l.ttl} ip ttl set ${l.ttl} comment "multicast ttl ${l.iif}"`,
    }));
}

interface CheckedNetmap {
  link: string;
  device: string;
  real: IpPrefix;
  mapped: IpPrefix;
  remote: IpPrefix[];
}

function checkNetmaps(netmaps: NftDesired['netmaps']): CheckedNetmap[] {
  const checked = netmaps.map((m, i): CheckedNetmap => {
    const at = `netmaps[${i}]`;
    const link = ruleName(m.link, `${at}.link`);
    const device = interfaceName(m.device, `${at}.device`);
    const real = prefix(m.real, `${at}.real`);
    const mapped = prefix(m.mapped, `${at}.mapped`);
    if (mapped.family !== real.family) {
      throw new InvalidArgumentError(
        `${at}.mapped: ${m.mapped} is ${familyName(mapped.family)} but real ${m.real} is ${familyName(real.family)}`,
      );
    }
    if (mapped.prefixLength !== real.prefixLength) {
      throw new InvalidArgumentError(
        `${at}.mapped: ${m.mapped} is a /${mapped.prefixLength} but real ${m.real} is a /${real.prefixLength}; ` +
          'NETMAP maps address for address, so both must have the same prefix length',
      );
    }
    if (!Array.isArray(m.remote) || m.remote.length === 0) {
      throw new InvalidArgumentError(`${at}.remote: name at least one prefix of the far side`);
    }
    const remote = m.remote.map((r, j) => {
      const p = prefix(r, `${at}.remote[${j}]`);
      if (p.family !== real.family) {
        throw new InvalidArgumentError(
          `${at}.remote[${j}]: ${r} is ${familyName(p.family)} but real ${m.real} is ${familyName(real.family)}`,
        );
      }
      return p;
    });
    return { link, device, real, mapped, remote: minimalPrefixes(remote) };
  });
  const order = checked
    .map((m, i) => ({ m, i }))
    .sort((a, b) => compareText(a.m.link, b.m.link) || comparePrefix(a.m.real, b.m.real));
  // Two netmaps of one device whose remote prefixes overlap would both claim a packet; nft would take
  // the first, silently. Refuse instead.
  for (let x = 0; x < order.length; x++) {
    for (let y = x + 1; y < order.length; y++) {
      const a = order[x];
      const b = order[y];
      if (!a || !b || a.m.device !== b.m.device || a.m.real.family !== b.m.real.family) continue;
      if (!a.m.remote.some((ra) => b.m.remote.some((rb) => overlaps(ra, rb)))) continue;
      for (const [what, pa, pb] of [
        ['real', a.m.real, b.m.real],
        ['mapped', a.m.mapped, b.m.mapped],
      ] as const) {
        if (overlaps(pa, pb)) {
          throw new InvalidArgumentError(
            `netmaps[${b.i}].${what}: ${formatPrefix(pb)} overlaps ${formatPrefix(pa)} of netmaps[${a.i}] ` +
              `(link ${a.m.link}) on device ${a.m.device} with overlapping remote prefixes: a packet could match both`,
          );
        }
      }
    }
  }
  return order.map(({ m }) => m);
}

interface CheckedForward {
  name: string;
  iif: string;
  protocol: 'tcp' | 'udp';
  port: number;
  to: { family: IpFamily };
  toText: string;
  toPort: number;
}

function checkPortForwards(forwards: NftDesired['portForwards']): CheckedForward[] {
  const byName = new Map<string, number>();
  const byMatch = new Map<string, number>();
  const checked = forwards.map((f, i): CheckedForward => {
    const at = `portForwards[${i}]`;
    const name = ruleName(f.name, `${at}.name`);
    const seen = byName.get(name);
    if (seen !== undefined) {
      throw new InvalidArgumentError(`${at}.name: "${name}" is also the name of portForwards[${seen}]`);
    }
    byName.set(name, i);
    const iif = interfaceName(f.iif, `${at}.iif`);
    if (f.protocol !== 'tcp' && f.protocol !== 'udp') {
      throw new InvalidArgumentError(`${at}.protocol: "${String(f.protocol)}" is not tcp or udp`);
    }
    const port = portNumber(f.port, `${at}.port`);
    const toPort = portNumber(f.toPort, `${at}.toPort`);
    let to: ReturnType<typeof parseIp>;
    try {
      to = parseIp(f.to);
    } catch (cause) {
      throw new InvalidArgumentError(`${at}.to: "${String(f.to)}" is not an IP address`, { cause });
    }
    const match = `${iif} ${f.protocol} ${port}`;
    const clash = byMatch.get(match);
    if (clash !== undefined) {
      throw new InvalidArgumentError(
        `${at}.port: ${f.protocol} port ${port} on ${iif} is already forwarded by portForwards[${clash}]`,
      );
    }
    byMatch.set(match, i);
    return { name, iif, protocol: f.protocol, port, to, toText: formatIp(to.bytes), toPort };
  });
  return checked.sort((a, b) => compareText(a.name, b.name));
}

function renderInput(input: NonNullable<NftDesired['input']>): RenderedRule[] {
  const u = interfaceName(input.underlay, 'input.underlay');
  const ports = (list: unknown, field: string): number[] => {
    if (!Array.isArray(list)) throw new InvalidArgumentError(`${field}: must be a list`);
    return [...new Set(list.map((p, i) => portNumber(p, `${field}[${i}]`)))].sort((a, b) => a - b);
  };
  const udp = ports(input.udpPorts, 'input.udpPorts');
  const tcp = ports(input.tcpPorts, 'input.tcpPorts');
  const set = (xs: number[]): string => (xs.length === 1 ? String(xs[0]) : `{ ${xs.join(', ')} }`);
  const rule = (text: string, what: string): RenderedRule => ({
    chain: 'input',
    text: `iifname "${u}" ${text} comment "underlay: ${what}"`,
  });
  const out = [
    rule('ct state established,related accept', 'replies'),
    rule('ct state invalid drop', 'invalid'),
    rule('meta l4proto { icmp, ipv6-icmp } accept', 'icmp'),
    // A cloud image gets its underlay address by DHCP: the server's answers are not replies to conntrack.
    rule('udp sport 67 udp dport 68 accept', 'dhcp'),
    rule('udp sport 547 udp dport 546 accept', 'dhcpv6'),
  ];
  if (udp.length > 0) out.push(rule(`udp dport ${set(udp)} accept`, 'tunnel ports'));
  if (tcp.length > 0) out.push(rule(`tcp dport ${set(tcp)} accept`, 'tunnel ports'));
  if (input.api !== undefined) {
    const port = portNumber(input.api.port, 'input.api.port');
    if (!Array.isArray(input.api.from)) throw new InvalidArgumentError('input.api.from: must be a list');
    const from = minimalPrefixes(input.api.from.map((p, i) => prefix(p, `input.api.from[${i}]`)));
    for (const family of ['inet', 'inet6'] as const) {
      const of = from.filter((p) => p.family === family);
      if (of.length > 0) {
        out.push(rule(`${ipKeyword(family)} saddr ${prefixSet(of)} tcp dport ${port} accept`, 'api'));
      }
    }
  }
  out.push(rule('counter drop', 'everything else'));
  return out;
}

function renderForwardRules(rules: NonNullable<NftDesired['forwardRules']>): RenderedRule[] {
  if (!Array.isArray(rules)) throw new InvalidArgumentError('forwardRules: must be a list');
  const names = new Map<string, number>();
  return rules.map((r, i): RenderedRule => {
    const at = `forwardRules[${i}]`;
    const name = ruleName(r.name, `${at}.name`);
    const seen = names.get(name);
    if (seen !== undefined) {
      throw new InvalidArgumentError(`${at}.name: "${name}" is also the name of forwardRules[${seen}]`);
    }
    names.set(name, i);
    const parts: string[] = [];
    if (r.iif !== undefined) parts.push(`iifname "${interfaceName(r.iif, `${at}.iif`)}"`);
    if (r.oif !== undefined) parts.push(`oifname "${interfaceName(r.oif, `${at}.oif`)}"`);
    const src = (r.src ?? []).map((p, j) => prefix(p, `${at}.src[${j}]`));
    const dst = (r.dst ?? []).map((p, j) => prefix(p, `${at}.dst[${j}]`));
    const families = new Set([...src, ...dst].map((p) => p.family));
    if (families.size > 1) {
      throw new InvalidArgumentError(
        `${at}: mixes IPv4 and IPv6 prefixes in src/dst; make one rule per family`,
      );
    }
    const [family] = [...families];
    if (family !== undefined) {
      const ipk = ipKeyword(family);
      if (src.length > 0) parts.push(`${ipk} saddr ${prefixSet(minimalPrefixes(src))}`);
      if (dst.length > 0) parts.push(`${ipk} daddr ${prefixSet(minimalPrefixes(dst))}`);
    }
    if (r.protocol === 'icmp') {
      parts.push(
        family === 'inet'
          ? 'meta l4proto icmp'
          : family === 'inet6'
            ? 'meta l4proto ipv6-icmp'
            : 'meta l4proto { icmp, ipv6-icmp }',
      );
    } else if (r.protocol === 'tcp' || r.protocol === 'udp') {
      if (r.ports !== undefined) {
        const from = portNumber(r.ports.from, `${at}.ports.from`);
        const to = portNumber(r.ports.to, `${at}.ports.to`);
        if (to < from) throw new InvalidArgumentError(`${at}.ports: ${from}-${to} ends before it starts`);
        parts.push(`${r.protocol} dport ${from === to ? from : `${from}-${to}`}`);
      } else parts.push(`meta l4proto ${r.protocol}`);
    } else if (r.protocol !== undefined) {
      throw new InvalidArgumentError(`${at}.protocol: "${String(r.protocol)}" is not tcp, udp or icmp`);
    } else if (r.ports !== undefined) {
      throw new InvalidArgumentError(`${at}.ports: a port needs protocol tcp or udp`);
    }
    if (r.action !== 'accept' && r.action !== 'drop' && r.action !== 'reject') {
      throw new InvalidArgumentError(`${at}.action: "${String(r.action)}" is not accept, drop or reject`);
    }
    parts.push(r.action === 'drop' ? 'counter drop' : r.action === 'reject' ? 'counter reject' : 'accept');
    return { chain: 'filter_forward', text: `${parts.join(' ')} comment "rule ${name}"` };
  });
}

function checkMasquerade(m: NonNullable<NftDesired['masquerade']>): {
  underlay: string;
  sources: IpPrefix[];
  exceptTo: IpPrefix[];
} {
  const underlay = interfaceName(m.underlay, 'masquerade.underlay');
  if (!Array.isArray(m.sources) || m.sources.length === 0) {
    throw new InvalidArgumentError(
      'masquerade.sources: name at least one prefix (leave masquerade out to turn it off)',
    );
  }
  const sources = m.sources.map((s, i) => prefix(s, `masquerade.sources[${i}]`));
  const exceptTo = (m.exceptTo ?? []).map((s, i) => prefix(s, `masquerade.exceptTo[${i}]`));
  return { underlay, sources: minimalPrefixes(sources), exceptTo: minimalPrefixes(exceptTo) };
}

function checkMssClamp(clamps: NftDesired['mssClamp']): { device: string; mss?: number }[] {
  const seen = new Map<string, number>();
  const checked = clamps.map((c, i) => {
    const at = `mssClamp[${i}]`;
    const device = interfaceName(c.device, `${at}.device`);
    const before = seen.get(device);
    if (before !== undefined) {
      throw new InvalidArgumentError(`${at}.device: ${device} is already clamped by mssClamp[${before}]`);
    }
    seen.set(device, i);
    if (c.mss === undefined) return { device };
    if (!Number.isInteger(c.mss) || c.mss < MSS_RANGE.min || c.mss > MSS_RANGE.max) {
      throw new InvalidArgumentError(
        `${at}.mss: ${String(c.mss)} is not an MSS (${MSS_RANGE.min} to ${MSS_RANGE.max}: the path MTU minus 40 for IPv4, 60 for IPv6)`,
      );
    }
    return { device, mss: c.mss };
  });
  return checked.sort((a, b) => compareText(a.device, b.device));
}

function interfaceName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !INTERFACE_NAME.test(value)) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(value)} is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)`,
    );
  }
  return value;
}

function ruleName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !RULE_NAME.test(value)) {
    throw new InvalidArgumentError(
      `${field}: ${JSON.stringify(value)} is not a name (1 to 64 of A-Z a-z 0-9 _ . : -, starting with a letter or digit)`,
    );
  }
  return value;
}

function prefix(value: unknown, field: string): IpPrefix {
  if (typeof value !== 'string')
    throw new InvalidArgumentError(`${field}: ${JSON.stringify(value)} is not a prefix`);
  try {
    return parsePrefix(value);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new InvalidArgumentError(`${field}: ${why}`, { cause });
  }
}

function portNumber(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new InvalidArgumentError(`${field}: ${JSON.stringify(value)} is not a port (1 to 65535)`);
  }
  return value;
}

function ipKeyword(family: IpFamily): 'ip' | 'ip6' {
  return family === 'inet' ? 'ip' : 'ip6';
}

function familyName(family: IpFamily): string {
  return family === 'inet' ? 'IPv4' : 'IPv6';
}

/** `a` alone, or `{ a, b }`. */
function prefixSet(prefixes: readonly IpPrefix[]): string {
  const texts = prefixes.map(formatPrefix);
  return texts.length === 1 ? (texts[0] ?? '') : `{ ${texts.join(', ')} }`;
}

/**
 * Sorted, without duplicates and without prefixes another one in the list covers: nft refuses
 * overlapping elements in a named set and merges them in an anonymous one, so say it the merged way.
 */
function minimalPrefixes(prefixes: readonly IpPrefix[]): IpPrefix[] {
  const sorted = [...prefixes].sort(comparePrefix);
  const out: IpPrefix[] = [];
  for (const p of sorted) if (!out.some((q) => covers(q, p))) out.push(p);
  return out;
}

function covers(outer: IpPrefix, inner: IpPrefix): boolean {
  return (
    outer.family === inner.family &&
    outer.prefixLength <= inner.prefixLength &&
    maskBytes(inner.bytes, outer.prefixLength).equals(outer.bytes)
  );
}

function overlaps(a: IpPrefix, b: IpPrefix): boolean {
  return covers(a, b) || covers(b, a);
}

/** IPv4 before IPv6, then by address, then shorter first (so a covering prefix comes before what it covers). */
function comparePrefix(a: IpPrefix, b: IpPrefix): number {
  if (a.family !== b.family) return a.family === 'inet' ? -1 : 1;
  return Buffer.compare(a.bytes, b.bytes) || a.prefixLength - b.prefixLength;
}

/** Code-unit order, not the locale's: the same on every machine. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
