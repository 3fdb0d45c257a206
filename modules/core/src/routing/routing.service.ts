// The routing part of the core: table weft, the rules that send traffic to it, and forwarding.
// Observed state is always read back from the kernel, never remembered from what we wrote.
import { findKernelError, InterfaceNotFoundError } from '../errors.js';
import type { NetlinkAdapter } from '../netlink/netlink.adapter.js';
import type {
  IpFamily,
  KernelLink,
  KernelRoute,
  KernelRule,
  RouteSpec,
  RuleSpec,
} from '../netlink/netlink.types.js';
import { OWNED, type OwnedKernelState } from '../owned.js';
import { FORWARDING_SYSCTLS, type Sysctl } from '../system/sysctl.js';
import { inverseOf, planRoutes, type RouteAction } from './route.plan.js';
import { describeRoute, type OwnedRoute } from './route.types.js';

export interface RoutingCoreDeps {
  netlink: NetlinkAdapter;
  sysctl: Sysctl;
  /** The table, rule priority and protocol to use; the declared ones unless a test says otherwise. */
  owned?: OwnedKernelState;
}

/** An apply step failed. The steps before it were undone, unless `undoFailures` lists some. */
export class RouteApplyError extends Error {
  constructor(
    message: string,
    readonly failed: RouteAction,
    /** Steps that had succeeded and were undone (in the order they were undone). */
    readonly undone: readonly RouteAction[],
    readonly undoFailures: ReadonlyArray<{ action: RouteAction; error: unknown }>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'RouteApplyError';
  }
}

export interface CleanupReport {
  /** Routes deleted from our table. */
  routes: number;
  /** Rules pointing at our table that were deleted. */
  rules: number;
}

const FAMILIES: readonly IpFamily[] = ['inet', 'inet6'];

export class RoutingCore {
  private readonly netlink: NetlinkAdapter;
  private readonly sysctl: Sysctl;
  readonly owned: OwnedKernelState;
  /** sync, apply and cleanup read then write the same table; interleaving two would act on stale reads. */
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(deps: RoutingCoreDeps) {
    this.netlink = deps.netlink;
    this.sysctl = deps.sysctl;
    this.owned = deps.owned ?? OWNED;
  }

  /**
   * Forwarding on for IPv4 and IPv6, and `from all lookup weft priority <p>` present exactly once per
   * family. Other rules pointing at our table (duplicates, an older priority) are removed. Idempotent.
   */
  ensureBase(): Promise<void> {
    return this.serialized(async () => {
      for (const [what, key] of [
        ['IPv4', FORWARDING_SYSCTLS.ipv4],
        ['IPv6', FORWARDING_SYSCTLS.ipv6],
      ] as const) {
        try {
          if ((await this.sysctl.get(key)) !== '1') await this.sysctl.set(key, '1');
        } catch (cause) {
          throw new Error(`enable ${what} forwarding (${key})`, { cause });
        }
      }
      for (const family of FAMILIES) await this.ensureRule(family);
    });
  }

  /** The routes in our table, as OwnedRoutes. See README for the route shapes this leaves out. */
  async observe(): Promise<OwnedRoute[]> {
    const [routes, links] = await Promise.all([
      this.netlink.listRoutes({ table: this.owned.table.id }),
      this.netlink.listLinks(),
    ]);
    const names = new Map(links.map((l) => [l.index, l.name]));
    return routes
      .map((r) => toOwnedRoute(r, names))
      .filter((r): r is OwnedRoute => r !== undefined)
      .sort((a, b) =>
        a.destination === b.destination ? a.metric - b.metric : a.destination < b.destination ? -1 : 1,
      );
  }

  /**
   * Carries out the actions in order. When one fails, those already done are undone in reverse order
   * and a RouteApplyError names the failed step (`add route 10.1.0.0/16 table weft`) with the kernel's
   * error as cause.
   */
  apply(actions: readonly RouteAction[]): Promise<void> {
    return this.serialized(() => this.applyUnlocked(actions));
  }

