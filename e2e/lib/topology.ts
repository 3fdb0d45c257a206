// The lab's names and addresses, computed (pure) from a run id, the sites and the management net, and
// the `ip` commands that build and tear it down. Nothing here touches the kernel: lab.ts runs the steps.
import { randomBytes } from 'node:crypto';

/** Every kernel object a lab creates is named `weft-<run id>-…`; sweepStale() relies on it. */
export const NAME_PREFIX = 'weft-';
export const RUN_ID_PATTERN = /^[0-9a-f]{4}$/;
/** Longest site name, so `to-<site>` (the fake internet's side of a gateway's wan0) fits IFNAMSIZ. */
export const MAX_SITE_NAME = 12;
export const MAX_SITES = 26;
/** Linux IFNAMSIZ minus the terminating NUL. */
export const MAX_IFNAME = 15;

/** The fake internet: one bridge in its own namespace, 203.0.113.0/24 (TEST-NET-3). */
export const INTERNET_PREFIX_LENGTH = 24;
export const INTERNET_SERVER = '203.0.113.1';
/** The appliance API port on every gateway's management address. */
export const API_PORT = 8080;
export const API_BASE_PATH = '/api/v1';

export interface SiteSpec {
  /** Lower-case letters, digits and dashes, at most MAX_SITE_NAME characters. */
  name: string;
  /** The LAN behind the gateway, e.g. `10.1.0.0/24`; the gateway is its .1, the LAN host its .10. */
  lanPrefix?: string;
}

export interface TopologyOptions {
  runId: string;
  /** Names, specs, or a count (sites a, b, c, …). */
  sites: ReadonlyArray<string | SiteSpec> | number;
  /** X in the management net 198.18.X.0/24. */
  mgmtNet: number;
}

export interface SitePlan {
  name: string;
  /** 0-based position; addresses derive from it. */
  index: number;
  /** The gateway's network namespace: where the appliance runs. */
  gwNetns: string;
  /** The LAN host's network namespace. */
  lanNetns: string;
  wan: {
    /** The gateway's underlay interface. */
    ifname: 'wan0';
    address: string;
    prefixLength: number;
    /** Its default route. */
    gateway: string;
    /** The other end of the veth, a port of the fake internet's bridge. */
    inetIfname: string;
  };
  lan: {
    prefix: string;
    prefixLength: number;
    gwIfname: 'lan0';
    gwAddress: string;
    hostIfname: 'eth0';
    hostAddress: string;
  };
  mgmt: {
    ifname: 'mgmt0';
    address: string;
    /** The other end of the veth, in the root namespace, a port of the management bridge. */
    rootIfname: string;
  };
  /** `ADDR:PORT` for `weft serve --listen`. */
  apiListen: string;
  /** Base URL of the API, e.g. `http://198.18.0.10:8080/api/v1`. */
  apiUrl: string;
}

export interface Topology {
  runId: string;
  /** `weft-<run id>-`: every namespace and root-namespace interface of this run starts with it. */
  prefix: string;
  inet: { netns: string; bridge: 'br0'; address: string; prefixLength: number };
  mgmt: { net: number; prefix: string; bridge: string; address: string; prefixLength: number };
  sites: SitePlan[];
}

export function newRunId(): string {
  return randomBytes(2).toString('hex');
}

export function namePrefix(runId: string): string {
  return `${NAME_PREFIX}${runId}-`;
}

export function mgmtBridgeName(runId: string): string {
  return `${namePrefix(runId)}br`;
}

export function mgmtPrefix(mgmtNet: number): string {
  return `198.18.${mgmtNet}.0/24`;
}

