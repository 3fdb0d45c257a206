// OpenVPN hub and spoke links. Pure. All `hub` links of an appliance are the spokes of one server
// process (one UDP port, device ovpn-hub): each spoke has a client-config-dir entry named by its
// certificate's common name with its fixed tunnel address and its subnets as iroutes, so the FAQ's
// "MULTI: bad source address" cannot happen, and ccd-exclusive refuses any certificate without one.
// Spoke-to-spoke traffic comes up into the hub's kernel and goes back down the device to the spoke
// whose iroute matches (the core routes every spoke's subnets into ovpn-hub).
import { formatIp, overlaps, parseIp, parsePrefix, type Prefix } from '../common/cidr.js';
import type { FieldProblem } from '../common/errors.js';
import { ConflictError } from '../common/errors.js';
import {
  effectiveLocalSubnets,
  wireSubnets,
  type Link,
  type NormalizedDocument,
} from '../desired-state/document.js';
import { mirroredNetmap } from '../desired-state/netmap.js';
import {
  DEFAULT_DATA_CIPHERS,
  DEFAULT_HUB_NETWORK,
  FIRST_OPENVPN_PORT,
  HUB_DEVICE,
  HUB_INSTANCE,
  isHubLink,
  isOpenvpn,
  topologyOf,
  mtuOf,
  OVERHEAD_V4,
  type OpenvpnCipher,
  type OpenvpnLink,
  type OpenvpnSettings,
} from './openvpn.link-spec.js';

export { DEFAULT_HUB_NETWORK, HUB_DEVICE, HUB_INSTANCE, isHubLink, topologyOf } from './openvpn.link-spec.js';

/** One spoke as the hub's server sees it. */
export interface OpenvpnHubSpoke {
  link: string;
  commonName: string;
  tunnelAddress: string;
  subnets: string[];
  remoteCa: string;
}

/** The hub's one server process, made of every enabled `hub` link. */
export interface OpenvpnHub {
  kind: 'hub';
  name: typeof HUB_INSTANCE;
  device: typeof HUB_DEVICE;
  listenPort: number;
  network: string;
  serverAddress: string;
  dataCiphers: OpenvpnCipher[];
  mtu: number;
  underlayMtu: number;
  keepalive: { interval: number; timeout: number };
  tlsCryptKey: string;
  spokes: OpenvpnHubSpoke[];
}

/** The hub's server-wide settings come from its links; verify makes sure they agree. */
function shared(links: OpenvpnLink[]): OpenvpnSettings {
  const first = links[0]?.openvpn;
  if (!first) throw new Error('no hub link');
  return first;
}

export function hubOf(
  links: OpenvpnLink[],
  options: { listenPort?: number; underlayMtu?: number; doc: NormalizedDocument },
): OpenvpnHub | undefined {
  const hub = links.filter((l) => topologyOf(l) === 'hub' && l.enabled !== false);
  if (hub.length === 0) return undefined;
  const s = shared(hub);
  const network = s.tunnel_network ?? DEFAULT_HUB_NETWORK;
  const net = parsePrefix(network);
  if (!net) throw new Error(`hub tunnel_network ${network} does not parse`);
  if (!s.tls_crypt_key) throw new Error('the hub links have no tls-crypt key');
  const mtu = Math.min(...hub.map((l) => mtuOf(l, options.underlayMtu)));
  return {
    kind: 'hub',
    name: HUB_INSTANCE,
    device: HUB_DEVICE,
    listenPort:
      hub.find((l) => l.openvpn.listen_port !== undefined)?.openvpn.listen_port ??
      options.listenPort ??
      FIRST_OPENVPN_PORT,
    network,
    serverAddress: formatIp(4, net.addr + 1n),
    dataCiphers: [...(s.data_ciphers ?? DEFAULT_DATA_CIPHERS)],
    mtu,
    underlayMtu: mtu + OVERHEAD_V4,
    keepalive: { interval: s.keepalive_interval ?? 10, timeout: s.keepalive_timeout ?? 60 },
    tlsCryptKey: s.tls_crypt_key,
    spokes: hub.map((l) => {
      if (!l.openvpn.remote_name || !l.openvpn.tunnel_address) {
        throw new Error(`hub link ${l.name} has no remote_name or tunnel_address`);
      }
      return {
        link: l.name,
        commonName: l.openvpn.remote_name,
        tunnelAddress: l.openvpn.tunnel_address,
        // iroutes: the spoke's LAN as the tunnel carries it (its netmap.remote when mapped).
        subnets: wireSubnets(options.doc, l).remote,
        remoteCa: l.openvpn.remote_ca,
      };
    }),
  };
}

