// The core's NAT and packet-filter half as a reconciler driver: one nftables table of Weft's own
// (`inet weft`, core's owned.ts), rendered from the document by pure functions in @weft/core and
// replaced in one `nft -f` transaction per apply, so a failed apply changes nothing and a restart never
// duplicates a rule. What it holds: masquerade for LAN traffic leaving by the underlay (tunnel traffic
// keeps its LAN source), DNAT port forwards, NETMAP of this site's subnet per link (netmap.local), TCP
// MSS clamping on every tunnel device, the underlay's input filter (tunnel ports, ICMP, DHCP, the API
// from api_from) and the forwarding rules. Nothing outside the table is touched.
import { createHash } from 'node:crypto';
import type { NftDesired } from '@weft/core';
import type { PinoLogger } from 'nestjs-pino';
import type { FieldProblem } from '../common/errors.js';
import type { ModuleState } from '../desired-state/desired-state.store.js';
import {
  effectiveLocalSubnets,
  wireSubnets,
  type Link,
  type NormalizedDocument,
} from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';

/** What this driver needs from the core's nftables service (the real one is wired in drivers.ts). */
export interface NftPort {
  /** Why nftables cannot be used here (not installed…), undefined when it can. */
  unavailable(): Promise<string | undefined>;
  apply(desired: NftDesired): Promise<void>;
  /** What differs between the kernel's table and the one the last apply() of `desired` left; [] when none. */
  drift(desired: NftDesired): Promise<string[]>;
  cleanup(): Promise<void>;
}

export interface NatEnv {
  /** The underlay interface: the named one, else the one the IPv4 default route leaves by. */
  underlay(ifname: string | undefined): Promise<string | undefined>;
  /** The ports this appliance's tunnels listen on for `doc`, as their modules pick them. */
  tunnelPorts(doc: NormalizedDocument): { udp: number[]; tcp: number[] };
  /** The TCP port the API listens on. */
  apiPort: number;
  /** The interface `lan` stands for in multicast.groups (multicast.lan_interface, else detected). */
  lanInterface?(doc: NormalizedDocument): Promise<string | undefined>;
}

/** The interface a link's tunnel puts its traffic on (undefined: none yet). */
export type NatLinkInterface = (link: Link) => string | undefined;

interface Payload {
  desired: NftDesired;
  hash: string;
}

export class CoreNatDriver implements ModuleDriver {
  readonly name = 'nat';
  readonly linkTypes: readonly string[] = [];
  private reason: string | undefined;

  constructor(
    private readonly nft: NftPort,
    private readonly interfaceOf: NatLinkInterface,
    private readonly env: NatEnv,
    private readonly state: ModuleState,
    private readonly log: PinoLogger,
  ) {}

  async start(): Promise<void> {
    this.reason = await this.nft.unavailable();
    if (this.reason) this.log.warn({ reason: this.reason }, 'nftables unavailable: no NAT, no MSS clamping');
    else this.log.info('nftables: table inet weft');
  }

  stop(): Promise<void> {
    return Promise.resolve();
  }

  detail(): string {
    return this.reason
      ? `nftables unavailable: ${this.reason}`
      : 'nftables, table inet weft (one transaction per apply)';
  }

  /**
   * What the document's own verify cannot see: a UDP port forward from the underlay onto a port a
   * tunnel module picked by itself (WireGuard from 51820, OpenVPN from 1194). Ports set in the document
   * are checked there already.
   */
  verify(doc: NormalizedDocument): FieldProblem[] {
    const taken = new Set(this.env.tunnelPorts(doc).udp);
    // Ports the document names itself (and IKE's) are the document verify's to report, once.
    for (const l of doc.links) {
      if (l.type === 'wireguard' && l.wireguard.listen_port !== undefined)
        taken.delete(l.wireguard.listen_port);
      if (l.type === 'openvpn' && l.openvpn.listen_port !== undefined) taken.delete(l.openvpn.listen_port);
    }
    if (doc.links.some((l) => l.type === 'ipsec')) for (const p of [500, 4500]) taken.delete(p);
    const problems: FieldProblem[] = [];
    doc.nat.port_forwards.forEach((f, i) => {
      if (f.protocol !== 'udp' || f.from_link !== undefined || !taken.has(f.port)) return;
      problems.push({
        pointer: `/nat/port_forwards/${i}/port`,
        message: `udp port ${f.port} is the port one of this appliance's tunnels picked for itself (it listens there): the forward would take its packets; pick another port, or give that link another listen_port`,
      });
    });
    return problems;
  }

