// An OpenVPN link as this appliance runs it, and — for peer-config — as the other side must run it. Pure.
// Both ends are rendered from the same few settings, so the options the OpenVPN FAQ lists as silent
// mismatches (cipher, tun/tap, compression, key direction, MTU) cannot differ between two Weft sites:
// tun always, no compression ever, tls-crypt (no key direction), the same cipher list, and the MTU from
// the underlay on each side.
import { createHash, randomBytes } from 'node:crypto';
import type { Schemas } from '@weft/api-spec';
import { caCertificateProblem } from '@weft/ipsec';
import { generateTlsCryptKey } from '@weft/openvpn';
import { formatIp, overlaps, parsePrefix, type Prefix } from '../common/cidr.js';
import type { FieldProblem } from '../common/errors.js';
import { ConflictError } from '../common/errors.js';
import {
  effectiveLocalSubnets,
  wireSubnets,
  type Link,
  type NormalizedDocument,
} from '../desired-state/document.js';
import { mirroredNetmap } from '../desired-state/netmap.js';
import { fillHubDefaults, hubBundle, verifyHubLinks } from './openvpn.hub.js';

export type OpenvpnLink = Schemas['OpenVpnLink'];
export type OpenvpnSettings = Schemas['OpenVpnSettings'];
export type OpenvpnCipher = NonNullable<OpenvpnSettings['data_ciphers']>[number];

export const FIRST_OPENVPN_PORT = 1194;
export const DEFAULT_DATA_CIPHERS: readonly OpenvpnCipher[] = ['AES-256-GCM', 'CHACHA20-POLY1305'];
/** Outer IPv4 (20) + UDP (8) + OpenVPN data packet (opcode/peer-id 4, packet id 4, AEAD tag 16). */
export const OVERHEAD_V4 = 52;
export const OVERHEAD_V6 = 72;
const DEFAULT_UNDERLAY_MTU = 1500;

export function isOpenvpn(link: Link): link is OpenvpnLink {
  return link.type === 'openvpn';
}

export const HUB_INSTANCE = 'hub';
export const HUB_DEVICE = 'ovpn-hub';
export const DEFAULT_HUB_NETWORK = '169.254.128.0/24';

export function topologyOf(link: OpenvpnLink): 'p2p' | 'hub' | 'spoke' {
  return link.openvpn.topology ?? 'p2p';
}

export function isHubLink(link: Link): boolean {
  return isOpenvpn(link) && topologyOf(link) === 'hub';
}

/** The process a link runs in: its own, or the hub's one server. */
export function instanceOf(link: OpenvpnLink): string {
  return topologyOf(link) === 'hub' ? HUB_INSTANCE : link.name;
}

/**
 * The tun device of a link: the hub's for hub links, else `ovpn-<name>` when it fits in 15 characters,
 * else a stable hash.
 */
export function deviceOf(link: { name: string; openvpn?: { topology?: string } }): string {
  if (link.openvpn?.topology === 'hub') return HUB_DEVICE;
  if (link.name.length <= 10) return `ovpn-${link.name}`;
  return `ovpn-${createHash('sha256').update(link.name).digest('hex').slice(0, 10)}`;
}

export function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

export function roleOf(link: OpenvpnLink): 'server' | 'client' {
  const topology = topologyOf(link);
  if (topology !== 'p2p') return topology === 'hub' ? 'server' : 'client';
  return link.openvpn.role ?? (link.remote_endpoint ? 'client' : 'server');
}

