// Cross-field checks the schema cannot express. Pure: every problem, each naming its field and the fix.
import { hasHostBits, networkOf, overlaps, parseIp, parsePrefix, type Prefix } from '../common/cidr.js';
import type { FieldProblem } from '../common/errors.js';
import { effectiveLocalSubnets, type Link, type NormalizedDocument } from './document.js';
import { verifyMulticast } from './multicast.js';

interface PlacedPrefix {
  prefix: Prefix;
  pointer: string;
  owner: string;
}

function checkPrefix(text: string, pointer: string, problems: FieldProblem[]): Prefix | undefined {
  const p = parsePrefix(text);
  if (!p) {
    problems.push({
      pointer,
      message: `"${text}" is not a valid prefix: expected an address and a length, like 10.1.0.0/24`,
    });
    return undefined;
  }
  if (hasHostBits(p)) {
    problems.push({ pointer, message: `"${text}" has host bits set: did you mean ${networkOf(p)}?` });
    return undefined;
  }
  return p;
}

function checkDuplicates(names: string[], base: string, what: string, problems: FieldProblem[]): void {
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) {
      problems.push({
        pointer: `${base}/${i}/name`,
        message: `${what} name "${name}" is used twice: names must be unique`,
        related: `${base}/${first}/name`,
      });
    } else seen.set(name, i);
  });
}

function checkOverlaps(list: PlacedPrefix[], problems: FieldProblem[], why: string): void {
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i];
      const b = list[j];
      if (!a || !b || !overlaps(a.prefix, b.prefix)) continue;
      problems.push({
        pointer: b.pointer,
        related: a.pointer,
        message: `${b.prefix.text} (${b.owner}) overlaps ${a.prefix.text} (${a.owner}): ${why}`,
      });
    }
  }
}

/** A link's netmap, parsed (only the valid parts), with its real remote subnets. */
interface ParsedNetmap {
  link: Link;
  li: number;
  realRemote: (Prefix | undefined)[];
  local?: PlacedPrefix;
  remote?: PlacedPrefix;
}

/** The subnets a link's netmap.local maps, with where they come from in the document. */
function mappedLocal(doc: NormalizedDocument, link: Link, li: number): { texts: string[]; base: string } {
  return {
    texts: effectiveLocalSubnets(doc, link),
    base: link.local_subnets !== undefined ? `/links/${li}/local_subnets` : '/appliance/local_subnets',
  };
}

/** A mapped prefix and the real one it stands for: same family, same length, host part kept. */
function sameShape(
  mapped: PlacedPrefix,
  real: Prefix,
  realPointer: string,
  what: string,
): FieldProblem | undefined {
  if (mapped.prefix.family !== real.family) {
    return {
      pointer: mapped.pointer,
      related: realPointer,
      message: `${mapped.prefix.text} is IPv${mapped.prefix.family} but ${what} ${real.text} is IPv${real.family}: a netmap keeps the family; give an IPv${real.family} prefix`,
    };
  }
  if (mapped.prefix.len !== real.len) {
    return {
      pointer: mapped.pointer,
      related: realPointer,
      message: `${mapped.prefix.text} is a /${mapped.prefix.len} but ${what} ${real.text} is a /${real.len}: a netmap maps host by host, so give a /${real.len}`,
    };
  }
  return undefined;
}

/**
 * netmap.local stands for exactly one local subnet and netmap.remote for exactly one remote subnet, of
 * the same family and length. Neither may overlap this site's own subnets (the appliance's or a link's);
 * netmap.local not what any link routes, netmap.remote not a route nor its own link's netmap.local (its
 * overlaps with other links' routed prefixes and with the appliance's subnets are found with the other
 * routed prefixes, in verifyDocument). Mapping a remote LAN that overlaps ours needs netmap.local too.
 * Links may share one netmap.local when they map the same subnet, never parts of one.
 */