  /** Makes our table hold exactly `desired`; returns the actions taken (none when it already did). */
  sync(desired: readonly OwnedRoute[]): Promise<RouteAction[]> {
    return this.serialized(async () => {
      const actions = planRoutes(desired, await this.observe());
      await this.applyUnlocked(actions);
      return actions;
    });
  }

  /**
   * Removes everything routing owns: every route in our table (whoever put it there) and every rule
   * pointing at it. Forwarding is left on: other software may rely on it, and we cannot know whether it
   * was on before us. Keeps going past failures, then throws them together.
   */
  cleanup(): Promise<CleanupReport> {
    return this.serialized(async () => {
      const table = this.owned.table;
      const failures: Error[] = [];
      const report: CleanupReport = { routes: 0, rules: 0 };
      for (const r of await this.netlink.listRoutes({ table: table.id })) {
        try {
          await this.netlink.delRoute({ destination: r.destination, table: table.id, metric: r.metric });
          report.routes++;
        } catch (cause) {
          // ESRCH: already gone (the kernel drops routes via an interface that went down).
          if (!findKernelError(cause, 'ESRCH')) {
            failures.push(
              new Error(`delete route ${r.destination} metric ${r.metric} table ${table.name}`, { cause }),
            );
          }
        }
      }
      for (const rule of await this.netlink.listRules()) {
        if (rule.table !== table.id) continue;
        try {
          await this.netlink.delRule(ruleSpecOf(rule));
          report.rules++;
        } catch (cause) {
          if (!findKernelError(cause, 'ENOENT')) {
            failures.push(new Error(`delete rule ${describeRule(rule, table.name)}`, { cause }));
          }
        }
      }
      if (failures.length > 0) {
        throw new AggregateError(
          failures,
          `clean up table ${table.name}: ${failures.length} deletion(s) failed`,
        );
      }
      return report;
    });
  }

  /** The link called `name`; InterfaceNotFoundError (kind not-found) when there is none. */
  async resolveInterface(name: string): Promise<KernelLink> {
    const link = await this.netlink.getLinkByName(name);
    if (!link) throw new InterfaceNotFoundError(name);
    return link;
  }

  private async ensureRule(family: IpFamily): Promise<void> {
    const { table, rulePriority, protocol } = this.owned;
    const wanted: RuleSpec = { family, table: table.id, priority: rulePriority, protocol: protocol.id };
    const context = `ensure rule ${family} from all lookup ${table.name} priority ${rulePriority}`;
    try {
      const pointingAtUs = async (): Promise<KernelRule[]> =>
        (await this.netlink.listRules({ family })).filter((r) => r.table === table.id);
      const isWanted = (r: KernelRule): boolean =>
        r.fromAll && r.action === 'lookup' && r.priority === rulePriority && r.protocol === protocol.id;
      const before = await pointingAtUs();
      const keep = before.find(isWanted);
      // Ours goes in before the others go out, so lookups never miss the table in between. The kernel
      // tells rules apart by protocol too, so adding ours beside a foreign copy cannot clash.
      if (!keep) await this.netlink.addRule(wanted);
      for (const rule of before) if (rule !== keep) await this.netlink.delRule(ruleSpecOf(rule));
      // A delete matches the first rule that fits, and protocol 0 fits any: removing a foreign copy
      // that sits after ours removes ours. Put it back; the copy goes on the next call.
      if (before.length > 1 && !(await pointingAtUs()).some(isWanted)) await this.netlink.addRule(wanted);
    } catch (cause) {
      throw new Error(context, { cause });
    }
  }

