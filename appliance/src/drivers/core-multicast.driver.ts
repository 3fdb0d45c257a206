// The core's multicast half as a reconciler driver: multicast.groups → static multicast routes
// (inbound interface, group, outbound interfaces) → the forwarder chosen at start-up (core's
// MulticastRouter, one smcrouted of the appliance's own, or its NftMulticastForwarder where the kernel
// has no multicast routing; see multicast-engine.ts). `lan` is multicast.lan_interface, else the interface holding an address inside
// appliance.local_subnets; a link is its tunnel's interface. A route whose interfaces are not all there
// yet (a tunnel coming up) forwards to those that are and waits for the rest: the link's device appearing
// is a kernel change, the drift check finds the missing VIF and installs it.
import { createHash } from 'node:crypto';
import type {
  MulticastApplyResult,
  MulticastDesired,
  MulticastRoute,
  MulticastRouteCounters,
  MulticastSourceMap,
} from '@weft/core';
import type { PinoLogger } from 'nestjs-pino';
import type { FieldProblem } from '../common/errors.js';
import type { ModuleState } from '../desired-state/desired-state.store.js';
import { effectiveLocalSubnets, type Link, type NormalizedDocument } from '../desired-state/document.js';
import { LAN, multicastGroups, type MulticastGroup } from '../desired-state/multicast.js';
import { ChangeFeed } from '../reconciler/change-feed.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
  type MulticastGroupStatus,
} from '../reconciler/module-driver.js';

/** What this driver needs of the core's multicast router (the real one is wired in drivers.ts). */
export interface MulticastPort {
  /** Why multicast routing cannot run here, undefined when it can. */
  unavailable(): Promise<string | undefined>;
  apply(desired: MulticastDesired): Promise<MulticastApplyResult>;
  drift(desired: MulticastDesired): Promise<string[]>;
  counters(desired: MulticastDesired): Promise<MulticastRouteCounters[]>;
  /** The interfaces of this namespace. */
  interfaces(): Promise<string[]>;
  /** Which forwarder runs, in words (after unavailable() has been asked). */
  describe(): string;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface MulticastEnv {
  /** The interface holding an address inside one of `subnets` (the LAN), or undefined. */
  lanInterface(subnets: readonly string[]): Promise<string | undefined>;
}

/** The interface a link's tunnel puts its traffic on (undefined: none yet). */
export type MulticastLinkInterface = (link: Link) => string | undefined;

/** One group resolved against this appliance: its route, or why it has none. */
interface Resolved {
  group: MulticastGroup;
  route?: MulticastRoute;
  state?: 'waiting' | 'disabled';
  detail?: string;
}

interface Payload {
  desired: MulticastDesired;
  hash: string;
}

export class CoreMulticastDriver implements ModuleDriver {
  readonly name = 'multicast';
  readonly linkTypes: readonly string[] = [];
  private reason: string | undefined;
  private readonly feed = new ChangeFeed();

  constructor(
    private readonly router: MulticastPort,
    private readonly interfaceOf: MulticastLinkInterface,
    private readonly env: MulticastEnv,
    private readonly state: ModuleState,
    private readonly log: PinoLogger,
  ) {}

  async start(): Promise<void> {
    this.reason = await this.router.unavailable();
    if (this.reason) this.log.warn({ reason: this.reason }, 'multicast forwarding unavailable');
    else this.log.info(`multicast forwarding: ${this.router.describe()}`);
  }

  async stop(): Promise<void> {
    this.feed.close();
    await this.router.stop();
  }

  detail(): string {
    return this.reason ? `multicast forwarding unavailable: ${this.reason}` : this.router.describe();
  }

  /** A daemon restarted behind the document's back: the drift check puts its routes back. */
  notifyChange(what: string): void {
    this.feed.notify(what);
  }

  changes(): AsyncIterable<string> {
    return this.feed.changes();
  }