/** What the driver asks the OpenVPN module to run for one link. */
export interface OpenvpnTunnel {
  /** `p2p`, or `spoke`: a client of a hub, which pushes its tunnel address. */
  kind: 'p2p' | 'spoke';
  name: string;
  device: string;
  role: 'server' | 'client';
  /**
   * Bound UDP port. A p2p client binds one too (see the driver's `ports`); undefined only for a spoke,
   * which sends from a random port (`nobind`): the hub's server mode takes a spoke back from any port.
   */
  listenPort?: number;
  remote?: { host: string; port: number };
  dataCiphers: OpenvpnCipher[];
  /** tun-mtu; TCP MSS is clamped to fit it. */
  mtu: number;
  /** The underlay MTU the tun-mtu was derived from (or that fits the link's own MTU). */
  underlayMtu: number;
  underlayFamily: 'inet' | 'inet6';
  /** The tunnel's own addresses (`ifconfig local remote`); a spoke's come from its hub. */
  tunnel?: { local: string; remote: string };
  keepalive: { interval: number; timeout: number };
  /** The remote side's CA (PEM). */
  remoteCa: string;
  /** The common name the remote certificate must have. */
  remoteName: string;
  tlsCryptKey: string;
  /** The remote prefixes routed into the tunnel (by the core, through `device`), as the tunnel carries them. */
  remoteSubnets: string[];
  /** This site's prefixes as the tunnel carries them (mapped with netmap.local). */
  localSubnets: string[];
}

/** The tunnel MTU: the link's, else the underlay's minus OpenVPN's overhead over UDP. */
export function mtuOf(link: OpenvpnLink, underlayMtu: number | undefined): number {
  if (link.mtu !== undefined) return link.mtu;
  const v6 = link.remote_endpoint?.startsWith('[') ?? false;
  return (underlayMtu ?? DEFAULT_UNDERLAY_MTU) - (v6 ? OVERHEAD_V6 : OVERHEAD_V4);
}

/**
 * The tunnel for `link`. `listenPort` is the port the driver chose for a p2p end without one (kept in
 * module state); `underlayMtu` the underlay's. Throws when a secret the commit should have filled is missing.
 */
export function tunnelOf(
  link: OpenvpnLink,
  options: { listenPort?: number; underlayMtu?: number; doc: NormalizedDocument },
): OpenvpnTunnel {
  const s = link.openvpn;
  const role = roleOf(link);
  const remote = link.remote_endpoint ? splitHostPort(link.remote_endpoint) : undefined;
  const listenPort = s.listen_port ?? (topologyOf(link) === 'p2p' ? options.listenPort : undefined);
  if (!s.tls_crypt_key) throw new Error(`OpenVPN link ${link.name} has no tls-crypt key`);
  const remoteName = s.remote_name ?? remote?.host;
  if (!remoteName) throw new Error(`OpenVPN link ${link.name} has no remote_name`);
  const spoke = topologyOf(link) === 'spoke';
  const net = s.tunnel_network ? parsePrefix(s.tunnel_network) : undefined;
  if (!net && !spoke) throw new Error(`OpenVPN link ${link.name} has no tunnel_network`);
  const [first, second] = net ? [formatIp(4, net.addr + 1n), formatIp(4, net.addr + 2n)] : ['', ''];
  const mtu = mtuOf(link, options.underlayMtu);
  const v6 = link.remote_endpoint?.startsWith('[') ?? false;
  const wire = wireSubnets(options.doc, link);
  return {
    kind: spoke ? 'spoke' : 'p2p',
    name: link.name,
    device: deviceOf(link),
    role,
    ...(listenPort !== undefined ? { listenPort } : {}),
    ...(remote ? { remote } : {}),
    dataCiphers: [...(s.data_ciphers ?? DEFAULT_DATA_CIPHERS)],
    mtu,
    underlayMtu: mtu + (v6 ? OVERHEAD_V6 : OVERHEAD_V4),
    underlayFamily: v6 ? 'inet6' : 'inet',
    ...(net
      ? { tunnel: role === 'server' ? { local: first, remote: second } : { local: second, remote: first } }
      : {}),
    keepalive: { interval: s.keepalive_interval ?? 10, timeout: s.keepalive_timeout ?? 60 },
    remoteCa: s.remote_ca,
    remoteName,
    tlsCryptKey: s.tls_crypt_key,
    remoteSubnets: wire.remote,
    localSubnets: wire.local,
  };
}