function verifyNetmaps(
  doc: NormalizedDocument,
  applianceLocal: PlacedPrefix[],
  wireRemote: PlacedPrefix[],
  netmaps: ParsedNetmap[],
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  // Every local subnet, the appliance's and the links' own.
  const local: PlacedPrefix[] = [...applianceLocal];
  doc.links.forEach((link, li) =>
    (link.local_subnets ?? []).forEach((text, si) => {
      const p = parsePrefix(text);
      if (p && !hasHostBits(p))
        local.push({
          prefix: p,
          pointer: `/links/${li}/local_subnets/${si}`,
          owner: `local subnet of link "${link.name}"`,
        });
    }),
  );
  const routes: PlacedPrefix[] = [];
  doc.routes.forEach((route, ri) => {
    const p = parsePrefix(route.destination);
    if (p && !hasHostBits(p))
      routes.push({ prefix: p, pointer: `/routes/${ri}/destination`, owner: `route "${route.name}"` });
  });
  const locals: { at: PlacedPrefix; real: string | undefined }[] = [];

  for (const { link, li, realRemote, local: nl, remote: nr } of netmaps) {
    if (nl) {
      const { texts, base } = mappedLocal(doc, link, li);
      let real: string | undefined;
      if (texts.length !== 1) {
        problems.push({
          pointer: nl.pointer,
          related: base,
          message:
            texts.length === 0
              ? `netmap.local ${nl.prefix.text} maps this site's local subnet, but link "${link.name}" has none: set the link's local_subnets (or the appliance's) to the one subnet to map`
              : `netmap.local ${nl.prefix.text} maps one local subnet, but link "${link.name}" offers ${texts.length} (${texts.join(', ')}): set the link's local_subnets to the one to map, or drop netmap.local`,
        });
      } else {
        real = texts[0];
        const p = real === undefined ? undefined : parsePrefix(real);
        const shape = p ? sameShape(nl, p, `${base}/0`, 'the local subnet it maps') : undefined;
        if (shape) problems.push(shape);
      }
      for (const l of local) {
        if (!overlaps(nl.prefix, l.prefix)) continue;
        problems.push({
          pointer: nl.pointer,
          related: l.pointer,
          message: `netmap.local ${nl.prefix.text} overlaps ${l.prefix.text} (${l.owner}): the remote site would not know which is meant; map this site to a prefix it uses nowhere`,
        });
      }
      for (const r of wireRemote) {
        if (!overlaps(nl.prefix, r.prefix)) continue;
        problems.push({
          pointer: nl.pointer,
          related: r.pointer,
          message: `netmap.local ${nl.prefix.text} overlaps ${r.prefix.text} (${r.owner}), which this site routes to a remote site: map this site to a prefix outside every link's remote prefixes`,
        });
      }
      // One mapped prefix, one meaning: links share a netmap.local only for the same local subnet.
      for (const other of locals) {
        if (!overlaps(other.at.prefix, nl.prefix)) continue;
        const same = other.at.prefix.text === nl.prefix.text;
        if (same && (other.real === real || real === undefined || other.real === undefined)) continue;
        problems.push({
          pointer: nl.pointer,
          related: other.at.pointer,
          message: same
            ? `netmap.local ${nl.prefix.text} of link "${link.name}" maps ${real}, but ${other.at.owner} maps ${other.real} to it: return traffic could not be told apart; give one of them another netmap.local`
            : `netmap.local ${nl.prefix.text} overlaps ${other.at.prefix.text} (${other.at.owner}) without being the same prefix: links may share one netmap.local, not parts of it; use the same prefix or disjoint ones`,
        });
      }
      locals.push({ at: nl, real });
    }
    if (nr) {
      if (link.remote_subnets.length !== 1) {
        problems.push({
          pointer: nr.pointer,
          related: `/links/${li}/remote_subnets/1`,
          message: `netmap.remote ${nr.prefix.text} maps the remote site's one subnet, but link "${link.name}" has ${link.remote_subnets.length} remote_subnets (${link.remote_subnets.join(', ')}): keep only the one to map, or drop netmap.remote`,
        });
      } else {
        const p = realRemote[0];
        const shape = p
          ? sameShape(nr, p, `/links/${li}/remote_subnets/0`, 'the remote subnet it maps')
          : undefined;
        if (shape) problems.push(shape);
      }
      // The appliance's own local subnets are checked with the other routed prefixes; here the links'.
      for (const l of local.filter((x) => x.pointer.startsWith('/links/'))) {
        if (!overlaps(nr.prefix, l.prefix)) continue;
        problems.push({
          pointer: nr.pointer,
          related: l.pointer,
          message: `netmap.remote ${nr.prefix.text} overlaps ${l.prefix.text} (${l.owner}): the remote site must appear outside this site's subnets; pick another netmap.remote`,
        });
      }
      for (const r of routes) {
        if (!overlaps(nr.prefix, r.prefix)) continue;
        problems.push({
          pointer: nr.pointer,
          related: r.pointer,
          message: `netmap.remote ${nr.prefix.text} overlaps the destination ${r.prefix.text} of ${r.owner}: traffic for it could go two ways; pick another netmap.remote or change the route`,
        });
      }
      // The far end answers our hosts at their source address: if our LAN is also its own, it needs
      // to see us mapped too.
      const ours = effectiveLocalSubnets(doc, link)
        .map((text) => parsePrefix(text))
        .find((q) => q !== undefined && realRemote.some((r) => r !== undefined && overlaps(q, r)));
      if (!nl && ours) {
        problems.push({
          pointer: `/links/${li}/netmap`,
          related: nr.pointer,
          message: `the remote site's ${link.remote_subnets.join(', ')} overlaps this site's ${ours.text}, so it cannot answer this site's hosts at their own addresses: set netmap.local too (a prefix this site appears under there)`,
        });
      }
      if (nl && overlaps(nr.prefix, nl.prefix)) {
        problems.push({
          pointer: nr.pointer,
          related: nl.pointer,
          message: `netmap.remote ${nr.prefix.text} overlaps this link's netmap.local ${nl.prefix.text}: the two sites must appear under different prefixes; change one of them`,
        });
      }
    }
  }
  return problems;
}

