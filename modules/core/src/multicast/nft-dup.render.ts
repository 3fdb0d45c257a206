// Pure: multicast routes → the nft script of `table ip weft_mcast`, and that table as `nft -j` lists it
// → the routes it holds and its counters. The forwarder of kernels without multicast routing
// (CONFIG_IP_MROUTE): each route is one prerouting rule that copies the group's packets to every
// outbound interface with `dup to ip daddr device …` (the copy leaves with TTL-1, as a forwarded
// packet would), so no multicast routing daemon and no VIF is needed.
//
// Per route: a named counter `f_<id>` (the packets of the route that arrived on its inbound interface,
// forwarded or, with TTL 1, not: what the kernel's multicast cache counts), and `w_<id>` (packets of its group
// that arrived on another interface and no route took: the kernel's "wrong interface"); per sender, an
// element of the dynamic set `flows` (source . group . inbound) with its own counter. Rules are ordered
// most specific first ((S,G) before (*,G), longer group prefix first) and end with `accept`, so a packet
// is copied by one route only, as the kernel's multicast cache would. Applying keeps the named counters
// and the set (the chain is flushed and refilled in the same transaction), so counters do not reset when
// another group is added.
import { createHash } from 'node:crypto';
import type { NftTableName } from '../nft/nft.types.js';
import { WEFT_MULTICAST_NFT_TABLE } from '../owned.js';
import type { MulticastFlowCounters, MulticastRoute, MulticastSourceMap } from './multicast.types.js';
import {
  assertValidMulticastDesired,
  formatIpv4,
  maskOf,
  parseIpv4Prefix,
  routeKey,
} from './smcroute.render.js';

export const MULTICAST_NFT_CHAIN = 'prerouting';
/** The chain that gives the copies leaving by a NETMAP link their mapped source. */
export const MULTICAST_NFT_OUTPUT = 'output';
export const MULTICAST_NFT_FLOWS = 'flows';
/** How long a sender stays in `flows` after its last packet. */
export const MULTICAST_FLOW_TIMEOUT_S = 600;

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function groupLength(r: MulticastRoute): number {
  const [, len] = r.group.split('/');
  return len === undefined ? 32 : Number(len);
}

/** (S,G) before (*,G), then the longer group prefix, then by key: the order the rules are tried in. */
export function multicastRuleOrder(routes: readonly MulticastRoute[]): MulticastRoute[] {
  const rank = (r: MulticastRoute): number => (r.source === undefined ? 0 : 100) + groupLength(r);
  return [...routes].sort((a, b) => rank(b) - rank(a) || byString(routeKey(a), routeKey(b)));
}

/** The id of a route's named counters (`f_<id>`, `w_<id>`): 16 hex digits of the route key's SHA-256. */
export function multicastCounterId(r: MulticastRoute): string {
  return createHash('sha256').update(routeKey(r)).digest('hex').slice(0, 16);
}

const quote = (name: string): string => `"${name}"`;
const match = (r: MulticastRoute): string =>
  `${r.source === undefined ? '' : `ip saddr ${r.source} `}ip daddr ${r.group.replace(/\/32$/, '')}`;

/** The rule that forwards `r`, as nft lists it (without counter values). */
export function forwardRule(r: MulticastRoute): string {
  const dups = [...r.outbound]
    .sort(byString)
    .map((o) => `dup to ip daddr device ${quote(o)}`)
    .join(' ');
  return (
    `iifname ${quote(r.inbound)} ${match(r)} ip ttl > 1 counter name "f_${multicastCounterId(r)}" ` +
    `update @${MULTICAST_NFT_FLOWS} { ip saddr . ip daddr . iifname } ${dups} accept comment "route ${routeKey(r)}"`
  );
}

/** The rule before `r`'s forward rule: counts a TTL-1 packet of `r` and lets it go no further. */
export function ttlExpiredRule(r: MulticastRoute): string {
  return (
    `iifname ${quote(r.inbound)} ${match(r)} ip ttl <= 1 counter name "f_${multicastCounterId(r)}" ` +
    `update @${MULTICAST_NFT_FLOWS} { ip saddr . ip daddr . iifname } accept comment "ttl ${routeKey(r)}"`
  );
}

/** The rule that counts `r`'s group arriving elsewhere (tried after every forward rule). */
export function wrongInterfaceRule(r: MulticastRoute): string {
  return `iifname != ${quote(r.inbound)} ${match(r)} counter name "w_${multicastCounterId(r)}" accept comment "wrong ${routeKey(r)}"`;
}

const mapKey = (m: MulticastSourceMap): string => `map ${m.outbound} ${m.from} ${m.to}`;

/**
 * The output rule for `m`: our copies (untracked, as dup leaves them) of a group leaving by its device
 * from inside `from` get the source inside `to`, host part kept (`& hostmask | to`, stateless; nft
 * fixes the IP and UDP checksums). Nothing else is touched: not tracked traffic, not unicast.
 */
