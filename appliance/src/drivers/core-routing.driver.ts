// The core routing module as a reconciler driver: Weft's own routing table holds every remote prefix
// (links' remote subnets and static routes), with an unreachable fallback under each so traffic for a
// remote site is dropped with an ICMP error — never sent out the underlay in clear — while its link is down.
import type { OwnedRoute, RouteAction } from '@weft/core';
import type { PinoLogger } from 'nestjs-pino';
import type { FieldProblem } from '../common/errors.js';
import { wireSubnets, type Link, type NormalizedDocument } from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';

export type CoreRoute = OwnedRoute;
export type CoreRouteAction = RouteAction;

/** What this driver needs from modules/core (the real one is wired in drivers.ts). */
export interface RoutingPort {
  readonly tableId: number;
  ensureBase(): Promise<void>;
  observe(): Promise<CoreRoute[]>;
  plan(desired: CoreRoute[], observed: CoreRoute[]): CoreRouteAction[];
  /**
   * Applies the actions in order; on a failure undoes the earlier ones and rejects with an error whose
   * `failed` is the action that failed.
   */
  apply(actions: CoreRouteAction[]): Promise<void>;
  /** Whether an interface exists and is up (tunnel interfaces come and go with their links). */
  interfaceUp(name: string): Promise<boolean>;
  changes(): AsyncIterable<string>;
  cleanup(): Promise<void>;
  close(): void;
}

/** The interface a link's tunnel module puts its traffic on (none until a tunnel module owns the type). */
export type LinkInterfaceResolver = (link: Link) => string | undefined;

/** Metric of a route into a link that is up; static routes bring their own. */
export const LINK_ROUTE_METRIC = 100;
/** Metric of the unreachable fallback under every remote prefix: above any metric a user can set. */
export const FALLBACK_METRIC = 70000;

function describeRoute(r: CoreRoute): string {
  const via =
    r.kind !== 'unicast'
      ? r.kind
      : [r.gateway ? `via ${r.gateway}` : '', r.dev ? `dev ${r.dev}` : ''].join(' ').trim();
  return `${r.destination} ${via} metric ${r.metric}`;
}

export class CoreRoutingDriver implements ModuleDriver {
  readonly name = 'core';
  readonly linkTypes: readonly string[] = [];

  constructor(
    private readonly routing: RoutingPort,
    private readonly interfaceOf: LinkInterfaceResolver,
    private readonly log: PinoLogger,
  ) {}

  async start(): Promise<void> {
    await this.routing.ensureBase();
  }

  stop(): Promise<void> {
    this.routing.close();
    return Promise.resolve();
  }

  detail(): string {
    return `netlink, routing table weft (${this.routing.tableId}), IPv4/IPv6 forwarding on`;
  }

  verify(_doc: NormalizedDocument): FieldProblem[] {
    return [];
  }

  /** The routes `doc` wants in our table. Pure but for asking which link interfaces are up. */
  async desired(doc: NormalizedDocument): Promise<CoreRoute[]> {
    const out = new Map<string, CoreRoute>();
    const add = (r: CoreRoute): void => {
      out.set(`${r.destination} ${r.metric}`, r);
    };
    const upDev = new Map<string, string | undefined>();
    // Many links can share one interface (a hub): ask the kernel once per interface.
    const isUp = new Map<string, boolean>();
    for (const link of doc.links) {
      const dev = link.enabled === false ? undefined : this.interfaceOf(link);
      if (dev !== undefined && !isUp.has(dev)) isUp.set(dev, await this.routing.interfaceUp(dev));
      upDev.set(link.name, dev !== undefined && isUp.get(dev) ? dev : undefined);
    }
    for (const link of doc.links) {
      const dev = upDev.get(link.name);
      // The remote site as the tunnel carries it: with netmap.remote the mapped prefix, never the real
      // remote subnet, which overlaps this site's own LAN (the NAT core translates at the edge).
      for (const prefix of wireSubnets(doc, link).remote) {
        add({ destination: prefix, kind: 'unreachable', metric: FALLBACK_METRIC });
        if (dev) add({ destination: prefix, kind: 'unicast', dev, metric: link.metric ?? LINK_ROUTE_METRIC });
      }
    }
    for (const route of doc.routes) {
      const metric = route.metric ?? 100;
      if (route.gateway !== undefined) {
        add({ destination: route.destination, kind: 'unicast', gateway: route.gateway, metric });
      } else if (route.link !== undefined) {
        add({ destination: route.destination, kind: 'unreachable', metric: FALLBACK_METRIC });
        const dev = upDev.get(route.link);
        if (dev) add({ destination: route.destination, kind: 'unicast', dev, metric });
      }
    }
    return [...out.values()];
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    const [desired, observed] = await Promise.all([this.desired(doc), this.routing.observe()]);
    return this.routing.plan(desired, observed).map((a) => ({
      action: {
        module: this.name,
        op: a.op === 'replace' ? 'update' : a.op,
        target: `route ${describeRoute(a.route)} table weft`,
        summary: `${a.op} route ${describeRoute(a.route)}`,
      },
      payload: a,
    }));
  }

  async apply(steps: DriverStep[]): Promise<void> {
    if (steps.length === 0) return;
    try {
      // One batch: the core resolves interfaces once and undoes the batch's earlier steps on a failure.
      await this.routing.apply(steps.map((s) => s.payload as CoreRouteAction));
    } catch (err) {
      const failed = (err as { failed?: unknown }).failed;
      const step = steps.find((s) => s.payload === failed) ?? steps[0];
      this.log.error({ step: step?.action.target, err }, 'route step failed');
      throw new StepFailedError(
        step?.action ?? { module: this.name, op: 'update', target: 'routes', summary: 'routes' },
        err,
      );
    }
  }

  linkStatus(_doc: NormalizedDocument): Promise<LinkStatus[]> {
    return Promise.resolve([]);
  }

  changes(): AsyncIterable<string> {
    return this.routing.changes();
  }

  cleanup(): Promise<void> {
    return this.routing.cleanup();
  }
}