/** UDP ports the document says a tunnel of this appliance listens on, with the field that says so. */
function tunnelPorts(doc: NormalizedDocument): Map<number, { pointer: string; what: string }> {
  const out = new Map<number, { pointer: string; what: string }>();
  doc.links.forEach((link, li) => {
    if (
      link.type === 'wireguard' &&
      link.wireguard.listen_port !== undefined &&
      !out.has(link.wireguard.listen_port)
    ) {
      out.set(link.wireguard.listen_port, {
        pointer: `/links/${li}/wireguard/listen_port`,
        what: `WireGuard link "${link.name}" listens on it`,
      });
    }
    if (
      link.type === 'openvpn' &&
      link.openvpn.listen_port !== undefined &&
      !out.has(link.openvpn.listen_port)
    ) {
      out.set(link.openvpn.listen_port, {
        pointer: `/links/${li}/openvpn/listen_port`,
        what: `OpenVPN link "${link.name}" listens on it`,
      });
    }
  });
  const ipsec = doc.links.findIndex((l) => l.type === 'ipsec');
  if (ipsec >= 0) {
    for (const port of [500, 4500]) {
      if (out.has(port)) continue;
      out.set(port, {
        pointer: `/links/${ipsec}/type`,
        what: `charon takes it for IKE${port === 4500 ? ' and NAT-T' : ''} while there is an IPsec link ("${doc.links[ipsec]?.name}")`,
      });
    }
  }
  return out;
}

/**
 * Port forwards: unique names and (protocol, port, from_link); a target inside the appliance's own
 * local subnets; no UDP port a tunnel of this appliance listens on (the forward would steal its
 * packets); from_link an existing link.
 */