export function sourceMapRule(m: MulticastSourceMap): string {
  const to = parseIpv4Prefix(m.to);
  const hostmask = formatIpv4(~maskOf(to?.length ?? 32) >>> 0);
  return (
    `ct state untracked oifname ${quote(m.outbound)} ip daddr 224.0.0.0/4 ip saddr ${m.from} ` +
    `ip saddr set ip saddr & ${hostmask} | ${to ? formatIpv4(to.address) : m.to} comment "${mapKey(m)}"`
  );
}

/** The output chain's comments, in order, for `maps`. */
export function sourceMapComments(maps: readonly MulticastSourceMap[]): string[] {
  return [...maps].sort((a, b) => byString(a.outbound, b.outbound)).map(mapKey);
}

/** The comments of the chain's rules, in order, for a table holding `routes` (how drift sees order). */
export function multicastRuleComments(routes: readonly MulticastRoute[]): string[] {
  const ordered = multicastRuleOrder(routes);
  return [
    ...ordered.flatMap((r) => [`ttl ${routeKey(r)}`, `route ${routeKey(r)}`]),
    ...ordered.map((r) => `wrong ${routeKey(r)}`),
  ];
}

/**
 * The script that makes the table hold `routes` (valid, every interface present) in one transaction;
 * `existingCounters` are the table's named counters now (those no route uses any more are deleted).
 * No route at all deletes the table.
 */
export function renderMulticastNft(
  routes: readonly MulticastRoute[],
  existingCounters: readonly string[],
  options: { table?: NftTableName; sourceMaps?: readonly MulticastSourceMap[] } = {},
): string {
  const table = options.table ?? WEFT_MULTICAST_NFT_TABLE;
  const maps = [...(options.sourceMaps ?? [])].sort((a, b) => byString(a.outbound, b.outbound));
  assertValidMulticastDesired({ routes: [...routes], sourceMaps: maps });
  const id = `${table.family} ${table.name}`;
  if (routes.length === 0) return renderMulticastNftCleanup(table);
  const ordered = multicastRuleOrder(routes);
  const wanted = ordered.flatMap((r) => [`f_${multicastCounterId(r)}`, `w_${multicastCounterId(r)}`]);
  const lines = [
    `table ${id} {`,
    `  set ${MULTICAST_NFT_FLOWS} {`,
    '    type ipv4_addr . ipv4_addr . ifname',
    '    flags dynamic,timeout',
    `    timeout ${MULTICAST_FLOW_TIMEOUT_S}s`,
    '    size 65536',
    '    counter',
    '  }',
    `  chain ${MULTICAST_NFT_CHAIN} {`,
    '    type filter hook prerouting priority filter; policy accept;',
    '  }',
    `  chain ${MULTICAST_NFT_OUTPUT} {`,
    '    type filter hook output priority filter; policy accept;',
    '  }',
    '}',
    `flush chain ${id} ${MULTICAST_NFT_CHAIN}`,
    `flush chain ${id} ${MULTICAST_NFT_OUTPUT}`,
    ...wanted.map((c) => `add counter ${id} ${c}`),
    ...[...existingCounters]
      .filter((c) => !wanted.includes(c))
      .sort(byString)
      .map((c) => `delete counter ${id} ${c}`),
    ...ordered.flatMap((r) => [
      `add rule ${id} ${MULTICAST_NFT_CHAIN} ${ttlExpiredRule(r)}`,
      `add rule ${id} ${MULTICAST_NFT_CHAIN} ${forwardRule(r)}`,
    ]),
    ...ordered.map((r) => `add rule ${id} ${MULTICAST_NFT_CHAIN} ${wrongInterfaceRule(r)}`),
    ...maps.map((m) => `add rule ${id} ${MULTICAST_NFT_OUTPUT} ${sourceMapRule(m)}`),
  ];
  return `${lines.join('\n')}\n`;
}

/** Deletes the table if it is there (creating it first makes the delete never fail). */
export function renderMulticastNftCleanup(table: NftTableName = WEFT_MULTICAST_NFT_TABLE): string {
  const id = `${table.family} ${table.name}`;
  return `table ${id} {}\ndelete table ${id}\n`;
}

