// The L2 option of multicast over the overlay: link-local multicast (224.0.0.0/24: mDNS, SSDP-style
// discovery, VRRP…) and, if asked, limited broadcasts, which no router forwards, carried between sites
// as Ethernet frames in VXLAN with head-end replication:
//
//   LAN host ─▶ lan0 ──(nft netdev ingress: dup to weft-l2)──▶ weft-l2 (VXLAN, one all-zero fdb entry
//   per remote site: one copy each, unicast to the far gateway's LAN address, so routed into the
//   tunnel) ══ tunnel ══▶ far weft-l2 ──(nft netdev ingress: fwd to its lan0)──▶ far LAN hosts
//
// Only the matched frames cross (no bridge, so ARP, unicast and every other frame stay on their LAN),
// and frames arriving from the overlay are sent to the LAN only, never on to another site: no loop.
// The TTL is not touched: a TTL-1 frame arrives as it was sent. Cost: 50 bytes per frame (outer IPv4,
// UDP, VXLAN and the inner Ethernet header) on top of the tunnel's own overhead; weft-l2's MTU is the
// smallest link MTU minus 50, so a frame larger than that is dropped (discovery packets are small).
//
// Owned state: the device `weft-l2` and the nftables table `netdev weft_l2`.
import { CommandError, CoreError, InvalidArgumentError } from '../errors.js';
import type { ProcessRunner } from '../system/process.adapter.js';
import { formatIpv4, inIpv4Prefix, parseIpv4 } from './smcroute.render.js';

export const WEFT_L2_DEVICE = 'weft-l2';
export const WEFT_L2_TABLE = 'weft_l2';
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + the inner Ethernet header (14). */
export const VXLAN_OVERHEAD = 50;

export interface L2Desired {
  /** The VXLAN network identifier, the same at every site of the segment. */
  vni: number;
  /** UDP port of the VXLAN packets (4789, IANA's). */
  port: number;
  /** This site's VXLAN end: its IPv4 address on the LAN (reachable from the far sites over the links). */
  local: string;
  /** The LAN interface frames are taken from and given to. */
  lan: string;
  mtu: number;
  /** The far ends, one copy of each frame to each. */
  peers: string[];
  /** The destinations carried: IPv4 groups or ranges in 224.0.0.0/4. */
  groups: string[];
  /** Also carry limited broadcasts (255.255.255.255). */
  broadcast: boolean;
}

const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

function prefixOf(text: string): { address: number; length: number } | undefined {
  const [addr = '', len, ...rest] = text.split('/');
  const address = parseIpv4(addr);
  const length = len === undefined ? 32 : /^\d{1,2}$/.test(len) ? Number(len) : NaN;
  if (address === undefined || rest.length > 0 || !(length >= 0 && length <= 32)) return undefined;
  return { address, length };
}

/** Every problem of `d`, each naming its field; [] when valid. */
export function validateL2Desired(d: L2Desired): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(d.vni) || d.vni < 1 || d.vni > 16_777_215) {
    problems.push(`vni: ${d.vni} is not a VXLAN network identifier of 1 to 16777215`);
  }
  if (!Number.isInteger(d.port) || d.port < 1 || d.port > 65535)
    problems.push(`port: ${d.port} is not a port`);
  if (parseIpv4(d.local) === undefined) problems.push(`local: "${d.local}" is not an IPv4 address`);
  if (!INTERFACE_NAME.test(d.lan)) problems.push(`lan: "${d.lan}" is not an interface name`);
  if (!Number.isInteger(d.mtu) || d.mtu < 576 || d.mtu > 65535) {
    problems.push(`mtu: ${d.mtu} is not an MTU of 576 to 65535`);
  }
  if (d.peers.length === 0) problems.push('peers: name at least one far end');
  d.peers.forEach((p, i) => {
    if (parseIpv4(p) === undefined) problems.push(`peers[${i}]: "${p}" is not an IPv4 address`);
    else if (p === d.local) problems.push(`peers[${i}]: ${p} is this site's own end`);
    if (d.peers.indexOf(p) !== i) problems.push(`peers[${i}]: ${p} is named twice`);
  });
  if (d.groups.length === 0 && !d.broadcast)
    problems.push('groups: name at least one group, or carry broadcasts');
  d.groups.forEach((g, i) => {
    const p = prefixOf(g);
    if (!p || p.length < 4 || !inIpv4Prefix(p.address, { address: 0xe0000000, length: 4 })) {
      problems.push(`groups[${i}]: "${g}" is not an IPv4 group or range inside 224.0.0.0/4`);
    }
  });
  return problems;
}