function verifyPortForwards(doc: NormalizedDocument, local: PlacedPrefix[]): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const forwards = doc.nat.port_forwards;
  checkDuplicates(
    forwards.map((f) => f.name),
    '/nat/port_forwards',
    'port forward',
    problems,
  );
  const linkNames = doc.links.map((l) => l.name);
  const listening = tunnelPorts(doc);
  const seen = new Map<string, number>();
  forwards.forEach((f, i) => {
    const base = `/nat/port_forwards/${i}`;
    const from = f.from_link !== undefined ? `link "${f.from_link}"` : 'the underlay';
    const key = `${f.protocol} ${f.port} ${f.from_link ?? ''}`;
    const first = seen.get(key);
    if (first !== undefined) {
      problems.push({
        pointer: `${base}/port`,
        related: `/nat/port_forwards/${first}/port`,
        message: `${f.protocol} port ${f.port} from ${from} is already forwarded by "${forwards[first]?.name}": one port goes to one host; pick another port or remove one`,
      });
    } else seen.set(key, i);

    const to = parseIp(f.to);
    if (!to) {
      problems.push({ pointer: `${base}/to`, message: `"${f.to}" is not an IP address` });
    } else {
      const host = { family: to.family, addr: to.addr, len: to.family === 4 ? 32 : 128, text: f.to };
      const inside = local.find((l) => overlaps(l.prefix, host));
      if (!inside) {
        problems.push({
          pointer: `${base}/to`,
          ...(local[0] ? { related: local[0].pointer } : {}),
          message:
            local.length === 0
              ? `${f.to} must be a host of this site's LAN, but the appliance has no local_subnets: set appliance.local_subnets`
              : `${f.to} is not inside the appliance's local subnets (${local.map((l) => l.prefix.text).join(', ')}): forward to a host on this site's LAN`,
        });
      }
    }

    const tunnel = f.protocol === 'udp' ? listening.get(f.port) : undefined;
    if (tunnel) {
      problems.push({
        pointer: `${base}/port`,
        related: tunnel.pointer,
        message: `udp port ${f.port} belongs to a tunnel of this appliance (${tunnel.what}): the forward would take its packets; pick another port`,
      });
    }

    if (f.from_link !== undefined && !linkNames.includes(f.from_link)) {
      problems.push({
        pointer: `${base}/from_link`,
        message: `no link named "${f.from_link}"${linkNames.length ? `: known links are ${linkNames.join(', ')}` : ': create the link first, or drop from_link to forward from the underlay'}`,
      });
    }
  });
  return problems;
}

function verifyFirewall(doc: NormalizedDocument): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const fw = doc.firewall;
  if (!fw) return problems;
  (fw.api_from ?? []).forEach((p, i) => checkPrefix(p, `/firewall/api_from/${i}`, problems));
  const rules = fw.rules ?? [];
  checkDuplicates(
    rules.map((r) => r.name),
    '/firewall/rules',
    'firewall rule',
    problems,
  );
  const linkNames = doc.links.map((l) => l.name);
  rules.forEach((r, i) => {
    const base = `/firewall/rules/${i}`;
    if (r.link !== undefined && !linkNames.includes(r.link)) {
      problems.push({
        pointer: `${base}/link`,
        message: `no link named "${r.link}"${linkNames.length ? `: known links are ${linkNames.join(', ')}` : ''}; or leave link out to match all forwarded traffic`,
      });
    }
    if (r.direction !== undefined && r.direction !== 'both' && r.link === undefined) {
      problems.push({
        pointer: `${base}/direction`,
        message: `direction "${r.direction}" is relative to a link: set link, or leave direction out`,
      });
    }
    const families = new Set<number>();
    for (const side of ['source', 'destination'] as const) {
      const text = r[side];
      if (text === undefined) continue;
      const p = checkPrefix(text, `${base}/${side}`, problems);
      if (p) families.add(p.family);
    }
    if (families.size > 1) {
      problems.push({
        pointer: `${base}/destination`,
        related: `${base}/source`,
        message:
          'source and destination are of different IP versions: no packet matches both; make one rule per version',
      });
    }
    if (r.port !== undefined) {
      if (r.protocol !== 'tcp' && r.protocol !== 'udp') {
        problems.push({
          pointer: `${base}/port`,
          message: `a port needs protocol tcp or udp${r.protocol ? ` (not ${r.protocol})` : ''}: set protocol`,
        });
      }
      const [from = 0, to = from] = r.port.split('-').map(Number);
      if (from < 1 || to > 65535 || to < from) {
        problems.push({
          pointer: `${base}/port`,
          message: `"${r.port}" is not a port or range of 1 to 65535 (like 22 or 8000-8100, low end first)`,
        });
      }
    }
  });
  return problems;
}