function same<T>(values: T[]): boolean {
  return values.every((v) => JSON.stringify(v) === JSON.stringify(values[0]));
}

/** Hub links must agree on the server's settings; each spoke needs a unique name and address. */
export function verifyHubLinks(doc: NormalizedDocument): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const hub = doc.links.map((l, i) => ({ l, i })).filter(({ l }) => isHubLink(l)) as {
    l: OpenvpnLink;
    i: number;
  }[];
  doc.links.forEach((l, i) => {
    if (!isOpenvpn(l)) return;
    const t = topologyOf(l);
    if (t !== 'p2p' && l.openvpn.role !== undefined) {
      problems.push({
        pointer: `/links/${i}/openvpn/role`,
        message: `role is for p2p links: a ${t} link's role follows from its topology; drop role`,
      });
    }
    if (t === 'spoke' && !l.remote_endpoint) {
      problems.push({
        pointer: `/links/${i}/remote_endpoint`,
        message:
          "a spoke dials its hub: set remote_endpoint to the hub's public_endpoint and port (import the hub link's peer-config)",
      });
    }
    if (hub.length > 0 && t !== 'hub' && l.name === HUB_INSTANCE) {
      problems.push({
        pointer: `/links/${i}/name`,
        message: `"${HUB_INSTANCE}" names this appliance's OpenVPN hub: rename this link`,
      });
    }
  });
  if (hub.length === 0) return problems;
  const field = (k: keyof OpenvpnSettings, what: string, dflt: unknown): void => {
    const values = hub.map(({ l }) => l.openvpn[k] ?? dflt);
    if (!same(values)) {
      const odd = hub.find(({ l }) => JSON.stringify(l.openvpn[k] ?? dflt) !== JSON.stringify(values[0]));
      if (odd) {
        problems.push({
          pointer: `/links/${odd.i}/openvpn/${k}`,
          related: `/links/${hub[0]?.i}/openvpn/${k}`,
          message: `all hub links share one server, so they must agree on ${what}: set the same ${k} on every hub link, or leave it out on all`,
        });
      }
    }
  };
  field('listen_port', 'the UDP port', FIRST_OPENVPN_PORT);
  field('tunnel_network', 'the tunnel network', DEFAULT_HUB_NETWORK);
  field('data_ciphers', 'the data ciphers', DEFAULT_DATA_CIPHERS);
  field('keepalive_interval', 'the keepalive', 10);
  field('keepalive_timeout', 'the keepalive', 60);
  field('tls_crypt_key', 'the tls-crypt key', undefined);
  const network = parsePrefix(hub[0]?.l.openvpn.tunnel_network ?? DEFAULT_HUB_NETWORK);
  if (network && (network.family !== 4 || network.len > 29)) {
    problems.push({
      pointer: `/links/${hub[0]?.i}/openvpn/tunnel_network`,
      message: 'a hub needs an IPv4 network of /29 or larger for its spokes, e.g. 169.254.128.0/24',
    });
  }
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  for (const { l, i } of hub) {
    const base = `/links/${i}/openvpn`;
    if (l.remote_endpoint) {
      problems.push({
        pointer: `/links/${i}/remote_endpoint`,
        message: 'spokes dial the hub: a hub link has no remote_endpoint; drop it',
      });
    }
    const cn = l.openvpn.remote_name;
    if (!cn) {
      problems.push({
        pointer: `${base}/remote_name`,
        message:
          "a spoke is known by its certificate's common name: set remote_name (a Weft spoke's is its public_endpoint; an imported bundle sets it)",
      });
    } else if (names.has(cn)) {
      problems.push({
        pointer: `${base}/remote_name`,
        related: `/links/${names.get(cn)}/openvpn/remote_name`,
        message: `two spokes with the common name "${cn}": each spoke needs its own certificate name`,
      });
    } else names.set(cn, i);
    const addr = l.openvpn.tunnel_address;
    if (addr && network) {
      const ip = parseIp(addr);
      const inside =
        ip && ip.family === 4 && overlaps(network, { family: 4, addr: ip.addr, len: 32, text: addr });
      const first = network.addr;
      const last = network.addr + (1n << BigInt(32 - network.len)) - 1n;
      if (!ip || !inside || ip.addr === first || ip.addr === last || ip.addr === first + 1n) {
        problems.push({
          pointer: `${base}/tunnel_address`,
          message: `${addr} is not a spoke address in the hub network ${network.text} (the first address is the hub's): pick another, or leave it out`,
        });
      } else if (addresses.has(addr)) {
        problems.push({
          pointer: `${base}/tunnel_address`,
          related: `/links/${addresses.get(addr)}/openvpn/tunnel_address`,
          message: `${addr} is already the tunnel address of another spoke: leave it out to get a free one`,
        });
      } else addresses.set(addr, i);
    }
  }
  return problems;
}