/** The nft script that replaces table netdev weft_l2 in one transaction. */
export function renderL2Nft(d: L2Desired): string {
  const problems = validateL2Desired(d);
  if (problems.length > 0) throw new InvalidArgumentError(`invalid L2 segment: ${problems.join('; ')}`);
  const groups = [
    ...new Set(
      d.groups.map((g) => {
        const p = prefixOf(g);
        return p ? `${formatIpv4(p.address)}/${p.length}` : g;
      }),
    ),
  ].sort();
  const set = groups.length === 1 ? (groups[0] ?? '') : `{ ${groups.join(', ')} }`;
  const matches = [
    ...(groups.length > 0 ? [`ip daddr ${set}`] : []),
    ...(d.broadcast ? ['ip daddr 255.255.255.255'] : []),
  ];
  const lines = [
    `table netdev ${WEFT_L2_TABLE} {}`,
    `delete table netdev ${WEFT_L2_TABLE}`,
    `table netdev ${WEFT_L2_TABLE} {`,
    '\tchain from_lan {',
    `\t\ttype filter hook ingress device "${d.lan}" priority filter; policy accept;`,
    ...matches.map((m) => `\t\t${m} dup to "${WEFT_L2_DEVICE}" comment "to the other sites"`),
    '\t}',
    '',
    '\tchain from_sites {',
    `\t\ttype filter hook ingress device "${WEFT_L2_DEVICE}" priority filter; policy accept;`,
    ...matches.map((m) => `\t\t${m} fwd to "${d.lan}" comment "to this LAN"`),
    '\t\tdrop comment "nothing else from the segment"',
    '\t}',
    '}',
  ];
  return `${lines.join('\n')}\n`;
}

export class L2Error extends CoreError {
  readonly kind = 'unavailable';
}

export interface L2ServiceOptions {
  /** An argv prefix ip, bridge and nft run behind (another namespace in tests). */
  launcher?: readonly string[];
  timeoutMs?: number;
}

interface VxlanSeen {
  vni: number;
  port: number;
  local: string;
  mtu: number;
  up: boolean;
}

/** weft-l2 and table netdev weft_l2 in the kernel, made to match an L2Desired. */
export class L2Service {
  private readonly launcher: readonly string[];
  private readonly timeoutMs: number;
  /** The script of the last apply and the table as listed right after it. */
  private fingerprint: { script: string; listing: string } | undefined;