  /** What the document's verify cannot see: links that share one tunnel device inside one group. */
  verify(doc: NormalizedDocument): FieldProblem[] {
    const problems: FieldProblem[] = [];
    const links = new Map(doc.links.map((l) => [l.name, l]));
    multicastGroups(doc).forEach((g, gi) => {
      const from = links.get(g.from);
      const inbound = from ? this.interfaceOf(from) : undefined;
      g.to.forEach((t, ti) => {
        const link = links.get(t);
        if (!link || !inbound || link === from) return;
        if (this.interfaceOf(link) === inbound) {
          problems.push({
            pointer: `/multicast/groups/${gi}/to/${ti}`,
            related: `/multicast/groups/${gi}/from`,
            message: `links "${g.from}" and "${t}" use the same device here (${inbound}): a group is never sent back out of the device it arrived on; carry one of them on another device`,
          });
        }
      });
    });
    return problems;
  }

  /** Each group with its route, or why it has none. */
  private async resolve(doc: NormalizedDocument): Promise<Resolved[]> {
    const groups = multicastGroups(doc);
    if (groups.length === 0) return [];
    const lan =
      doc.multicast?.lan_interface ?? (await this.env.lanInterface(doc.appliance.local_subnets ?? []));
    const links = new Map(doc.links.map((l) => [l.name, l]));
    const where = (name: string): { ifname?: string; disabled?: boolean; why?: string } => {
      if (name === LAN) {
        return lan
          ? { ifname: lan }
          : {
              why: 'no LAN interface: none holds an address inside appliance.local_subnets; set multicast.lan_interface',
            };
      }
      const link = links.get(name);
      if (!link) return { why: `no link "${name}"` };
      if (link.enabled === false) return { disabled: true, why: `link "${name}" is disabled` };
      const ifname = this.interfaceOf(link);
      return ifname ? { ifname } : { why: `link "${name}" has no interface yet` };
    };
    return groups.map((group): Resolved => {
      const from = where(group.from);
      const to = group.to.map(where);
      if (from.disabled || to.every((t) => t.disabled)) {
        return {
          group,
          state: 'disabled',
          detail: from.disabled ? from.why : 'every link in to is disabled',
        };
      }
      if (!from.ifname) return { group, state: 'waiting', ...(from.why ? { detail: from.why } : {}) };
      const outbound = [...new Set(to.flatMap((t) => (t.ifname ? [t.ifname] : [])))].filter(
        (o) => o !== from.ifname,
      );
      const missing = to.filter((t) => !t.ifname && !t.disabled).map((t) => t.why);
      if (outbound.length === 0) return { group, state: 'waiting', detail: missing.join('; ') };
      return {
        group,
        route: {
          group: group.group,
          ...(group.source !== undefined ? { source: group.source } : {}),
          inbound: from.ifname,
          outbound,
        },
        ...(missing.length > 0 ? { detail: missing.join('; ') } : {}),
      };
    });
  }

  /**
   * The routes `doc` wants, sorted (so equal documents hash the same), and for every outbound link with
   * netmap.local the source it gives this LAN's multicast (its real local prefix → netmap.local).
   */
  async desired(doc: NormalizedDocument): Promise<MulticastDesired> {
    const routes = (await this.resolve(doc)).flatMap((r) => (r.route ? [r.route] : []));
    const outbound = new Set(routes.flatMap((r) => r.outbound));
    const sourceMaps: MulticastSourceMap[] = [];
    for (const link of doc.links) {
      const to = link.netmap?.local;
      const ifname = this.interfaceOf(link);
      if (to === undefined || !ifname || !outbound.has(ifname) || to.includes(':')) continue;
      const [from] = effectiveLocalSubnets(doc, link);
      if (from === undefined || from.includes(':') || sourceMaps.some((m) => m.outbound === ifname)) continue;
      sourceMaps.push({ outbound: ifname, from, to });
    }
    sourceMaps.sort((a, b) => (a.outbound < b.outbound ? -1 : 1));
    return {
      routes: routes.sort((a, b) => (routeId(a) < routeId(b) ? -1 : 1)),
      ...(sourceMaps.length > 0 ? { sourceMaps } : {}),
    };
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    if (this.reason) return [];
    const desired = await this.desired(doc);
    const hash = createHash('sha256').update(JSON.stringify(desired)).digest('hex');
    const applied = this.state.get('routes');
    if (applied === undefined && desired.routes.length === 0) return [];
    const drift = applied === hash ? await this.router.drift(desired) : [];
    if (applied === hash && drift.length === 0) return [];
    const payload: Payload = { desired, hash };
    return [
      {
        action: {
          module: this.name,
          op: desired.routes.length === 0 ? 'delete' : applied === undefined ? 'create' : 'update',
          target: `multicast routes (${this.router.describe()})`,
          summary:
            desired.routes.length === 0
              ? 'no multicast route left: remove the forwarding'
              : `${drift.length > 0 ? `put back (${drift.slice(0, 3).join('; ')}) ` : ''}${desired.routes
                  .map(
                    (r) =>
                      `${r.source ? `${r.source}→` : ''}${r.group} from ${r.inbound} to ${r.outbound.join(' ')}`,
                  )
                  .join(', ')}`,
        },
        payload,
      },
    ];
  }

