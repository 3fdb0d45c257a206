// Pure: the desired multicast routes → smcroute.conf, and the smcroutectl commands that move a running
// smcrouted from one desired state to the next. Validation lists every problem, each naming its field.
import { InvalidArgumentError } from '../errors.js';
import type { MulticastDesired, MulticastRoute } from './multicast.types.js';

/** Kernel interface names (IFNAMSIZ 16 with the NUL) in the characters smcroute.conf can carry. */
const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

export interface Ipv4Prefix {
  /** Network address as an unsigned 32-bit number. */
  address: number;
  length: number;
}

/** `a.b.c.d` → number, or undefined. */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    value = value * 256 + Number(p);
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function parseIpv4Prefix(text: string): Ipv4Prefix | undefined {
  const [addr, len, ...rest] = text.split('/');
  if (addr === undefined || rest.length > 0) return undefined;
  const address = parseIpv4(addr);
  const length = len === undefined ? 32 : /^[0-9]{1,2}$/.test(len) ? Number(len) : NaN;
  if (address === undefined || !(length >= 0 && length <= 32)) return undefined;
  return { address, length };
}

export const maskOf = (length: number): number => (length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0);

/** Whether `address` lies in `prefix`. */
export function inIpv4Prefix(address: number, prefix: Ipv4Prefix): boolean {
  const mask = maskOf(prefix.length);
  return (address & mask) >>> 0 === (prefix.address & mask) >>> 0;
}

const MULTICAST = { address: 0xe0000000, length: 4 };
const LINK_LOCAL = { address: 0xe0000000, length: 24 };

/** Every problem of `desired`, each starting with its field (`routes[1].group: …`); empty when valid. */
export function validateMulticastDesired(desired: MulticastDesired): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  desired.routes.forEach((r, i) => {
    const at = `routes[${i}]`;
    const name = (field: string, value: string): void => {
      if (!INTERFACE_NAME.test(value)) {
        problems.push(`${at}.${field}: "${value}" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)`);
      }
    };
    name('inbound', r.inbound);
    if (r.outbound.length === 0) problems.push(`${at}.outbound: name at least one interface`);
    r.outbound.forEach((o, j) => {
      name(`outbound[${j}]`, o);
      if (o === r.inbound) {
        problems.push(`${at}.outbound[${j}]: "${o}" is the inbound interface; a group is not sent back`);
      }
      if (r.outbound.indexOf(o) !== j) problems.push(`${at}.outbound[${j}]: "${o}" is named twice`);
    });
    const group = parseIpv4Prefix(r.group);
    if (!group) {
      problems.push(
        `${at}.group: "${r.group}" is not an IPv4 group or group/length (IPv6 is not supported yet)`,
      );
    } else if (group.length < 4 || !inIpv4Prefix(group.address, MULTICAST)) {
      problems.push(`${at}.group: "${r.group}" is not inside the multicast range 224.0.0.0/4`);
    } else if ((group.address & ~maskOf(group.length)) >>> 0 !== 0) {
      problems.push(
        `${at}.group: "${r.group}" has host bits set; write ${formatIpv4((group.address & maskOf(group.length)) >>> 0)}/${group.length}`,
      );
    } else if (
      inIpv4Prefix(group.address, LINK_LOCAL) ||
      (group.length < 24 && inIpv4Prefix(LINK_LOCAL.address, group))
    ) {
      problems.push(
        `${at}.group: "${r.group}" covers 224.0.0.0/24, link-local groups (OSPF, VRRP, mDNS…) that routers never forward: bridge them with the L2 option instead`,
      );
    }
    if (r.source !== undefined) {
      const s = parseIpv4(r.source);
      if (s === undefined) problems.push(`${at}.source: "${r.source}" is not an IPv4 address`);
      else if (s === 0) problems.push(`${at}.source: leave it out for a (*,G) route instead of 0.0.0.0`);
      else if (s >= 0xe0000000) problems.push(`${at}.source: "${r.source}" is not a unicast sender address`);
    }
    const key = routeKey(r);
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push(`${at}: same inbound, source and group as routes[${first}]; merge their outbound lists`);
    } else seen.set(key, i);
  });
  const mapped = new Map<string, number>();
  (desired.sourceMaps ?? []).forEach((m, i) => {
    const at = `sourceMaps[${i}]`;
    if (!INTERFACE_NAME.test(m.outbound)) {
      problems.push(
        `${at}.outbound: "${m.outbound}" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)`,
      );
    }
    const first = mapped.get(m.outbound);
    if (first !== undefined)
      problems.push(`${at}.outbound: "${m.outbound}" already has sourceMaps[${first}]`);
    else mapped.set(m.outbound, i);
    const from = parseIpv4Prefix(m.from);
    const to = parseIpv4Prefix(m.to);
    for (const [field, p, text] of [
      ['from', from, m.from],
      ['to', to, m.to],
    ] as const) {
      if (!p) problems.push(`${at}.${field}: "${text}" is not an IPv4 prefix`);
      else if ((p.address & ~maskOf(p.length)) >>> 0 !== 0) {
        problems.push(`${at}.${field}: "${text}" has host bits set`);
      }
    }
    if (from && to && from.length !== to.length) {
      problems.push(`${at}.to: "${m.to}" is not as long as from "${m.from}" (the host part is kept)`);
    }
  });
  return problems;
}