  constructor(
    private readonly runner: ProcessRunner,
    options: L2ServiceOptions = {},
  ) {
    this.launcher = options.launcher ?? [];
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Makes the kernel hold `d`; undefined removes the segment. */
  async apply(d: L2Desired | undefined): Promise<void> {
    if (!d) return this.cleanup();
    const script = renderL2Nft(d);
    const seen = await this.device();
    if (seen && (seen.vni !== d.vni || seen.port !== d.port || seen.local !== d.local)) {
      // VXLAN parameters are fixed at creation: make it again.
      await this.nftDelete();
      await this.run('ip', ['link', 'del', WEFT_L2_DEVICE]);
    }
    if (!seen || seen.vni !== d.vni || seen.port !== d.port || seen.local !== d.local) {
      await this.run('ip', [
        'link',
        'add',
        WEFT_L2_DEVICE,
        'type',
        'vxlan',
        'id',
        String(d.vni),
        'local',
        d.local,
        'dstport',
        String(d.port),
        'nolearning',
      ]);
    }
    await this.run('ip', ['link', 'set', WEFT_L2_DEVICE, 'mtu', String(d.mtu), 'up']);
    const have = new Set(await this.peers());
    for (const p of d.peers) {
      if (!have.has(p)) {
        await this.run('bridge', ['fdb', 'append', '00:00:00:00:00:00', 'dev', WEFT_L2_DEVICE, 'dst', p]);
      }
    }
    for (const p of have) {
      if (!d.peers.includes(p)) {
        await this.run('bridge', ['fdb', 'del', '00:00:00:00:00:00', 'dev', WEFT_L2_DEVICE, 'dst', p]);
      }
    }
    this.fingerprint = undefined;
    await this.run('nft', ['-f', '-'], script);
    this.fingerprint = { script, listing: await this.listing() };
  }

  /** What differs from `d` (or, for undefined, what is left); [] when nothing. */
  async drift(d: L2Desired | undefined): Promise<string[]> {
    const seen = await this.device();
    if (!d) return seen ? [`device ${WEFT_L2_DEVICE} still there`] : [];
    const out: string[] = [];
    if (!seen) return [`device ${WEFT_L2_DEVICE} missing`];
    if (seen.vni !== d.vni) out.push(`${WEFT_L2_DEVICE}: vni ${seen.vni}, not ${d.vni}`);
    if (seen.port !== d.port) out.push(`${WEFT_L2_DEVICE}: port ${seen.port}, not ${d.port}`);
    if (seen.local !== d.local) out.push(`${WEFT_L2_DEVICE}: local ${seen.local}, not ${d.local}`);
    if (seen.mtu !== d.mtu) out.push(`${WEFT_L2_DEVICE}: mtu ${seen.mtu}, not ${d.mtu}`);
    if (!seen.up) out.push(`${WEFT_L2_DEVICE} is down`);
    const peers = await this.peers();
    for (const p of d.peers) if (!peers.includes(p)) out.push(`no flood entry to ${p}`);
    for (const p of peers) if (!d.peers.includes(p)) out.push(`a flood entry to ${p} not wanted`);
    const script = renderL2Nft(d);
    if (this.fingerprint?.script !== script)
      out.push(`table netdev ${WEFT_L2_TABLE} not applied from this state`);
    else if ((await this.listing()) !== this.fingerprint.listing)
      out.push(`table netdev ${WEFT_L2_TABLE} changed`);
    return out;
  }

  /** Removes weft-l2 and table netdev weft_l2 if they are there. */
  async cleanup(): Promise<void> {
    this.fingerprint = undefined;
    await this.nftDelete();
    if (await this.device()) await this.run('ip', ['link', 'del', WEFT_L2_DEVICE]);
  }

  private nftDelete(): Promise<string> {
    return this.run(
      'nft',
      ['-f', '-'],
      `table netdev ${WEFT_L2_TABLE} {}\ndelete table netdev ${WEFT_L2_TABLE}\n`,
    );
  }

  /** The table as nft lists it, without handles; '' when absent. */
  private async listing(): Promise<string> {
    try {
      return await this.run('nft', ['list', 'table', 'netdev', WEFT_L2_TABLE]);
    } catch {
      return '';
    }
  }

  private async device(): Promise<VxlanSeen | undefined> {
    let text: string;
    try {
      text = await this.run('ip', ['-j', '-d', 'link', 'show', 'dev', WEFT_L2_DEVICE]);
    } catch (err) {
      if (err instanceof L2Error && /does not exist|Cannot find device/.test(err.message)) return undefined;
      throw err;
    }
    const [link] = JSON.parse(text) as {
      mtu: number;
      flags: string[];
      linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number; local?: string } };
    }[];
    if (!link) return undefined;
    const data = link.linkinfo?.info_data ?? {};
    return {
      vni: data.id ?? 0,
      port: data.port ?? 0,
      local: data.local ?? '',
      mtu: link.mtu,
      up: link.flags.includes('UP'),
    };
  }

  private async peers(): Promise<string[]> {
    const text = await this.run('bridge', ['-j', 'fdb', 'show', 'dev', WEFT_L2_DEVICE]);
    const entries = JSON.parse(text || '[]') as { mac: string; dst?: string }[];
    return entries.filter((e) => e.mac === '00:00:00:00:00:00' && e.dst).map((e) => e.dst ?? '');
  }

  private async run(cmd: string, args: string[], input?: string): Promise<string> {
    const [file = cmd, ...rest] = [...this.launcher, cmd, ...args];
    try {
      const { stdout } = await this.runner.run(file, rest, {
        timeoutMs: this.timeoutMs,
        ...(input !== undefined ? { input } : {}),
      });
      return stdout;
    } catch (err) {
      const detail = err instanceof CommandError ? err.stderr.trim() : (err as Error).message;
      throw new L2Error(`${cmd} ${args.join(' ')} failed: ${detail}`, { cause: err });
    }
  }
}
