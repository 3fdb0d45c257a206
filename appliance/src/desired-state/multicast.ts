// Multicast groups of the document (multicast.groups): what verify refuses, and what each tunnel module
// and the multicast driver take from them. Pure.
//
// Each site names a group where it handles it: the sending site `from: lan, to: [links…]`, a receiving
// site `from: <link>, to: [lan]`. A link in `to` must carry the group: WireGuard needs it in the peer's
// allowed-ips (wireguard-go sends a packet only to the peer whose allowed-ips hold its destination), IPsec
// in both traffic selectors of both ends (a CHILD_SA carries only what they cover), OpenVPN's tun
// carries it as it is.
import { hasHostBits, networkOf, overlaps, parseIp, parsePrefix, type Prefix } from '../common/cidr.js';
import type { FieldProblem } from '../common/errors.js';
import type { Schemas } from '@weft/api-spec';
import { wireSubnets, type Link, type NormalizedDocument } from './document.js';

export type MulticastGroup = Schemas['MulticastGroup'];
export type MulticastL2 = Schemas['MulticastL2'];

/** What `from`/`to` name for this site's own LAN. */
export const LAN = 'lan';

const MULTICAST: Prefix = { family: 4, addr: 0xe0000000n, len: 4, text: '224.0.0.0/4' };
const LINK_LOCAL: Prefix = { family: 4, addr: 0xe0000000n, len: 24, text: '224.0.0.0/24' };

/** The group as a prefix (`239.1.1.1` → /32). */
export function groupPrefix(group: string): Prefix | undefined {
  return parsePrefix(group.includes('/') ? group : `${group}/32`);
}

/** The groups of the document, [] when it has none. */
export function multicastGroups(doc: NormalizedDocument): MulticastGroup[] {
  return doc.multicast?.groups ?? [];
}

const enabled = (doc: NormalizedDocument, name: string): boolean =>
  doc.links.some((l) => l.name === name && l.enabled !== false);

/**
 * The groups WireGuard must add to this link's peer allowed-ips: those sent into it (the link in `to`).
 * Only for an enabled group route, i.e. with its `from` there.
 */
export function groupsInto(doc: NormalizedDocument, link: Link): string[] {
  return uniqueSorted(
    multicastGroups(doc)
      .filter((g) => g.to.includes(link.name) && (g.from === LAN || enabled(doc, g.from)))
      .map((g) => asPrefix(g.group)),
  );
}

const asPrefix = (group: string): string => (group.includes('/') ? group : `${group}/32`);

/** The groups an IPsec link's traffic selectors must hold on both sides: sent into it or received from it. */
export function groupsAcross(doc: NormalizedDocument, link: Link): string[] {
  return uniqueSorted(
    multicastGroups(doc)
      .filter((g) => g.from === link.name || g.to.includes(link.name))
      .map((g) => asPrefix(g.group)),
  );
}

function uniqueSorted(list: string[]): string[] {
  return [...new Set(list)].sort();
}

