// An in-memory kernel for unit tests of code built on NetlinkAdapter. It keeps the kernel's rules
// that matter to callers (EEXIST on a duplicate, ESRCH/ENOENT on a missing object, IPv6 metric 0 read
// back as 1024, `dev lo` on IPv6 reject routes) and lets a test make any call fail.
import { EventQueue } from '../common/event-queue.js';
import { canonicalPrefix, parsePrefix } from '../common/ip.js';
import { KernelError } from '../errors.js';
import type { NetlinkAdapter, WatchOptions } from '../netlink/netlink.adapter.js';
import type {
  AddressSpec,
  IpFamily,
  KernelAddress,
  KernelChange,
  KernelLink,
  KernelRoute,
  KernelRule,
  RouteSelector,
  RouteSpec,
  RuleSpec,
} from '../netlink/netlink.types.js';
import type { Sysctl } from '../system/sysctl.js';

export type FakeNetlinkCall =
  | { op: 'addRoute' | 'replaceRoute'; route: RouteSpec }
  | { op: 'delRoute'; route: RouteSelector }
  | { op: 'addRule' | 'delRule'; rule: RuleSpec }
  | { op: 'addAddress' | 'delAddress'; address: AddressSpec }
  | { op: 'setLinkUp'; index: number };

const LOOPBACK_INDEX = 1;

export class FakeNetlink implements NetlinkAdapter {
  readonly links: KernelLink[] = [];
  readonly addresses: KernelAddress[] = [];
  readonly routes: KernelRoute[] = [];
  readonly rules: KernelRule[] = [];
  /** Every mutating call, in order, whether it succeeded or not. */
  readonly calls: FakeNetlinkCall[] = [];
  private readonly failures: Array<{ match: (call: FakeNetlinkCall) => boolean; code: string }> = [];
  private readonly watchers = new Set<EventQueue<KernelChange>>();
  private closed = false;

  constructor() {
    this.addLink('lo');
  }

  addLink(name: string, options: Partial<KernelLink> = {}): KernelLink {
    const link: KernelLink = {
      index: this.links.reduce((max, l) => Math.max(max, l.index), 0) + 1,
      name,
      up: false,
      lowerUp: false,
      operState: 'down',
      mtu: 1500,
      linkType: 'ETHER',
      kind: undefined,
      master: undefined,
      ...options,
    };
    this.links.push(link);
    this.emit({ kind: 'link', action: 'new', nlmsgType: 16, link });
    return link;
  }

  removeLink(name: string): void {
    const i = this.links.findIndex((l) => l.name === name);
    const [link] = i >= 0 ? this.links.splice(i, 1) : [];
    if (!link) return;
    // As the kernel does: routes through a vanished interface vanish with it.
    for (let j = this.routes.length - 1; j >= 0; j--)
      if (this.routes[j]?.ifindex === link.index) this.routes.splice(j, 1);
    this.emit({ kind: 'link', action: 'del', nlmsgType: 17, link });
  }

  /** The next call matching `match` fails with KernelError `code` (once). */
  failOn(match: (call: FakeNetlinkCall) => boolean, code = 'EPERM'): void {
    this.failures.push({ match, code });
  }

  listLinks(): Promise<KernelLink[]> {
    return Promise.resolve(this.links.map((l) => ({ ...l })));
  }

  getLinkByName(name: string): Promise<KernelLink | undefined> {
    const link = this.links.find((l) => l.name === name);
    return Promise.resolve(link && { ...link });
  }

  async setLinkUp(index: number): Promise<void> {
    await this.record({ op: 'setLinkUp', index });
    const link = this.links.find((l) => l.index === index);
    if (!link) throw new KernelError(`RTM_NEWLINK ifindex ${index} up`, 'ENODEV');
    link.up = true;
  }

  listAddresses(filter: { family?: IpFamily; ifindex?: number } = {}): Promise<KernelAddress[]> {
    return Promise.resolve(
      this.addresses.filter(
        (a) =>
          (filter.family === undefined || a.family === filter.family) &&
          (filter.ifindex === undefined || a.ifindex === filter.ifindex),
      ),
    );
  }

