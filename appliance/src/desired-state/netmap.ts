// NETMAP (prefix translation for overlapping subnets) in exported peer configs: the far end's mirrored
// netmap, and what a third-party device is told. Pure. The tunnel's view of a link is wireSubnets
// (document.ts).
import type { Link, Netmap } from './document.js';

/**
 * The netmap the far end of `link` needs, mirrored: what this side calls remote is its local and the
 * other way round. Only the parts that are set; undefined when none is.
 */
export function mirroredNetmap(link: Link): Netmap | undefined {
  const n = link.netmap;
  if (!n || (n.local === undefined && n.remote === undefined)) return undefined;
  return {
    ...(n.remote !== undefined ? { local: n.remote } : {}),
    ...(n.local !== undefined ? { remote: n.local } : {}),
  };
}

/**
 * The comment line a third-party export carries when the link maps the far end's LAN: the device must
 * translate it itself, Weft cannot do it there. Undefined when the link has no netmap.remote.
 */
export function thirdPartyNetmapNote(link: Link): string | undefined {
  const n = link.netmap;
  if (n?.remote === undefined) return undefined;
  const real = link.remote_subnets.join(', ');
  return `NETMAP: this device must present its LAN (${real}) as ${n.remote} (1:1 prefix translation, host part kept): the Weft side expects it there.`;
}