/** Cross-field checks of OpenVPN links, each with the field and the fix. */
export function verifyOpenvpnLinks(doc: NormalizedDocument): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const ports = new Map<number, number>();
  const devices = new Map<string, number>();
  const tunnels: { net: Prefix; i: number; name: string }[] = [];
  doc.links.forEach((link, i) => {
    if (!isOpenvpn(link)) return;
    const s = link.openvpn;
    const base = `/links/${i}/openvpn`;
    const role = roleOf(link);
    const topology = topologyOf(link);
    const hub = topology === 'hub';
    const problem = caCertificateProblem(s.remote_ca);
    if (problem) problems.push({ pointer: `${base}/remote_ca`, message: `remote_ca ${problem}` });
    if (topology === 'p2p' && role === 'client' && !link.remote_endpoint) {
      problems.push({
        pointer: `/links/${i}/remote_endpoint`,
        message:
          'the TLS client end dials the server: set remote_endpoint (host:port of the other side), or make this end role "server"',
      });
    }
    if (!hub && !s.remote_name && !link.remote_endpoint) {
      problems.push({
        pointer: `${base}/remote_name`,
        message:
          "without remote_endpoint, name the certificate the remote side must show: set remote_name to its common name (a Weft appliance's is its public_endpoint; an imported bundle sets it)",
      });
    }
    if (topology === 'spoke' && s.tunnel_network) {
      problems.push({
        pointer: `${base}/tunnel_network`,
        message: 'a spoke gets its tunnel address from its hub: drop tunnel_network',
      });
    } else if (hub && s.tunnel_network) {
      const net = parsePrefix(s.tunnel_network);
      if (net && !tunnels.some((t) => t.name === HUB_INSTANCE)) tunnels.push({ net, i, name: HUB_INSTANCE });
    } else if (s.tunnel_network) {
      const net = parsePrefix(s.tunnel_network);
      if (!net || net.family !== 4 || net.len !== 30 || (net.addr & 3n) !== 0n) {
        problems.push({
          pointer: `${base}/tunnel_network`,
          message: `"${s.tunnel_network}" is not an IPv4 /30 network: give one like 169.254.192.0/30, or leave it out`,
        });
      } else tunnels.push({ net, i, name: link.name });
    }
    if ((s.keepalive_timeout ?? 60) < 2 * (s.keepalive_interval ?? 10)) {
      problems.push({
        pointer: `${base}/keepalive_timeout`,
        message: `keepalive_timeout must be at least twice keepalive_interval (${s.keepalive_interval ?? 10} s), or one lost ping restarts the tunnel`,
      });
    }
    if (!doc.appliance.public_endpoint) {
      problems.push({
        pointer: '/appliance/public_endpoint',
        message:
          "OpenVPN links prove this appliance's public_endpoint (its certificate is issued for it): set public_endpoint (PUT /appliance)",
      });
    }
    if (s.listen_port !== undefined && link.enabled !== false) {
      const first = ports.get(s.listen_port);
      const bothHub =
        first !== undefined && doc.links[first] !== undefined && isHubLink(doc.links[first]) && hub;
      if (first !== undefined && !bothHub) {
        problems.push({
          pointer: `${base}/listen_port`,
          related: `/links/${first}/openvpn/listen_port`,
          message: `UDP port ${s.listen_port} is already used by OpenVPN link "${doc.links[first]?.name}": give each p2p link its own port`,
        });
      } else if (first === undefined) ports.set(s.listen_port, i);
    }
    const device = deviceOf(link);
    const other = devices.get(device);
    if (other !== undefined && !hub) {
      problems.push({
        pointer: `/links/${i}/name`,
        related: `/links/${other}/name`,
        message: `links "${doc.links[other]?.name}" and "${link.name}" would share the device ${device}: rename one`,
      });
    } else if (other === undefined) devices.set(device, i);
  });
  problems.push(...tunnelOverlaps(doc, tunnels));
  problems.push(...verifyHubLinks(doc));
  return problems;
}