/** Throws InvalidArgumentError listing every problem. */
export function assertValidMulticastDesired(desired: MulticastDesired): void {
  const problems = validateMulticastDesired(desired);
  if (problems.length > 0) {
    throw new InvalidArgumentError(`invalid multicast routes: ${problems.join('; ')}`);
  }
}

/** What identifies a route to smcrouted (its `remove` arguments). */
export function routeKey(r: MulticastRoute): string {
  // 239.1.1.1 and 239.1.1.1/32 are one group, as smcroutectl shows it without the /32.
  return `${r.inbound} ${r.source ?? '*'} ${r.group.replace(/\/32$/, '')}`;
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function sortedRoutes(desired: MulticastDesired): MulticastRoute[] {
  return desired.routes
    .map((r) => ({ ...r, outbound: [...r.outbound].sort(byString) }))
    .sort((a, b) => byString(routeKey(a), routeKey(b)));
}

/** Every interface a route uses, sorted. */
export function multicastInterfaces(desired: MulticastDesired): string[] {
  return [...new Set(desired.routes.flatMap((r) => [r.inbound, ...r.outbound]))].sort(byString);
}

/**
 * smcroute.conf for `smcrouted -N`: a `phyint … enable` for every interface used (before any mroute,
 * as smcrouted requires), then one `mroute` per route, all sorted so equal input gives equal bytes.
 */
export function renderSmcrouteConf(desired: MulticastDesired): string {
  assertValidMulticastDesired(desired);
  const lines = ['# Written by Weft from the desired multicast routes; changes here are overwritten.'];
  for (const name of multicastInterfaces(desired)) lines.push(`phyint ${name} enable`);
  for (const r of sortedRoutes(desired)) {
    const source = r.source === undefined ? '' : ` source ${r.source}`;
    lines.push(`mroute from ${r.inbound}${source} group ${r.group} to ${r.outbound.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

const removeLine = (r: MulticastRoute): string =>
  ['remove', r.inbound, ...(r.source === undefined ? [] : [r.source]), r.group].join(' ');
const addLine = (r: MulticastRoute): string =>
  ['add', r.inbound, ...(r.source === undefined ? [] : [r.source]), r.group, ...r.outbound].join(' ');

export interface SmcroutePlan {
  /**
   * `smcroutectl reload` needed: the set of interfaces changed. smcrouted 2.5.6 then adds VIFs for new
   * phyints (and the conf's new routes) and drops the VIFs of interfaces no longer named, without
   * touching other flows; it does NOT change the outbound list of a route it already has.
   */
  reload: boolean;
  /** `smcroutectl -b` lines run after the reload: remove, remove+add for a changed route, add. */
  batch: string[];
}

/** How to move a running smcrouted from `from` to `to` (both valid); empty when nothing changes. */
export function planSmcroute(from: MulticastDesired, to: MulticastDesired): SmcroutePlan {
  const reload = multicastInterfaces(from).join(' ') !== multicastInterfaces(to).join(' ');
  const before = new Map(sortedRoutes(from).map((r) => [routeKey(r), r]));
  const after = new Map(sortedRoutes(to).map((r) => [routeKey(r), r]));
  const batch: string[] = [];
  for (const [key, r] of before) if (!after.has(key)) batch.push(removeLine(r));
  for (const [key, r] of after) {
    const old = before.get(key);
    if (!old) {
      if (!reload) batch.push(addLine(r)); // a reload reads it from the conf already
    } else if (old.outbound.join(' ') !== r.outbound.join(' ')) {
      // smcrouted keeps an existing route's outbound list on reload and on add: replace it.
      batch.push(removeLine(r), addLine(r));
    }
  }
  return { reload, batch };
}
