// Cross-field checks the schema cannot express. Pure: every problem, each naming its field and the fix.
import { hasHostBits, networkOf, overlaps, parseIp, parsePrefix, type Prefix } from '../common/cidr.js';
import type { FieldProblem } from '../common/errors.js';
import type { NormalizedDocument } from './document.js';

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

  // Remote subnets of all links must be disjoint from each other and from every local subnet:
  // a packet to an overlapping prefix could go two ways (NAT mapping for overlaps comes with issue 6).
  const remote: PlacedPrefix[] = [];
  doc.links.forEach((link, li) => {
    link.remote_subnets.forEach((s, si) => {
      const pointer = `/links/${li}/remote_subnets/${si}`;
      const p = checkPrefix(s, pointer, problems);
      if (p) remote.push({ prefix: p, pointer, owner: `remote subnet of link "${link.name}"` });
    });
    (link.local_subnets ?? []).forEach((s, si) => {
      checkPrefix(s, `/links/${li}/local_subnets/${si}`, problems);
    });
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
  checkOverlaps(remote, problems, 'two links cannot carry the same destinations; narrow one of them');
  for (const r of remote) {
    for (const l of local) {
      if (overlaps(r.prefix, l.prefix)) {
        problems.push({
          pointer: r.pointer,
          related: l.pointer,
          message: `${r.prefix.text} (${r.owner}) overlaps local subnet ${l.prefix.text}: traffic for it would never leave this site`,
        });
      }
    }
  }

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