export function planTopology(options: TopologyOptions): Topology {
  const { runId, mgmtNet } = options;
  if (!RUN_ID_PATTERN.test(runId)) throw new Error(`run id "${runId}" is not 4 lower-case hex digits`);
  if (!Number.isInteger(mgmtNet) || mgmtNet < 0 || mgmtNet > 255) {
    throw new Error(`management net ${mgmtNet} is not an integer 0..255 (198.18.X.0/24)`);
  }
  const specs = normalizeSites(options.sites);
  const prefix = namePrefix(runId);
  const mgmt = mgmtPrefix(mgmtNet);
  const sites = specs.map((spec, index): SitePlan => {
    const lan = parseCidr(spec.lanPrefix ?? `10.${index + 1}.0.0/24`, `site ${spec.name}: lanPrefix`);
    if (lan.length > 28) {
      throw new Error(
        `site ${spec.name}: lanPrefix ${spec.lanPrefix} is too small (the host is .10; at most /28)`,
      );
    }
    for (const reserved of [`203.0.113.0/${INTERNET_PREFIX_LENGTH}`, mgmt]) {
      if (overlaps(lan, parseCidr(reserved, 'reserved'))) {
        throw new Error(`site ${spec.name}: lanPrefix ${formatCidr(lan)} overlaps the lab's ${reserved}`);
      }
    }
    const mgmtAddress = `198.18.${mgmtNet}.${10 + index}`;
    return {
      name: spec.name,
      index,
      gwNetns: `${prefix}gw-${spec.name}`,
      lanNetns: `${prefix}lan-${spec.name}`,
      wan: {
        ifname: 'wan0',
        address: `203.0.113.${10 + index}`,
        prefixLength: INTERNET_PREFIX_LENGTH,
        gateway: INTERNET_SERVER,
        inetIfname: `to-${spec.name}`,
      },
      lan: {
        prefix: formatCidr(lan),
        prefixLength: lan.length,
        gwIfname: 'lan0',
        gwAddress: formatIp(lan.network + 1),
        hostIfname: 'eth0',
        hostAddress: formatIp(lan.network + 10),
      },
      mgmt: { ifname: 'mgmt0', address: mgmtAddress, rootIfname: `${prefix}m${index}` },
      apiListen: `${mgmtAddress}:${API_PORT}`,
      apiUrl: `http://${mgmtAddress}:${API_PORT}${API_BASE_PATH}`,
    };
  });
  return {
    runId,
    prefix,
    inet: {
      netns: `${prefix}inet`,
      bridge: 'br0',
      address: INTERNET_SERVER,
      prefixLength: INTERNET_PREFIX_LENGTH,
    },
    mgmt: {
      net: mgmtNet,
      prefix: mgmt,
      bridge: mgmtBridgeName(runId),
      address: `198.18.${mgmtNet}.1`,
      prefixLength: 24,
    },
    sites,
  };
}

function normalizeSites(sites: TopologyOptions['sites']): SiteSpec[] {
  const specs: SiteSpec[] =
    typeof sites === 'number'
      ? Array.from({ length: sites }, (_, i) => ({ name: String.fromCharCode(97 + i) }))
      : sites.map((s) => (typeof s === 'string' ? { name: s } : s));
  if (specs.length < 1 || specs.length > MAX_SITES) {
    throw new Error(`a lab has 1..${MAX_SITES} sites, not ${specs.length}`);
  }
  const seen = new Set<string>();
  for (const { name } of specs) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || name.length > MAX_SITE_NAME) {
      throw new Error(
        `site name "${name}": use lower-case letters, digits and dashes, at most ${MAX_SITE_NAME} characters`,
      );
    }
    if (seen.has(name)) throw new Error(`site name "${name}" is used twice`);
    seen.add(name);
  }
  return specs;
}

/** Namespaces this topology creates, in creation order. */
export function namespacesOf(t: Topology): string[] {
  return [t.inet.netns, ...t.sites.flatMap((s) => [s.gwNetns, s.lanNetns])];
}

/** Interfaces this topology creates in the root namespace. */
export function rootLinksOf(t: Topology): string[] {
  return [t.mgmt.bridge, ...t.sites.map((s) => s.mgmt.rootIfname)];
}

/** The management bridge in the root namespace; created first, alone (lab.ts checks its net is free). */
export function mgmtBridgeSteps(bridge: string, mgmtNet: number): string[][] {
  return [
    ['ip', 'link', 'add', bridge, 'type', 'bridge'],
    ['ip', 'addr', 'add', `198.18.${mgmtNet}.1/24`, 'dev', bridge],
    ['ip', 'link', 'set', bridge, 'up'],
  ];
}