/** What `nft -j list table ip weft_mcast` says, read back. */
export interface MulticastNftObserved {
  /** Whether the prerouting chain is there, hooked. */
  hooked: boolean;
  /** The routes the forward rules hold; an outbound device that is gone shows as its old ifindex. */
  routes: MulticastRoute[];
  /** Named counters by name. */
  counters: Map<string, { packets: number; bytes: number }>;
  /** One per element of `flows`: a sender of a group on an inbound interface. */
  flows: MulticastFlowCounters[];
  /** Rules in the chain that are not ours as rendered (hand-added or edited), as short descriptions. */
  foreign: string[];
  /** Every rule's comment in chain order ('' for none). */
  comments: string[];
  /** The output chain's rule comments in order (the source maps); undefined without the chain. */
  maps: string[] | undefined;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function daddrText(right: unknown): string | undefined {
  if (typeof right === 'string') return right.replace(/\/32$/, '');
  if (isObject(right) && isObject(right.prefix)) {
    const p = right.prefix;
    if (typeof p.addr === 'string' && typeof p.len === 'number') {
      return p.len === 32 ? p.addr : `${p.addr}/${p.len}`;
    }
  }
  return undefined;
}

/** A forward rule's route, or undefined when the rule is not one of ours. */
function ruleRoute(expr: unknown[]): MulticastRoute | undefined {
  let inbound: string | undefined;
  let source: string | undefined;
  let group: string | undefined;
  let ttl = false;
  let counted = false;
  let accepted = false;
  const outbound: string[] = [];
  for (const e of expr) {
    if (!isObject(e)) return undefined;
    if (isObject(e.match)) {
      const { left, right, op } = e.match;
      if (!isObject(left)) return undefined;
      if (isObject(left.meta) && left.meta.key === 'iifname' && op === '==' && typeof right === 'string') {
        inbound = right;
      } else if (isObject(left.payload) && left.payload.protocol === 'ip') {
        const field = left.payload.field;
        if (field === 'saddr' && op === '==' && typeof right === 'string') source = right;
        else if (field === 'daddr' && op === '==') group = daddrText(right);
        else if (field === 'ttl' && op === '>' && right === 1) ttl = true;
        else return undefined;
      } else return undefined;
    } else if ('counter' in e) counted = true;
    else if ('set' in e) continue;
    else if (isObject(e.dup)) {
      const dev = e.dup.dev;
      if (typeof dev === 'string') outbound.push(dev);
      else if (typeof dev === 'number') outbound.push(String(dev));
      else return undefined;
    } else if ('accept' in e) accepted = true;
    else return undefined;
  }
  if (!inbound || !group || !ttl || !counted || !accepted || outbound.length === 0) return undefined;
  return { group, ...(source !== undefined ? { source } : {}), inbound, outbound: outbound.sort(byString) };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Parses `nft -j list table …` output; undefined when it lists no such table. */
export function parseMulticastNft(
  json: string,
  table: NftTableName = WEFT_MULTICAST_NFT_TABLE,
): MulticastNftObserved | undefined {
  const doc = JSON.parse(json) as { nftables?: unknown[] };
  const items = (doc.nftables ?? []).filter(isObject);
  const ours = (o: Json): boolean => o.family === table.family && o.table === table.name;
  if (
    !items.some((i) => isObject(i.table) && i.table.name === table.name && i.table.family === table.family)
  ) {
    return undefined;
  }
  const out: MulticastNftObserved = {
    hooked: false,
    routes: [],
    counters: new Map(),
    flows: [],
    foreign: [],
    comments: [],
    maps: undefined,
  };
  for (const item of items) {
    if (isObject(item.chain) && ours(item.chain) && item.chain.name === MULTICAST_NFT_CHAIN) {
      out.hooked = item.chain.hook === 'prerouting' && item.chain.type === 'filter';
    } else if (isObject(item.chain) && ours(item.chain) && item.chain.name === MULTICAST_NFT_OUTPUT) {
      if (item.chain.hook === 'output') out.maps ??= [];
    } else if (isObject(item.rule) && ours(item.rule) && item.rule.chain === MULTICAST_NFT_OUTPUT) {
      (out.maps ??= []).push(typeof item.rule.comment === 'string' ? item.rule.comment : '');
    } else if (isObject(item.counter) && ours(item.counter) && typeof item.counter.name === 'string') {
      out.counters.set(item.counter.name, {
        packets: num(item.counter.packets),
        bytes: num(item.counter.bytes),
      });
    } else if (isObject(item.set) && ours(item.set) && item.set.name === MULTICAST_NFT_FLOWS) {
      for (const el of Array.isArray(item.set.elem) ? item.set.elem : []) {
        const inner = isObject(el) && isObject(el.elem) ? el.elem : undefined;
        const val = inner && isObject(inner.val) ? inner.val.concat : undefined;
        if (!Array.isArray(val) || val.length !== 3) continue;
        const [source, group, inbound] = val as unknown[];
        if (typeof source !== 'string' || typeof group !== 'string' || typeof inbound !== 'string') continue;
        const counter = inner && isObject(inner.counter) ? inner.counter : {};
        out.flows.push({
          source,
          group,
          inbound,
          outbound: [],
          packets: num(counter.packets),
          bytes: num(counter.bytes),
          wrongInterface: 0,
        });
      }
    } else if (isObject(item.rule) && ours(item.rule) && item.rule.chain === MULTICAST_NFT_CHAIN) {
      const comment = typeof item.rule.comment === 'string' ? item.rule.comment : '';
      const expr = Array.isArray(item.rule.expr) ? item.rule.expr : [];
      out.comments.push(comment);
      if (comment.startsWith('wrong ') || comment.startsWith('ttl ')) continue;
      const route = comment.startsWith('route ') ? ruleRoute(expr) : undefined;
      if (route) out.routes.push(route);
      else out.foreign.push(comment !== '' ? `rule "${comment}"` : `rule handle ${String(item.rule.handle)}`);
    }
  }
  out.flows.sort((a, b) =>
    byString(`${a.inbound} ${a.group} ${a.source}`, `${b.inbound} ${b.group} ${b.source}`),
  );
  return out;
}