/** Every problem of `multicast`, each naming its field and the fix. */
export function verifyMulticast(doc: NormalizedDocument): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const settings = doc.multicast;
  if (!settings) return problems;
  const groups = settings.groups ?? [];
  const links = new Map(doc.links.map((l) => [l.name, l]));
  const known = (): string =>
    doc.links.length > 0
      ? `"lan" or a link name (${doc.links.map((l) => l.name).join(', ')})`
      : '"lan" (no link exists yet: create the link first)';
  const lanLink = links.get(LAN);
  if (lanLink && groups.length > 0) {
    problems.push({
      pointer: `/links/${doc.links.indexOf(lanLink)}/name`,
      related: '/multicast/groups',
      message:
        'a link named "lan" cannot be told from this site\'s LAN in multicast.groups from/to: rename the link',
    });
  }
  const names = new Map<string, number>();
  const placed: { prefix: Prefix; from: string; gi: number }[] = [];
  groups.forEach((g, gi) => {
    const base = `/multicast/groups/${gi}`;
    const first = names.get(g.name);
    if (first !== undefined) {
      problems.push({
        pointer: `${base}/name`,
        related: `/multicast/groups/${first}/name`,
        message: `group name "${g.name}" is used twice: names must be unique`,
      });
    } else names.set(g.name, gi);

    const prefix = groupPrefix(g.group);
    if (!prefix || prefix.family !== 4) {
      problems.push({
        pointer: `${base}/group`,
        message: `"${g.group}" is not an IPv4 group or range like 239.1.1.1 or 239.1.0.0/16 (IPv6 multicast is not supported yet)`,
      });
    } else if (prefix.len < MULTICAST.len || !overlaps(prefix, MULTICAST)) {
      problems.push({
        pointer: `${base}/group`,
        message: `"${g.group}" is not inside the multicast range 224.0.0.0/4: use an address from 224.0.1.0 to 239.255.255.255 (239.0.0.0/8 is for private use)`,
      });
    } else if (hasHostBits(prefix)) {
      problems.push({
        pointer: `${base}/group`,
        message: `"${g.group}" has host bits set: did you mean ${networkOf(prefix)}?`,
      });
    } else if (overlaps(prefix, LINK_LOCAL)) {
      problems.push({
        pointer: `${base}/group`,
        message: `"${g.group}" covers 224.0.0.0/24, link-local groups (OSPF, VRRP, mDNS…) that routers never forward: pick a group outside it${prefix.len < 24 ? ' (narrow the range)' : ''}`,
      });
    } else {
      placed.push({ prefix, from: g.from, gi });
    }

    if (g.source !== undefined) {
      const s = parseIp(g.source);
      if (!s || s.family !== 4) {
        problems.push({
          pointer: `${base}/source`,
          message: `"${g.source}" is not an IPv4 address: a source is the sender's unicast address`,
        });
      } else if (s.addr === 0n || s.addr >= 0xe0000000n) {
        problems.push({
          pointer: `${base}/source`,
          message: `"${g.source}" is not a unicast sender address: name the sender's address, or leave source out for any sender`,
        });
      }
    }

    if (g.from !== LAN && !links.has(g.from)) {
      problems.push({ pointer: `${base}/from`, message: `"${g.from}" is neither: use ${known()}` });
    }
    const seen = new Map<string, number>();
    g.to.forEach((t, ti) => {
      const pointer = `${base}/to/${ti}`;
      if (t !== LAN && !links.has(t)) {
        problems.push({ pointer, message: `"${t}" is neither: use ${known()}` });
      }
      if (t === g.from) {
        problems.push({
          pointer,
          related: `${base}/from`,
          message: `"${t}" is where the group comes from: a router never sends a group back where it arrived; remove it from to`,
        });
      }
      const again = seen.get(t);
      if (again !== undefined) {
        problems.push({
          pointer,
          related: `${base}/to/${again}`,
          message: `"${t}" is named twice: name it once`,
        });
      } else seen.set(t, ti);
    });

    if (g.ttl_lift !== undefined && g.from !== LAN) {
      problems.push({
        pointer: `${base}/ttl_lift`,
        message: `ttl_lift applies to packets from this site's LAN: set it on the sending site's group (from: lan), or remove it here`,
      });
    }

    // One tunnel device sends a group to one peer only.
    const wgDevices = new Map<string, number>();
    let ipsecAt: number | undefined;
    g.to.forEach((t, ti) => {
      const link = g.to.indexOf(t) === ti ? links.get(t) : undefined; // a repeat is reported above
      if (link?.type === 'wireguard') {
        const dev = link.wireguard.interface ?? `wg-${link.name}`;
        const other = wgDevices.get(dev);
        if (other !== undefined) {
          problems.push({
            pointer: `${base}/to/${ti}`,
            related: `${base}/to/${other}`,
            message: `links "${g.to[other]}" and "${t}" share WireGuard interface ${dev}, which sends a group to only one of its peers: give one of them its own wireguard.interface`,
          });
        } else wgDevices.set(dev, ti);
      }
      if (link?.type === 'ipsec') {
        if (ipsecAt !== undefined) {
          problems.push({
            pointer: `${base}/to/${ti}`,
            related: `${base}/to/${ipsecAt}`,
            message: `links "${g.to[ipsecAt]}" and "${t}" are both IPsec: the group would enter one CHILD_SA only; send it to one IPsec link per group, or carry the other site over WireGuard or OpenVPN`,
          });
        } else ipsecAt = ti;
      }
    });
    const fromLink = links.get(g.from);
    if (fromLink?.type === 'ipsec' && ipsecAt !== undefined && g.to[ipsecAt] !== g.from) {
      problems.push({
        pointer: `${base}/to/${ipsecAt}`,
        related: `${base}/from`,
        message: `links "${g.from}" and "${g.to[ipsecAt]}" are both IPsec and share one device here: a group cannot be sent back out of the device it arrived on; carry one of them over WireGuard or OpenVPN`,
      });
    }
  });

  if (settings.l2) problems.push(...verifyL2(doc, settings.l2, placed));

  // Two groups whose ranges overlap and arrive the same way would make two routes for one packet.
  for (let i = 0; i < placed.length; i++) {
    for (let j = i + 1; j < placed.length; j++) {
      const a = placed[i];
      const b = placed[j];
      if (!a || !b || a.from !== b.from || !overlaps(a.prefix, b.prefix)) continue;
      const ga = groups[a.gi];
      const gb = groups[b.gi];
      if (ga?.source !== gb?.source) continue; // (S,G) and (*,G): the (S,G) is the more specific
      problems.push({
        pointer: `/multicast/groups/${b.gi}/group`,
        related: `/multicast/groups/${a.gi}/group`,
        message: `${b.prefix.text} overlaps ${a.prefix.text} of group "${ga?.name}", both from "${a.from}": merge them into one group with both destinations in to, or make the ranges disjoint`,
      });
    }
  }
  return problems;
}