  /** The table `doc` wants. Pure but for finding the underlay. */
  async desired(doc: NormalizedDocument): Promise<NftDesired> {
    const links = doc.links.filter((l) => l.enabled !== false);
    const underlay = await this.env.underlay(doc.appliance.underlay_interface);
    const out: NftDesired = { portForwards: [], netmaps: [], mssClamp: [] };
    const lans = [
      ...new Set([
        ...(doc.appliance.local_subnets ?? []),
        ...links.flatMap((l) => effectiveLocalSubnets(doc, l)),
      ]),
    ].sort();
    if ((doc.nat?.masquerade ?? true) && underlay && lans.length > 0) {
      out.masquerade = { underlay, sources: lans };
    }
    for (const f of doc.nat?.port_forwards ?? []) {
      const from = f.from_link ? links.find((l) => l.name === f.from_link) : undefined;
      const iif = f.from_link ? (from ? this.interfaceOf(from) : undefined) : underlay;
      if (!iif) continue;
      out.portForwards.push({
        name: f.name,
        iif,
        protocol: f.protocol,
        port: f.port,
        to: f.to,
        toPort: f.to_port ?? f.port,
      });
    }
    const devices = new Set<string>();
    for (const link of links) {
      const device = this.interfaceOf(link);
      if (!device) continue;
      devices.add(device);
      const mapped = link.netmap?.local;
      const [real] = effectiveLocalSubnets(doc, link);
      if (mapped !== undefined && real !== undefined) {
        out.netmaps.push({ link: link.name, device, real, mapped, remote: wireSubnets(doc, link).remote });
      }
    }
    out.mssClamp = [...devices].sort().map((device) => ({ device }));
    // Never masquerade what goes to a remote site: with kernel IPsec it leaves by the underlay in the
    // clear until ESP takes it, and must keep its LAN source to match the policy.
    const remote = [...new Set(links.flatMap((l) => wireSubnets(doc, l).remote))].sort();
    if (out.masquerade && remote.length > 0) out.masquerade.exceptTo = remote;
    const fw = doc.firewall;
    if ((fw?.underlay_input ?? 'filter') === 'filter' && underlay) {
      const ports = this.env.tunnelPorts(doc);
      out.input = {
        underlay,
        udpPorts: ports.udp,
        tcpPorts: ports.tcp,
        ...((fw?.api_from ?? []).length > 0
          ? { api: { port: this.env.apiPort, from: fw?.api_from ?? [] } }
          : {}),
      };
    }
    out.forwardRules = (fw?.rules ?? []).flatMap((r) => {
      const link = r.link === undefined ? undefined : links.find((l) => l.name === r.link);
      // A rule for a disabled (or missing) link has no interface to match: it has nothing to filter.
      const device = link ? this.interfaceOf(link) : undefined;
      if (r.link !== undefined && !device) return [];
      const [from, to] = (r.port ?? '').split('-').map(Number);
      const base = {
        ...(r.source ? { src: [r.source] } : {}),
        ...(r.destination ? { dst: [r.destination] } : {}),
        ...(r.protocol ? { protocol: r.protocol } : {}),
        ...(r.port !== undefined && from !== undefined ? { ports: { from, to: to ?? from } } : {}),
        action: r.action,
      };
      if (!device) return [{ name: r.name, ...base }];
      const direction = r.direction ?? 'both';
      return [
        ...(direction !== 'out'
          ? [{ name: direction === 'both' ? `${r.name}.in` : r.name, iif: device, ...base }]
          : []),
        ...(direction !== 'in'
          ? [{ name: direction === 'both' ? `${r.name}.out` : r.name, oif: device, ...base }]
          : []),
      ];
    });
    const lifts = new Map<number, string[]>();
    for (const g of doc.multicast?.groups ?? []) {
      if (g.from !== 'lan' || g.ttl_lift === undefined) continue;
      lifts.set(g.ttl_lift, [...(lifts.get(g.ttl_lift) ?? []), g.group]);
    }
    const lan = lifts.size > 0 ? await this.env.lanInterface?.(doc) : undefined;
    if (lan) {
      out.multicastTtl = [...lifts.entries()]
        .sort(([a], [b]) => a - b)
        .map(([ttl, groups]) => ({ iif: lan, groups: [...new Set(groups)].sort(), ttl }));
    }
    return out;
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    if (this.reason) return [];
    const desired = await this.desired(doc);
    const hash = createHash('sha256').update(JSON.stringify(desired)).digest('hex');
    const applied = this.state.get('table');
    const drift = applied === hash ? await this.nft.drift(desired) : [];
    if (applied === hash && drift.length === 0) return [];
    const what = [
      desired.masquerade ? `masquerade via ${desired.masquerade.underlay}` : 'no masquerade',
      `${desired.portForwards.length} port forward(s)`,
      `${desired.netmaps.length} netmap(s)`,
      `MSS clamping on ${desired.mssClamp.length} tunnel device(s)`,
      desired.input
        ? `underlay input filter (UDP ${desired.input.udpPorts.join(', ') || 'none'} open)`
        : 'no underlay input filter',
      `${desired.forwardRules?.length ?? 0} forward rule(s)`,
      ...(desired.multicastTtl?.length
        ? [`multicast TTL lift on ${desired.multicastTtl.map((l) => `${l.iif} to ${l.ttl}`).join(', ')}`]
        : []),
    ].join(', ');
    const payload: Payload = { desired, hash };
    return [
      {
        action: {
          module: this.name,
          op: applied === undefined ? 'create' : 'update',
          target: 'nftables table inet weft',
          summary: `${drift.length > 0 ? `put back (${drift.slice(0, 3).join('; ')}) ` : ''}replace table inet weft in one transaction: ${what}`,
        },
        payload,
      },
    ];
  }

  async apply(steps: DriverStep[]): Promise<void> {
    for (const s of steps) {
      const p = s.payload as Payload;
      try {
        await this.nft.apply(p.desired);
        this.state.update({ table: p.hash });
      } catch (err) {
        throw new StepFailedError(s.action, err);
      }
    }
  }

  linkStatus(_doc: NormalizedDocument): Promise<LinkStatus[]> {
    return Promise.resolve([]);
  }

  async cleanup(): Promise<void> {
    await this.nft.cleanup();
    this.state.update({}, ['table']);
  }
}