export function verifyDocument(doc: NormalizedDocument): FieldProblem[] {
  const problems: FieldProblem[] = [];

  const local: PlacedPrefix[] = [];
  (doc.appliance.local_subnets ?? []).forEach((s, i) => {
    const pointer = `/appliance/local_subnets/${i}`;
    const p = checkPrefix(s, pointer, problems);
    if (p) local.push({ prefix: p, pointer, owner: 'local subnet' });
  });
  checkOverlaps(local, problems, 'list each local subnet once');

  checkDuplicates(
    doc.links.map((l) => l.name),
    '/links',
    'link',
    problems,
  );
  checkDuplicates(
    doc.routes.map((r) => r.name),
    '/routes',
    'route',
    problems,
  );

  // What each link routes (its wire remote prefixes: netmap.remote when set, else remote_subnets) must
  // be disjoint from every other link's and from every local subnet: a packet to an overlapping prefix
  // could go two ways. The real remote subnets of a link with netmap.remote are not routed, so they may
  // overlap this site's own (that is what netmap is for).
  const remote: PlacedPrefix[] = [];
  const netmaps: ParsedNetmap[] = [];
  doc.links.forEach((link, li) => {
    const mapped = link.netmap?.remote !== undefined;
    const realRemote: (Prefix | undefined)[] = [];
    link.remote_subnets.forEach((s, si) => {
      const pointer = `/links/${li}/remote_subnets/${si}`;
      const p = checkPrefix(s, pointer, problems);
      realRemote.push(p);
      if (p && !mapped) remote.push({ prefix: p, pointer, owner: `remote subnet of link "${link.name}"` });
    });
    const realLocal: (Prefix | undefined)[] = [];
    (link.local_subnets ?? []).forEach((s, si) => {
      realLocal.push(checkPrefix(s, `/links/${li}/local_subnets/${si}`, problems));
    });
    const parsed: ParsedNetmap = { link, li, realRemote };
    for (const side of ['local', 'remote'] as const) {
      const text = link.netmap?.[side];
      if (text === undefined) continue;
      const pointer = `/links/${li}/netmap/${side}`;
      const p = checkPrefix(text, pointer, problems);
      if (p) parsed[side] = { prefix: p, pointer, owner: `netmap.${side} of link "${link.name}"` };
    }
    if (parsed.remote) remote.push(parsed.remote);
    if (parsed.local || parsed.remote) netmaps.push(parsed);
    if (link.remote_endpoint) {
      const port = Number(link.remote_endpoint.slice(link.remote_endpoint.lastIndexOf(':') + 1));
      if (!(port >= 1 && port <= 65535)) {
        problems.push({
          pointer: `/links/${li}/remote_endpoint`,
          message: `port ${port} is out of range: use 1 to 65535`,
        });
      }
    }
  });
  // The same prefix on two links at different metrics is a primary and a backup, as long as each
  // link has a device of its own (a shared WireGuard interface holds a prefix for one peer only, and
  // kernel-libipsec's one ipsec0 cannot tell two SAs to one destination apart).
  const linkAt = (pointer: string): Link | undefined => doc.links[Number(pointer.split('/')[2])];
  const deviceOf = (l: Link): string =>
    l.type === 'wireguard'
      ? `wireguard ${l.wireguard.interface ?? `wg-${l.name}`}`
      : l.type === 'ipsec'
        ? 'ipsec'
        : l.openvpn?.topology === 'hub'
          ? 'the OpenVPN hub'
          : `link ${l.name}`;
  for (let i = 0; i < remote.length; i++) {
    for (let j = i + 1; j < remote.length; j++) {
      const x = remote[i];
      const y = remote[j];
      if (!x || !y || !overlaps(x.prefix, y.prefix)) continue;
      const lx = linkAt(x.pointer);
      const ly = linkAt(y.pointer);
      const backup =
        lx !== undefined &&
        ly !== undefined &&
        lx !== ly &&
        networkOf(x.prefix) === networkOf(y.prefix) &&
        (lx.metric ?? 100) !== (ly.metric ?? 100);
      if (backup && deviceOf(lx) === deviceOf(ly)) {
        problems.push({
          pointer: y.pointer,
          related: x.pointer,
          message: `links "${lx.name}" and "${ly.name}" carry ${y.prefix.text} at different metrics but ${lx.type === 'ipsec' ? 'both are IPsec (one ipsec0 here)' : `share ${deviceOf(lx)}`}: a backup link needs a device of its own; give one of them its own interface, or use another tunnel type for the backup`,
        });
        continue;
      }
      if (backup) continue;
      problems.push({
        pointer: y.pointer,
        related: x.pointer,
        message: `${y.prefix.text} (${y.owner}) overlaps ${x.prefix.text} (${x.owner}): two links cannot carry the same destinations at one metric: narrow one of them, map one elsewhere with netmap.remote, or give the backup link a higher metric`,
      });
    }
  }
  for (const r of remote) {
    for (const l of local) {
      if (overlaps(r.prefix, l.prefix)) {
        const mapped = r.pointer.endsWith('/netmap/remote');
        problems.push({
          pointer: r.pointer,
          related: l.pointer,
          message: mapped
            ? `${r.prefix.text} (${r.owner}) overlaps local subnet ${l.prefix.text}: the remote site must appear outside this site's subnets; pick another netmap.remote`
            : `${r.prefix.text} (${r.owner}) overlaps local subnet ${l.prefix.text}: traffic for it would never leave this site; if the remote site really uses these addresses, map it with netmap.remote (and netmap.local)`,
        });
      }
    }
  }
  problems.push(...verifyNetmaps(doc, local, remote, netmaps));

  // WireGuard listen ports must be distinct.
  const ports = new Map<number, number>();
  doc.links.forEach((link, li) => {
    if (link.type !== 'wireguard' || link.wireguard.listen_port === undefined) return;
    const first = ports.get(link.wireguard.listen_port);
    if (first !== undefined) {
      problems.push({
        pointer: `/links/${li}/wireguard/listen_port`,
        related: `/links/${first}/wireguard/listen_port`,
        message: `listen port ${link.wireguard.listen_port} is already used by link "${doc.links[first]?.name}": pick another`,
      });
    } else ports.set(link.wireguard.listen_port, li);
  });

  problems.push(...verifyPortForwards(doc, local));
  problems.push(...verifyFirewall(doc));
  problems.push(...verifyMulticast(doc));

  const linkNames = new Set(doc.links.map((l) => l.name));
  const seenRoutes = new Map<string, number>();
  doc.routes.forEach((route, ri) => {
    const base = `/routes/${ri}`;
    const dest = checkPrefix(route.destination, `${base}/destination`, problems);
    if (route.link === undefined && route.gateway === undefined) {
      problems.push({ pointer: base, message: 'a route needs a next hop: set either "link" or "gateway"' });
    } else if (route.link !== undefined && route.gateway !== undefined) {
      problems.push({ pointer: `${base}/gateway`, message: 'set either "link" or "gateway", not both' });
    }
    if (route.link !== undefined && !linkNames.has(route.link)) {
      problems.push({
        pointer: `${base}/link`,
        message: `no link named "${route.link}"${linkNames.size ? `: known links are ${[...linkNames].join(', ')}` : ': create the link first'}`,
      });
    }
    if (route.gateway !== undefined) {
      const gw = parseIp(route.gateway);
      if (!gw)
        problems.push({ pointer: `${base}/gateway`, message: `"${route.gateway}" is not an IP address` });
      else if (dest && gw.family !== dest.family) {
        problems.push({
          pointer: `${base}/gateway`,
          message: `gateway ${route.gateway} is IPv${gw.family} but destination ${route.destination} is IPv${dest.family}`,
        });
      }
    }
    if (dest) {
      const key = `${networkOf(dest)} metric ${route.metric ?? 100}`;
      const first = seenRoutes.get(key);
      if (first !== undefined) {
        problems.push({
          pointer: `${base}/destination`,
          related: `/routes/${first}/destination`,
          message: `route "${doc.routes[first]?.name}" already sends ${route.destination} at metric ${route.metric ?? 100}: give one of them another metric`,
        });
      } else seenRoutes.set(key, ri);
    }
  });
  return problems;
}