  async addAddress(address: AddressSpec): Promise<void> {
    await this.record({ op: 'addAddress', address });
    if (this.addresses.some((a) => a.ifindex === address.ifindex && a.cidr === address.cidr)) {
      throw new KernelError(`RTM_NEWADDR ${address.cidr}`, 'EEXIST');
    }
    const p = parsePrefix(address.cidr, { allowHostBits: true });
    const ip = address.cidr.split('/')[0] ?? '';
    this.addresses.push({
      family: p.family,
      address: ip,
      prefixLength: p.prefixLength,
      cidr: address.cidr,
      ifindex: address.ifindex,
      scope: 0,
      label: address.label,
      peer: address.peer,
    });
  }

  async delAddress(address: AddressSpec): Promise<void> {
    await this.record({ op: 'delAddress', address });
    const i = this.addresses.findIndex((a) => a.ifindex === address.ifindex && a.cidr === address.cidr);
    if (i < 0) throw new KernelError(`RTM_DELADDR ${address.cidr}`, 'EADDRNOTAVAIL');
    this.addresses.splice(i, 1);
  }

  listRoutes(filter: { table?: number; family?: IpFamily } = {}): Promise<KernelRoute[]> {
    return Promise.resolve(
      this.routes
        .filter(
          (r) =>
            (filter.table === undefined || r.table === filter.table) &&
            (filter.family === undefined || r.family === filter.family),
        )
        .map((r) => ({ ...r })),
    );
  }

  async addRoute(route: RouteSpec): Promise<void> {
    await this.record({ op: 'addRoute', route });
    const kernel = this.toKernelRoute(route);
    if (this.findRoute(kernel) >= 0) throw new KernelError(`RTM_NEWROUTE ${route.destination}`, 'EEXIST');
    this.routes.push(kernel);
    this.emit({ kind: 'route', action: 'new', nlmsgType: 24, route: kernel });
  }

  async replaceRoute(route: RouteSpec): Promise<void> {
    await this.record({ op: 'replaceRoute', route });
    const kernel = this.toKernelRoute(route);
    const i = this.findRoute(kernel);
    if (i >= 0) this.routes[i] = kernel;
    else this.routes.push(kernel);
    this.emit({ kind: 'route', action: 'new', nlmsgType: 24, route: kernel });
  }

  async delRoute(route: RouteSelector): Promise<void> {
    await this.record({ op: 'delRoute', route });
    const family = parsePrefix(route.destination).family;
    const i = this.findRoute({
      family,
      destination: canonicalPrefix(route.destination),
      table: route.table,
      metric: family === 'inet6' && route.metric === 0 ? 1024 : route.metric,
    });
    const [gone] = i >= 0 ? this.routes.splice(i, 1) : [];
    if (!gone) throw new KernelError(`RTM_DELROUTE ${route.destination}`, 'ESRCH');
    this.emit({ kind: 'route', action: 'del', nlmsgType: 25, route: gone });
  }

  listRules(filter: { family?: IpFamily } = {}): Promise<KernelRule[]> {
    return Promise.resolve(
      this.rules
        .filter((r) => filter.family === undefined || r.family === filter.family)
        .map((r) => ({ ...r })),
    );
  }

  async addRule(rule: RuleSpec): Promise<void> {
    await this.record({ op: 'addRule', rule });
    const kernel = toKernelRule(rule);
    if (this.rules.some((r) => sameRule(r, kernel) && r.protocol === kernel.protocol))
      throw new KernelError(`RTM_NEWRULE priority ${rule.priority}`, 'EEXIST');
    this.rules.push(kernel);
    this.rules.sort((a, b) => a.priority - b.priority);
  }

  async delRule(rule: RuleSpec): Promise<void> {
    await this.record({ op: 'delRule', rule });
    const kernel = toKernelRule(rule);
    // As in the kernel's rule_find: protocol 0 is a wildcard, and the first rule that fits goes.
    const i = this.rules.findIndex(
      (r) => sameRule(r, kernel) && (kernel.protocol === 0 || r.protocol === kernel.protocol),
    );
    if (i < 0) throw new KernelError(`RTM_DELRULE priority ${rule.priority}`, 'ENOENT');
    this.rules.splice(i, 1);
  }