/**
 * At commit: the hub's links share one tls-crypt key and network (the first one set, else a new key and
 * the default network); each spoke keeps its address, else gets the first free one. Mutates `next`.
 */
export function fillHubDefaults(
  next: NormalizedDocument,
  previous: NormalizedDocument | undefined,
  newKey: () => string,
): void {
  const hub = next.links.filter(isOpenvpn).filter(isHubLink);
  if (hub.length === 0) return;
  const before = new Map(
    (previous?.links ?? [])
      .filter(isOpenvpn)
      .filter(isHubLink)
      .map((l) => [l.name, l]),
  );
  for (const l of hub) {
    const old = before.get(l.name)?.openvpn;
    if (l.openvpn.tls_crypt_key === undefined && old?.tls_crypt_key)
      l.openvpn.tls_crypt_key = old.tls_crypt_key;
    if (l.openvpn.tunnel_address === undefined && old?.tunnel_address)
      l.openvpn.tunnel_address = old.tunnel_address;
  }
  const key =
    hub.find((l) => l.openvpn.tls_crypt_key)?.openvpn.tls_crypt_key ??
    [...before.values()].find((l) => l.openvpn.tls_crypt_key)?.openvpn.tls_crypt_key ??
    newKey();
  const network = hub.find((l) => l.openvpn.tunnel_network)?.openvpn.tunnel_network ?? DEFAULT_HUB_NETWORK;
  for (const l of hub) {
    l.openvpn.tls_crypt_key ??= key;
    l.openvpn.tunnel_network ??= network;
  }
  const net: Prefix | undefined = parsePrefix(network);
  if (!net || net.family !== 4) return;
  const taken = new Set(hub.map((l) => l.openvpn.tunnel_address).filter((a) => a !== undefined));
  const size = 1n << BigInt(32 - net.len);
  let offset = 2n;
  for (const l of hub) {
    if (l.openvpn.tunnel_address !== undefined) continue;
    while (offset < size - 1n) {
      const candidate = formatIp(4, net.addr + offset);
      offset++;
      if (!taken.has(candidate)) {
        l.openvpn.tunnel_address = candidate;
        taken.add(candidate);
        break;
      }
    }
  }
}

/** The spoke's side of a hub link: it dials this hub and reaches the hub's LAN and the other spokes'. */
export function hubBundle(
  doc: NormalizedDocument,
  link: OpenvpnLink,
  ownCaCertificate: string,
  listenPort: number | undefined,
): Link {
  const host = doc.appliance.public_endpoint;
  if (!host) {
    throw new ConflictError(
      'the appliance has no public_endpoint: set it (PUT /appliance) so spokes know where to reach the hub',
    );
  }
  // The other spokes as this hub routes them (mapped ones under their netmap.remote).
  const others = doc.links
    .filter((l) => isHubLink(l) && l.name !== link.name)
    .flatMap((l) => wireSubnets(doc, l).remote);
  const netmap = mirroredNetmap(link);
  if (netmap?.remote !== undefined && others.length > 0) {
    // The spoke would need its netmap.remote for the hub's LAN only, beside the other spokes unmapped.
    throw new ConflictError(
      `hub link "${link.name}" has netmap.local, which its spoke takes as netmap.remote for exactly one remote subnet, but the spoke also reaches the other spokes (${others.join(', ')}): drop netmap.local from this hub link, or give the spoke its own p2p link`,
    );
  }
  const s = link.openvpn;
  const port = s.listen_port ?? listenPort ?? FIRST_OPENVPN_PORT;
  return {
    name: doc.appliance.name,
    type: 'openvpn',
    description: `OpenVPN spoke of hub ${doc.appliance.name} (exported from its link "${link.name}")`,
    remote_endpoint: `${host.includes(':') ? `[${host}]` : host}:${port}`,
    remote_subnets: [...new Set([...effectiveLocalSubnets(doc, link), ...others])],
    local_subnets: [...link.remote_subnets],
    ...(netmap ? { netmap } : {}),
    ...(link.metric !== undefined ? { metric: link.metric } : {}),
    ...(link.mtu !== undefined ? { mtu: link.mtu } : {}),
    openvpn: {
      topology: 'spoke',
      remote_ca: ownCaCertificate,
      remote_name: host,
      ...(s.tls_crypt_key ? { tls_crypt_key: s.tls_crypt_key } : {}),
      ...(s.data_ciphers ? { data_ciphers: [...s.data_ciphers] } : {}),
      keepalive_interval: s.keepalive_interval ?? 10,
      keepalive_timeout: s.keepalive_timeout ?? 60,
    },
  };
}
