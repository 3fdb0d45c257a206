// Pure: what a running smcrouted holds, from `smcroutectl -p -d show routes`, and the interfaces of a
// network namespace from /proc/net/dev. Planning always starts from these, never from memory, so a
// daemon adopted from an earlier run (or changed by hand) is brought to the desired routes all the same.
import type { MulticastRoute } from './multicast.types.js';

/**
 * The routes smcrouted was given (its "(*,G) Template Rules" and "(S,G) Rules"), not the kernel's cache
 * entries below them ("Kernel MFC Table"), in listed order.
 */
export function parseSmcrouteRoutes(text: string): MulticastRoute[] {
  const routes: MulticastRoute[] = [];
  let inRules = false;
  for (const line of text.split('\n')) {
    if (/^\(\*,G\) Template Rules|^\(S,G\) Rules/.test(line)) {
      inRules = true;
      continue;
    }
    if (/^Kernel MFC Table/.test(line)) {
      inRules = false;
      continue;
    }
    if (!inRules) continue;
    const m = /^\(([^,]+),\s*([^)]+)\)\s+(\S+)\s+\d+\s+\d+\s*(.*)$/.exec(line);
    if (!m?.[1] || !m[2] || !m[3]) continue;
    const source = m[1].trim();
    routes.push({
      group: m[2].trim().replace(/\/32$/, ''),
      ...(source === '*' ? {} : { source: source.replace(/\/32$/, '') }),
      inbound: m[3],
      outbound: (m[4] ?? '').trim().split(/\s+/).filter(Boolean),
    });
  }
  return routes;
}

/** The interface names of /proc/net/dev (`  eth0: 1234 …`), sorted. */
export function parseProcNetDev(text: string): string[] {
  const names: string[] = [];
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):/.exec(line);
    if (m?.[1]) names.push(m[1]);
  }
  return names.sort();
}