/** The `ip`/`sysctl` argv lists that build the topology (all but the management bridge), in order. */
export function buildSteps(t: Topology): string[][] {
  const inet = t.inet.netns;
  const steps: string[][] = [];
  for (const ns of namespacesOf(t)) steps.push(['ip', 'netns', 'add', ns]);
  for (const ns of namespacesOf(t)) steps.push(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);

  // The fake internet.
  steps.push(
    ['ip', '-n', inet, 'link', 'add', t.inet.bridge, 'type', 'bridge'],
    ['ip', '-n', inet, 'addr', 'add', `${t.inet.address}/${t.inet.prefixLength}`, 'dev', t.inet.bridge],
    ['ip', '-n', inet, 'link', 'set', t.inet.bridge, 'up'],
  );

  for (const s of t.sites) {
    const gw = s.gwNetns;
    const lan = s.lanNetns;
    // Gateways route between their LAN and the internet, like the appliance they stand for.
    steps.push(['ip', 'netns', 'exec', gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    // Underlay: wan0 <-> to-<site> on the internet bridge. Created inside a namespace, so the names
    // never collide with anything in the root namespace.
    steps.push(
      [
        'ip',
        '-n',
        inet,
        'link',
        'add',
        s.wan.inetIfname,
        'type',
        'veth',
        'peer',
        'name',
        s.wan.ifname,
        'netns',
        gw,
      ],
      ['ip', '-n', inet, 'link', 'set', s.wan.inetIfname, 'master', t.inet.bridge, 'up'],
      ['ip', '-n', gw, 'addr', 'add', `${s.wan.address}/${s.wan.prefixLength}`, 'dev', s.wan.ifname],
      ['ip', '-n', gw, 'link', 'set', s.wan.ifname, 'up'],
      ['ip', '-n', gw, 'route', 'add', 'default', 'via', s.wan.gateway, 'dev', s.wan.ifname],
    );
    // LAN: lan0 (gateway) <-> eth0 (host).
    steps.push(
      [
        'ip',
        '-n',
        gw,
        'link',
        'add',
        s.lan.gwIfname,
        'type',
        'veth',
        'peer',
        'name',
        s.lan.hostIfname,
        'netns',
        lan,
      ],
      ['ip', '-n', gw, 'addr', 'add', `${s.lan.gwAddress}/${s.lan.prefixLength}`, 'dev', s.lan.gwIfname],
      ['ip', '-n', gw, 'link', 'set', s.lan.gwIfname, 'up'],
      ['ip', '-n', lan, 'addr', 'add', `${s.lan.hostAddress}/${s.lan.prefixLength}`, 'dev', s.lan.hostIfname],
      ['ip', '-n', lan, 'link', 'set', s.lan.hostIfname, 'up'],
      ['ip', '-n', lan, 'route', 'add', 'default', 'via', s.lan.gwAddress, 'dev', s.lan.hostIfname],
    );
    // Management: weft-<id>-m<i> (root, on the management bridge) <-> mgmt0 (gateway).
    steps.push(
      ['ip', 'link', 'add', s.mgmt.rootIfname, 'type', 'veth', 'peer', 'name', s.mgmt.ifname, 'netns', gw],
      ['ip', 'link', 'set', s.mgmt.rootIfname, 'master', t.mgmt.bridge, 'up'],
      ['ip', '-n', gw, 'addr', 'add', `${s.mgmt.address}/${t.mgmt.prefixLength}`, 'dev', s.mgmt.ifname],
      ['ip', '-n', gw, 'link', 'set', s.mgmt.ifname, 'up'],
    );
  }
  return steps;
}

// --- IPv4 helpers ---------------------------------------------------------------------------------

export interface Cidr {
  network: number;
  length: number;
}

export function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    value = value * 256 + Number(p);
  }
  return value;
}

export function formatIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

export function parseCidr(text: string, what: string): Cidr {
  const [ip, len, extra] = text.split('/');
  const network = ip === undefined ? undefined : parseIp(ip);
  const length = Number(len);
  if (network === undefined || extra !== undefined || !/^\d{1,2}$/.test(len ?? '') || length > 32) {
    throw new Error(`${what}: "${text}" is not an IPv4 prefix like 10.1.0.0/24`);
  }
  const size = 2 ** (32 - length);
  if (network % size !== 0) {
    throw new Error(
      `${what}: "${text}" has host bits set (the network is ${formatIp(network - (network % size))})`,
    );
  }
  return { network, length };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.network)}/${c.length}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  const aEnd = a.network + 2 ** (32 - a.length);
  const bEnd = b.network + 2 ** (32 - b.length);
  return a.network < bEnd && b.network < aEnd;
}