  private async applyUnlocked(actions: readonly RouteAction[]): Promise<void> {
    const done: RouteAction[] = [];
    // A hub's thousand routes share one device: resolve each name once per batch, not once per route.
    const ifindex = new Map<string, number>();
    for (const action of actions) {
      try {
        if (await this.execute(action, ifindex)) done.push(action);
      } catch (cause) {
        const undone: RouteAction[] = [];
        const undoFailures: Array<{ action: RouteAction; error: unknown }> = [];
        for (const step of done.reverse()) {
          const inverse = inverseOf(step);
          try {
            await this.execute(inverse, ifindex);
            undone.push(step);
          } catch (error) {
            undoFailures.push({ action: inverse, error });
          }
        }
        const note =
          undoFailures.length > 0 ? ` (undo incomplete: ${undoFailures.length} step(s) failed)` : '';
        throw new RouteApplyError(`${this.describeAction(action)}${note}`, action, undone, undoFailures, {
          cause,
        });
      }
    }
  }

  /** Returns false when the step turned out to change nothing (a delete of a route already gone). */
  private async execute(action: RouteAction, ifindex: Map<string, number>): Promise<boolean> {
    const table = this.owned.table.id;
    switch (action.op) {
      case 'create':
        await this.netlink.addRoute(await this.toSpec(action.route, ifindex));
        return true;
      case 'replace':
        await this.netlink.replaceRoute(await this.toSpec(action.route, ifindex));
        return true;
      case 'delete':
        try {
          await this.netlink.delRoute({
            destination: action.route.destination,
            table,
            metric: action.route.metric,
          });
          return true;
        } catch (err) {
          if (findKernelError(err, 'ESRCH')) return false;
          throw err;
        }
    }
  }

  private async toSpec(route: OwnedRoute, ifindex: Map<string, number>): Promise<RouteSpec> {
    const spec: RouteSpec = {
      destination: route.destination,
      type: route.kind,
      table: this.owned.table.id,
      metric: route.metric,
      protocol: this.owned.protocol.id,
    };
    if (route.dev !== undefined) {
      let index = ifindex.get(route.dev);
      if (index === undefined) {
        index = (await this.resolveInterface(route.dev)).index;
        ifindex.set(route.dev, index);
      }
      spec.ifindex = index;
    }
    if (route.gateway !== undefined) spec.gateway = route.gateway;
    return spec;
  }

  private describeAction(action: RouteAction): string {
    const verb = { create: 'add', replace: 'replace', delete: 'delete' }[action.op];
    const target = action.op === 'delete' ? action.route.destination : describeRoute(action.route);
    return `${verb} route ${target} table ${this.owned.table.name}`;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const result = this.exclusive.then(work);
    this.exclusive = result.catch(() => undefined);
    return result;
  }
}

function toOwnedRoute(r: KernelRoute, names: ReadonlyMap<number, string>): OwnedRoute | undefined {
  if (r.multipath) return undefined;
  if (r.type === 'unreachable' || r.type === 'blackhole') {
    // The kernel reports `dev lo` for IPv6 ones; it is not part of what we asked for.
    return { destination: r.destination, kind: r.type, metric: r.metric };
  }
  if (r.type !== 'unicast') return undefined;
  const route: OwnedRoute = { destination: r.destination, kind: 'unicast', metric: r.metric };
  if (r.ifindex !== undefined) route.dev = names.get(r.ifindex) ?? `ifindex ${r.ifindex}`;
  if (r.gateway !== undefined) route.gateway = r.gateway;
  return route;
}

function ruleSpecOf(rule: KernelRule): RuleSpec {
  const spec: RuleSpec = {
    family: rule.family,
    table: rule.table,
    priority: rule.priority,
    protocol: rule.protocol,
  };
  if (rule.src !== undefined) spec.src = rule.src;
  if (rule.dst !== undefined) spec.dst = rule.dst;
  if (rule.fwmark !== undefined) spec.fwmark = rule.fwmark;
  if (rule.fwmask !== undefined) spec.fwmask = rule.fwmask;
  if (rule.iifname !== undefined) spec.iifname = rule.iifname;
  if (rule.oifname !== undefined) spec.oifname = rule.oifname;
  return spec;
}

function describeRule(rule: KernelRule, tableName: string): string {
  return `${rule.family} from ${rule.src ?? 'all'} lookup ${tableName} priority ${rule.priority}`;
}