/** A link's tunnel /30 must not collide with another's, nor with any LAN or remote subnet. */
function tunnelOverlaps(
  doc: NormalizedDocument,
  tunnels: { net: Prefix; i: number; name: string }[],
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const others: { prefix: Prefix; pointer: string; what: string }[] = [];
  (doc.appliance.local_subnets ?? []).forEach((text, j) => {
    const p = parsePrefix(text);
    if (p) others.push({ prefix: p, pointer: `/appliance/local_subnets/${j}`, what: 'a local subnet' });
  });
  doc.links.forEach((l, j) => {
    l.remote_subnets.forEach((text, k) => {
      const p = parsePrefix(text);
      if (p)
        others.push({
          prefix: p,
          pointer: `/links/${j}/remote_subnets/${k}`,
          what: `a remote subnet of link "${l.name}"`,
        });
    });
    // The mapped prefixes are routed too.
    for (const side of ['local', 'remote'] as const) {
      const text = l.netmap?.[side];
      const p = text === undefined ? undefined : parsePrefix(text);
      if (p)
        others.push({
          prefix: p,
          pointer: `/links/${j}/netmap/${side}`,
          what: `netmap.${side} of link "${l.name}"`,
        });
    }
  });
  tunnels.forEach((t, n) => {
    const pointer = `/links/${t.i}/openvpn/tunnel_network`;
    for (const earlier of tunnels.slice(0, n)) {
      if (overlaps(earlier.net, t.net)) {
        problems.push({
          pointer,
          related: `/links/${earlier.i}/openvpn/tunnel_network`,
          message: `tunnel_network ${t.net.text} is also the tunnel of link "${earlier.name}": give each link its own /30, or leave it out to get a free one`,
        });
      }
    }
    for (const o of others) {
      if (overlaps(o.prefix, t.net)) {
        problems.push({
          pointer,
          related: o.pointer,
          message: `tunnel_network ${t.net.text} overlaps ${o.prefix.text} (${o.what}): pick a /30 outside every LAN, or leave it out`,
        });
      }
    }
  });
  return problems;
}

/** Where default tunnel networks come from: link-local space, never routed beyond the tunnel. */
export const TUNNEL_POOL = '169.254.192.0/18';

/**
 * Fills what the appliance makes for OpenVPN links at commit, so the document is complete and the
 * exported bundle carries the same values to the other side: a tls-crypt key (kept from `previous` when
 * a PUT leaves it out, else new) and a free tunnel /30 (kept likewise). Mutates `next`.
 */
export function fillOpenvpnDefaults(
  next: NormalizedDocument,
  previous: NormalizedDocument | undefined,
  random: (n: number) => Uint8Array = (n) => randomBytes(n),
): void {
  fillHubDefaults(next, previous, () => generateTlsCryptKey(random));
  const before = new Map((previous?.links ?? []).filter(isOpenvpn).map((l) => [l.name, l]));
  const all = next.links.filter(isOpenvpn);
  // Hub links share the hub's key and network (above); spokes get their address from the hub.
  const mine = all.filter((l) => topologyOf(l) === 'p2p');
  for (const link of all.filter((l) => topologyOf(l) === 'spoke')) {
    link.openvpn.tls_crypt_key ??=
      before.get(link.name)?.openvpn.tls_crypt_key ?? generateTlsCryptKey(random);
  }
  for (const link of mine) {
    const old = before.get(link.name)?.openvpn;
    if (link.openvpn.tls_crypt_key === undefined) {
      link.openvpn.tls_crypt_key = old?.tls_crypt_key ?? generateTlsCryptKey(random);
    }
    if (link.openvpn.tunnel_network === undefined && old?.tunnel_network !== undefined) {
      link.openvpn.tunnel_network = old.tunnel_network;
    }
  }
  const pool = parsePrefix(TUNNEL_POOL);
  if (!pool) return;
  const taken = all.flatMap((l) => {
    const p = l.openvpn.tunnel_network ? parsePrefix(l.openvpn.tunnel_network) : undefined;
    return p ? [p] : [];
  });
  for (const text of [
    ...(next.appliance.local_subnets ?? []),
    ...next.links.flatMap((l) => l.remote_subnets),
    ...next.links.flatMap((l) => [l.netmap?.local, l.netmap?.remote].filter((p) => p !== undefined)),
  ]) {
    const p = parsePrefix(text);
    if (p) taken.push(p);
  }
  const size = 1n << BigInt(32 - pool.len);
  let offset = 0n;
  for (const link of mine) {
    if (link.openvpn.tunnel_network !== undefined) continue;
    while (offset < size) {
      const candidate = parsePrefix(`${formatIp(4, pool.addr + offset)}/30`);
      offset += 4n;
      if (candidate && !taken.some((t) => overlaps(t, candidate))) {
        link.openvpn.tunnel_network = candidate.text;
        taken.push(candidate);
        break;
      }
    }
  }
}