  /** Puts a rule in place as if someone else had (no call recorded). */
  seedRule(rule: RuleSpec & { protocol?: number }): void {
    this.rules.push(toKernelRule(rule));
  }

  watch(options: WatchOptions = {}): AsyncIterable<KernelChange> {
    const queue: EventQueue<KernelChange> = new EventQueue<KernelChange>({
      limit: 1000,
      overflow: () => ({ kind: 'overrun', reason: 'backlog dropped' }),
      onReturn: () => this.watchers.delete(queue),
    });
    if (this.closed) queue.end();
    else this.watchers.add(queue);
    options.signal?.addEventListener('abort', () => void queue.return(), { once: true });
    return queue;
  }

  close(): Promise<void> {
    this.closed = true;
    for (const w of this.watchers) w.end();
    this.watchers.clear();
    return Promise.resolve();
  }

  private emit(change: KernelChange): void {
    for (const w of this.watchers) w.push(change);
  }

  private record(call: FakeNetlinkCall): Promise<void> {
    this.calls.push(call);
    const i = this.failures.findIndex((f) => f.match(call));
    if (i < 0) return Promise.resolve();
    const [failure] = this.failures.splice(i, 1);
    return Promise.reject(new KernelError(`fake ${call.op}`, failure?.code ?? 'EPERM'));
  }

  private findRoute(r: Pick<KernelRoute, 'family' | 'destination' | 'table' | 'metric'>): number {
    return this.routes.findIndex(
      (x) =>
        x.family === r.family &&
        x.destination === r.destination &&
        x.table === r.table &&
        x.metric === r.metric,
    );
  }

  private toKernelRoute(spec: RouteSpec): KernelRoute {
    const dst = parsePrefix(spec.destination);
    if (spec.ifindex !== undefined && !this.links.some((l) => l.index === spec.ifindex)) {
      throw new KernelError(`RTM_NEWROUTE ${spec.destination}`, 'ENODEV');
    }
    const reject = spec.type !== 'unicast';
    return {
      family: dst.family,
      destination: canonicalPrefix(spec.destination),
      type: spec.type,
      table: spec.table,
      protocol: spec.protocol,
      scope: spec.type === 'unicast' && spec.gateway === undefined ? 253 : 0,
      metric: dst.family === 'inet6' && spec.metric === 0 ? 1024 : spec.metric,
      ifindex: reject && dst.family === 'inet6' ? LOOPBACK_INDEX : spec.ifindex,
      gateway: spec.gateway,
      prefsrc: spec.prefsrc,
      multipath: false,
    };
  }
}

function toKernelRule(rule: RuleSpec): KernelRule {
  const fromAll = [rule.src, rule.dst, rule.fwmark, rule.iifname, rule.oifname].every((v) => v === undefined);
  return {
    family: rule.family,
    priority: rule.priority,
    table: rule.table,
    action: 'lookup',
    protocol: rule.protocol ?? 0,
    src: rule.src,
    dst: rule.dst,
    fwmark: rule.fwmark,
    fwmask: rule.fwmask,
    iifname: rule.iifname,
    oifname: rule.oifname,
    invert: false,
    fromAll,
  };
}

function sameRule(a: KernelRule, b: KernelRule): boolean {
  return (
    a.family === b.family &&
    a.priority === b.priority &&
    a.table === b.table &&
    a.src === b.src &&
    a.dst === b.dst &&
    a.fwmark === b.fwmark &&
    a.iifname === b.iifname &&
    a.oifname === b.oifname
  );
}

/** Sysctls in a map; a key never set reads as a missing /proc file would. */
export class MemorySysctl implements Sysctl {
  readonly values = new Map<string, string>();
  readonly writes: Array<[string, string]> = [];

  constructor(initial: Record<string, string> = {}) {
    for (const [k, v] of Object.entries(initial)) this.values.set(k, v);
  }

  get(key: string): Promise<string> {
    const v = this.values.get(key);
    return v === undefined ? Promise.reject(new Error(`read sysctl ${key}`)) : Promise.resolve(v);
  }

  set(key: string, value: string): Promise<void> {
    this.writes.push([key, value]);
    this.values.set(key, value);
    return Promise.resolve();
  }
}