/** The L2 segment: peers over existing links, at addresses those links carry; groups the L3 routes leave alone. */
function verifyL2(
  doc: NormalizedDocument,
  l2: MulticastL2,
  routed: { prefix: Prefix; from: string; gi: number }[],
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const links = new Map(doc.links.map((l) => [l.name, l]));
  (l2.groups ?? []).forEach((g, i) => {
    const pointer = `/multicast/l2/groups/${i}`;
    const p = groupPrefix(g);
    if (!p || p.family !== 4 || p.len < MULTICAST.len || !overlaps(p, MULTICAST)) {
      problems.push({
        pointer,
        message: `"${g}" is not an IPv4 group or range inside 224.0.0.0/4, like 224.0.0.0/24`,
      });
      return;
    }
    if (hasHostBits(p)) {
      problems.push({ pointer, message: `"${g}" has host bits set: did you mean ${networkOf(p)}?` });
      return;
    }
    const both = routed.find((r) => r.from === LAN && overlaps(r.prefix, p));
    if (both) {
      problems.push({
        pointer,
        related: `/multicast/groups/${both.gi}/group`,
        message: `${g} overlaps ${both.prefix.text}, which multicast.groups already routes from the LAN: its packets would arrive twice; carry it one way only`,
      });
    }
  });
  const seen = new Map<string, number>();
  l2.peers.forEach((peer, i) => {
    const base = `/multicast/l2/peers/${i}`;
    const link = links.get(peer.link);
    if (!link) {
      problems.push({
        pointer: `${base}/link`,
        message: `no link named "${peer.link}"${doc.links.length ? `: known links are ${doc.links.map((l) => l.name).join(', ')}` : ': create the link first'}`,
      });
    }
    const addr = parseIp(peer.address);
    if (!addr || addr.family !== 4) {
      problems.push({
        pointer: `${base}/address`,
        message: `"${peer.address}" is not an IPv4 address (the VXLAN end is IPv4)`,
      });
    } else if (link) {
      const host = parsePrefix(`${peer.address}/32`);
      const remote = wireSubnets(doc, link).remote;
      if (
        host &&
        !remote.some((r) => {
          const p = parsePrefix(r);
          return p !== undefined && overlaps(p, host);
        })
      ) {
        problems.push({
          pointer: `${base}/address`,
          message: `${peer.address} is not inside link "${link.name}"'s remote subnets (${remote.join(', ') || 'none'}): the VXLAN end must be reached over the link; use the far gateway's LAN address`,
        });
      }
    }
    const first = seen.get(peer.address);
    if (first !== undefined) {
      problems.push({
        pointer: `${base}/address`,
        related: `/multicast/l2/peers/${first}/address`,
        message: `${peer.address} is named twice: name each far end once`,
      });
    } else seen.set(peer.address, i);
  });
  return problems;
}