  async apply(steps: DriverStep[]): Promise<void> {
    for (const s of steps) {
      const p = s.payload as Payload;
      try {
        const result = await this.router.apply(p.desired);
        for (const w of result.waiting) {
          this.log.info(
            { route: w.route, missing: w.missing },
            `multicast ${w.route.group}: waiting for ${w.missing.join(', ')}`,
          );
        }
        if (p.desired.routes.length === 0) this.state.update({}, ['routes']);
        else this.state.update({ routes: p.hash });
      } catch (err) {
        throw new StepFailedError(s.action, err);
      }
    }
  }

  linkStatus(_doc: NormalizedDocument): Promise<LinkStatus[]> {
    return Promise.resolve([]);
  }

  /** Every group of `doc` with its state and counters. */
  async multicastStatus(doc: NormalizedDocument): Promise<MulticastGroupStatus[]> {
    const resolved = await this.resolve(doc);
    if (resolved.length === 0) return [];
    const zero = { packets: 0, bytes: 0, wrong_interface: 0, senders: [] };
    if (this.reason) {
      return resolved.map((r) => ({
        name: r.group.name,
        group: r.group.group,
        state: 'unavailable',
        detail: this.reason ?? null,
        ...zero,
      }));
    }
    const routes = resolved.flatMap((r) => (r.route ? [r.route] : []));
    const [counters, present] = await Promise.all([
      this.router.counters({ routes }),
      this.router.interfaces(),
    ]);
    const byRoute = new Map(counters.map((c) => [routeId(c.route), c]));
    const have = new Set(present);
    return resolved.map((r): MulticastGroupStatus => {
      if (!r.route) {
        return {
          name: r.group.name,
          group: r.group.group,
          state: r.state ?? 'waiting',
          detail: r.detail ?? null,
          ...zero,
        };
      }
      const missing = [r.route.inbound, ...r.route.outbound].filter((i) => !have.has(i));
      const c = byRoute.get(routeId(r.route));
      const waiting = !have.has(r.route.inbound) || r.route.outbound.every((o) => !have.has(o));
      const details = [
        ...(missing.length > 0 ? [`interface ${missing.join(', ')} not there yet`] : []),
        ...(r.detail ? [r.detail] : []),
      ];
      return {
        name: r.group.name,
        group: r.group.group,
        state: waiting ? 'waiting' : 'forwarding',
        detail: details.length > 0 ? details.join('; ') : null,
        packets: c?.packets ?? 0,
        bytes: c?.bytes ?? 0,
        wrong_interface: c?.wrongInterface ?? 0,
        senders: senders(c),
      };
    });
  }

  async cleanup(): Promise<void> {
    await this.router.cleanup();
    this.state.update({}, ['routes']);
  }
}

const routeId = (r: MulticastRoute): string => `${r.inbound} ${r.source ?? '*'} ${r.group}`;

/** Per sender: the sum over its flows (a range route has one flow per group). */
function senders(c: MulticastRouteCounters | undefined): MulticastGroupStatus['senders'] {
  const out = new Map<string, { source: string; packets: number; bytes: number }>();
  for (const f of c?.flows ?? []) {
    const s = out.get(f.source) ?? { source: f.source, packets: 0, bytes: 0 };
    s.packets += f.packets;
    s.bytes += f.bytes;
    out.set(f.source, s);
  }
  return [...out.values()].sort((a, b) => (a.source < b.source ? -1 : 1));
}
