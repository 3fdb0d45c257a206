// multicast.l2 as a reconciler driver: the L2 segment (core's L2Service: VXLAN device weft-l2 with one
// flood entry per far site, and table netdev weft_l2 taking the matched frames from the LAN and giving
// them back) made to match the document. The VXLAN end is this site's own LAN address (inside
// appliance.local_subnets), so the far ends' packets to it are routed into the links like any LAN
// traffic; a peer behind a disabled link is left out, and no peer left means no segment.
import { createHash } from 'node:crypto';
import { VXLAN_OVERHEAD, type L2Desired } from '@weft/core';
import type { PinoLogger } from 'nestjs-pino';
import type { ModuleState } from '../desired-state/desired-state.store.js';
import type { Link, NormalizedDocument } from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';

export interface L2Port {
  apply(desired: L2Desired | undefined): Promise<void>;
  drift(desired: L2Desired | undefined): Promise<string[]>;
  cleanup(): Promise<void>;
}

export interface L2Env {
  /** The LAN: the named interface, else the one holding an IPv4 address inside `subnets`; with that address. */
  lan(
    ifname: string | undefined,
    subnets: readonly string[],
  ): Promise<{ ifname: string; address: string } | undefined>;
  /** An interface's MTU, undefined when it is not there. */
  mtuOf(ifname: string): Promise<number | undefined>;
}

interface Payload {
  desired: L2Desired | undefined;
  hash: string;
}

/** Without a link device to measure: a 1500-byte underlay minus the largest tunnel overhead (80). */
const FALLBACK_LINK_MTU = 1420;

export class CoreMulticastL2Driver implements ModuleDriver {
  readonly name = 'multicast-l2';
  readonly linkTypes: readonly string[] = [];
  private why: string | undefined;

  constructor(
    private readonly l2: L2Port,
    private readonly interfaceOf: (link: Link) => string | undefined,
    private readonly env: L2Env,
    private readonly state: ModuleState,
    private readonly log: PinoLogger,
  ) {}

  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }

  detail(): string {
    return this.why ?? 'VXLAN weft-l2 + nft netdev weft_l2 (link-local multicast between sites)';
  }

  verify(): [] {
    return [];
  }

  /** The segment `doc` wants, or undefined (none configured, no LAN found, no peer enabled). */
  async desired(doc: NormalizedDocument): Promise<L2Desired | undefined> {
    this.why = undefined;
    const l2 = doc.multicast?.l2;
    if (!l2) return undefined;
    const lan = await this.env.lan(doc.multicast?.lan_interface, doc.appliance.local_subnets ?? []);
    if (!lan) {
      this.why = 'L2 segment waiting: no LAN interface with an IPv4 address inside appliance.local_subnets';
      return undefined;
    }
    const links = new Map(doc.links.map((l) => [l.name, l]));
    const peers = l2.peers.filter((p) => links.get(p.link)?.enabled !== false && links.has(p.link));
    if (peers.length === 0) {
      this.why = "L2 segment down: every peer's link is disabled";
      return undefined;
    }
    let mtu = l2.mtu;
    if (mtu === undefined) {
      const mtus = await Promise.all(
        peers.map(async (p) => {
          const link = links.get(p.link);
          const dev = link ? this.interfaceOf(link) : undefined;
          return link?.mtu ?? (dev ? await this.env.mtuOf(dev) : undefined) ?? FALLBACK_LINK_MTU;
        }),
      );
      mtu = Math.min(...mtus) - VXLAN_OVERHEAD;
    }
    return {
      vni: l2.vni,
      port: l2.port ?? 4789,
      local: lan.address,
      lan: lan.ifname,
      mtu,
      peers: [...new Set(peers.map((p) => p.address))].sort(),
      groups: [...(l2.groups ?? ['224.0.0.0/24'])].sort(),
      broadcast: l2.broadcast ?? false,
    };
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    const desired = await this.desired(doc);
    const hash = createHash('sha256')
      .update(JSON.stringify(desired ?? null))
      .digest('hex');
    const applied = this.state.get('segment');
    if (applied === undefined && desired === undefined) return [];
    const drift = applied === hash ? await this.l2.drift(desired) : [];
    if (applied === hash && drift.length === 0) return [];
    const payload: Payload = { desired, hash };
    return [
      {
        action: {
          module: this.name,
          op: desired === undefined ? 'delete' : applied === undefined ? 'create' : 'update',
          target: 'L2 segment weft-l2',
          summary: desired
            ? `${drift.length > 0 ? `put back (${drift.slice(0, 3).join('; ')}) ` : ''}VXLAN ${desired.vni} from ${desired.local} on ${desired.lan} to ${desired.peers.join(', ')} (MTU ${desired.mtu}): ${[...desired.groups, ...(desired.broadcast ? ['255.255.255.255'] : [])].join(', ')}`
            : 'remove weft-l2 and table netdev weft_l2',
        },
        payload,
      },
    ];
  }

  async apply(steps: DriverStep[]): Promise<void> {
    for (const s of steps) {
      const p = s.payload as Payload;
      try {
        await this.l2.apply(p.desired);
        if (p.desired) {
          this.state.update({ segment: p.hash });
          this.log.info(
            { segment: p.desired },
            `L2 segment: VXLAN ${p.desired.vni} to ${p.desired.peers.join(', ')}`,
          );
        } else this.state.update({}, ['segment']);
      } catch (err) {
        throw new StepFailedError(s.action, err);
      }
    }
  }

  linkStatus(_doc: NormalizedDocument): Promise<LinkStatus[]> {
    return Promise.resolve([]);
  }

  async cleanup(): Promise<void> {
    await this.l2.cleanup();
    this.state.update({}, ['segment']);
  }
}
