// Pure: the kernel's IPv4 multicast forwarding cache (/proc/net/ip_mr_cache) and VIF table
// (/proc/net/ip_mr_vif) parsed, and each cache entry credited to the desired route that produced it.
// Both files describe the network namespace of the process that reads them, so they are read through
// the daemon's launcher.
import type {
  MulticastDesired,
  MulticastFlowCounters,
  MulticastRoute,
  MulticastRouteCounters,
} from './multicast.types.js';
import { formatIpv4, inIpv4Prefix, parseIpv4 } from './smcroute.render.js';

/** VIF index → interface name, from /proc/net/ip_mr_vif (` 0 rs   300  10  0  0 00008 …`). */
export function parseIpMrVif(text: string): Map<number, string> {
  const vifs = new Map<number, string>();
  for (const line of text.split('\n').slice(1)) {
    const m = /^\s*(\d+)\s+(\S+)\s/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) vifs.set(Number(m[1]), m[2]);
  }
  return vifs;
}

/**
 * The kernel prints each address as the %08X of a network-order u32 read in host order: on a
 * little-endian machine 239.1.1.1 is `010101EF`.
 */
function hexAddress(hex: string, littleEndian: boolean): string | undefined {
  if (!/^[0-9A-Fa-f]{8}$/.test(hex)) return undefined;
  const value = parseInt(hex, 16);
  if (!littleEndian) return formatIpv4(value);
  const b = [0, 8, 16, 24].map((s) => (value >>> s) & 0xff);
  return b.join('.');
}

/**
 * Entries of /proc/net/ip_mr_cache: `Group Origin Iif Pkts Bytes Wrong Oifs` with Oifs as `vif:ttl`.
 * `littleEndian`: the byte order of the machine that printed it (os.endianness() === 'LE').
 */
export function parseIpMrCache(
  text: string,
  vifs: ReadonlyMap<number, string>,
  littleEndian = true,
): MulticastFlowCounters[] {
  const flows: MulticastFlowCounters[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const [groupHex, originHex, iif, pkts, bytes, wrong, ...oifs] = f;
    if (wrong === undefined || groupHex === undefined || originHex === undefined) continue;
    const group = hexAddress(groupHex, littleEndian);
    const source = hexAddress(originHex, littleEndian);
    if (!group || !source) continue;
    flows.push({
      source,
      group,
      // An unresolved entry carries no valid parent VIF.
      inbound: vifs.get(Number(iif)),
      outbound: oifs.map((o) => vifs.get(Number(o.split(':')[0])) ?? `vif${o.split(':')[0]}`),
      packets: Number(pkts),
      bytes: Number(bytes),
      wrongInterface: Number(wrong),
    });
  }
  return flows;
}

function groupPrefix(r: MulticastRoute): { address: number; length: number } {
  const [addr = '', len] = r.group.split('/');
  return { address: parseIpv4(addr) ?? 0, length: len === undefined ? 32 : Number(len) };
}

/** How specific a route is: (S,G) before (*,G), then the longer group prefix. */
const specificity = (r: MulticastRoute): number => (r.source === undefined ? 0 : 100) + groupPrefix(r).length;

/**
 * Each desired route with the cache entries it produced: an entry belongs to the most specific route
 * with its inbound interface, a group range holding its group and no other source; entries no route
 * claims are left out. Every desired route appears, in desired order, with zeros when it saw nothing.
 */
export function mapMulticastCounters(
  desired: MulticastDesired,
  flows: readonly MulticastFlowCounters[],
): MulticastRouteCounters[] {
  const result = desired.routes.map((route): MulticastRouteCounters => ({
    route,
    packets: 0,
    bytes: 0,
    wrongInterface: 0,
    flows: [],
  }));
  for (const flow of flows) {
    const group = parseIpv4(flow.group);
    if (group === undefined) continue;
    let best: MulticastRouteCounters | undefined;
    for (const c of result) {
      const r = c.route;
      if (r.inbound !== flow.inbound || !inIpv4Prefix(group, groupPrefix(r))) continue;
      if (r.source !== undefined && r.source !== flow.source) continue;
      if (!best || specificity(r) > specificity(best.route)) best = c;
    }
    if (!best) continue;
    best.packets += flow.packets;
    best.bytes += flow.bytes;
    best.wrongInterface += flow.wrongInterface;
    best.flows.push(flow);
  }
  return result;
}