function publicEndpoint(doc: NormalizedDocument): string {
  const host = doc.appliance.public_endpoint;
  if (!host) {
    throw new ConflictError(
      'the appliance has no public_endpoint: set it (PUT /appliance) so the remote side knows where to reach this site',
    );
  }
  return host;
}

/**
 * The remote Weft appliance's side of this link, as a body for its `POST /links`: the opposite TLS role,
 * this appliance's CA as its remote_ca, this appliance's certificate name as its remote_name, and the
 * same tls-crypt key and ciphers. `listenPort` is the port this side listens on when it is the server.
 * The subnets are the real ones of both sides, the netmap mirrored.
 */
export function openvpnBundle(
  doc: NormalizedDocument,
  link: OpenvpnLink,
  ownCaCertificate: string | undefined,
  listenPort: number | undefined,
): Link {
  if (!ownCaCertificate) {
    throw new ConflictError(
      'this appliance has no CA certificate yet (made when the appliance starts; see its log): the link cannot be exported before',
    );
  }
  if (topologyOf(link) === 'hub') return hubBundle(doc, link, ownCaCertificate, listenPort);
  const host = publicEndpoint(doc);
  const s = link.openvpn;
  const role = roleOf(link);
  const remote = link.remote_endpoint ? splitHostPort(link.remote_endpoint) : undefined;
  const netmap = mirroredNetmap(link);
  if (topologyOf(link) === 'spoke') {
    // The hub's side: a hub link for this spoke, known by this appliance's certificate name.
    return {
      name: doc.appliance.name,
      type: 'openvpn',
      description: `OpenVPN hub link for spoke ${doc.appliance.name} (exported from its link "${link.name}")`,
      remote_subnets: effectiveLocalSubnets(doc, link),
      ...(netmap ? { netmap } : {}),
      ...(link.metric !== undefined ? { metric: link.metric } : {}),
      openvpn: {
        topology: 'hub',
        remote_ca: ownCaCertificate,
        remote_name: host,
        ...(s.tls_crypt_key ? { tls_crypt_key: s.tls_crypt_key } : {}),
        ...(remote ? { listen_port: remote.port } : {}),
      },
    };
  }
  const settings: OpenvpnSettings = {
    role: role === 'server' ? 'client' : 'server',
    remote_ca: ownCaCertificate,
    remote_name: host,
    ...(s.tls_crypt_key ? { tls_crypt_key: s.tls_crypt_key } : {}),
    ...(s.tunnel_network ? { tunnel_network: s.tunnel_network } : {}),
    ...(s.data_ciphers ? { data_ciphers: [...s.data_ciphers] } : {}),
    keepalive_interval: s.keepalive_interval ?? 10,
    keepalive_timeout: s.keepalive_timeout ?? 60,
  };
  const out: Link = {
    name: doc.appliance.name,
    type: 'openvpn',
    description: `OpenVPN link to ${doc.appliance.name} (exported from its link "${link.name}")`,
    remote_subnets: effectiveLocalSubnets(doc, link),
    local_subnets: [...link.remote_subnets],
    ...(netmap ? { netmap } : {}),
    ...(link.metric !== undefined ? { metric: link.metric } : {}),
    ...(link.mtu !== undefined ? { mtu: link.mtu } : {}),
    openvpn: settings,
  };
  if (role === 'server') {
    const port = s.listen_port ?? listenPort;
    if (port === undefined) {
      throw new ConflictError(
        `link ${link.name} has no UDP port yet (it gets one when applied): export it after the commit`,
      );
    }
    out.remote_endpoint = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  } else if (remote) {
    // We dial the remote side: it listens on the port we dial.
    settings.listen_port = remote.port;
  }
  return out;
}
