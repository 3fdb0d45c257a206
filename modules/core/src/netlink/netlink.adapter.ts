// The kernel as @weft/core sees it: links, addresses, routes, rules and their change notifications.
// RtNetlinkAdapter speaks rtnetlink through the `netlink` package; everything above it depends only
// on the NetlinkAdapter interface, so unit tests use the in-memory double in ../testing.
import {
  createNetlink,
  createRtNetlink,
  FlagsNew,
  Protocol,
  rt,
  type NetlinkMessage,
  type NetlinkSocket,
  type RtNetlinkSocket,
} from 'netlink';
import { EventQueue } from '../common/event-queue.js';
import { AdapterClosedError, CoreError, KernelError } from '../errors.js';
import {
  addressFromKernel,
  addressToKernel,
  changeFromKernel,
  errnoName,
  familyFromAf,
  linkFromKernel,
  routeFromKernel,
  routeSelectorToKernel,
  routeToKernel,
  ruleFromKernel,
  ruleToKernel,
} from './netlink.codec.js';
import {
  AF,
  type AddressSpec,
  type IpFamily,
  type KernelAddress,
  type KernelChange,
  type KernelLink,
  type KernelRoute,
  type KernelRule,
  type RouteSelector,
  type RouteSpec,
  type RuleSpec,
} from './netlink.types.js';

export interface WatchOptions {
  /** Ends the iteration when aborted. */
  signal?: AbortSignal;
}

export interface NetlinkAdapter {
  listLinks(): Promise<KernelLink[]>;
  /** undefined when no link has that name. */
  getLinkByName(name: string): Promise<KernelLink | undefined>;
  setLinkUp(index: number): Promise<void>;

  listAddresses(filter?: { family?: IpFamily; ifindex?: number }): Promise<KernelAddress[]>;
  /** Fails with KernelError EEXIST when the address is already there. */
  addAddress(address: AddressSpec): Promise<void>;
  delAddress(address: AddressSpec): Promise<void>;

  /** Routes of both families unless `family` is given; every table unless `table` is given. */
  listRoutes(filter?: { table?: number; family?: IpFamily }): Promise<KernelRoute[]>;
  /** Fails with KernelError EEXIST when a route with the same destination and metric is in the table. */
  addRoute(route: RouteSpec): Promise<void>;
  /** Creates the route, or replaces the one with the same destination and metric in the table. */
  replaceRoute(route: RouteSpec): Promise<void>;
  /** Fails with KernelError ESRCH when no route matches. */
  delRoute(route: RouteSelector): Promise<void>;

  listRules(filter?: { family?: IpFamily }): Promise<KernelRule[]>;
  /** Fails with KernelError EEXIST when an identical rule exists. */
  addRule(rule: RuleSpec): Promise<void>;
  /** Deletes the first rule matching the given fields; fails with KernelError ENOENT when none does. */
  delRule(rule: RuleSpec): Promise<void>;

  /**
   * Link, address, route and rule notifications from the moment of the call (the subscription is in
   * place when watch() returns, before the first next()). Ends when the adapter is closed, the signal
   * aborts or the consumer breaks out; throws if the monitor socket fails.
   */
  watch(options?: WatchOptions): AsyncIterable<KernelChange>;

  /** Ends every watch and fails pending and later calls with AdapterClosedError. */
  close(): Promise<void>;
}

export interface RtNetlinkAdapterOptions {
  /** A request without an answer after this long fails with KernelError ETIMEDOUT (default 5000). */
  timeoutMs?: number;
  /** Notifications held per slow watcher before its backlog becomes one `overrun` (default 10000). */
  watchBacklog?: number;
}

/** RTNLGRP_* groups watch() joins. */
const WATCH_GROUPS = [
  rt.MulticastGroups.LINK,
  rt.MulticastGroups.IPV4_IFADDR,
  rt.MulticastGroups.IPV6_IFADDR,
  rt.MulticastGroups.IPV4_ROUTE,
  rt.MulticastGroups.IPV6_ROUTE,
  rt.MulticastGroups.IPV4_RULE,
  rt.MulticastGroups.IPV6_RULE,
];

const CREATE_EXCL = FlagsNew.CREATE | FlagsNew.EXCL;
const CREATE_REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;

export class RtNetlinkAdapter implements NetlinkAdapter {
  private readonly timeoutMs: number;
  private readonly watchBacklog: number;
  /** One request at a time: the kernel runs one dump per socket, and the package cannot untangle two. */
  private readonly requests: RtNetlinkSocket;
  /** Multicast notifications come in on a socket of their own so they never interleave with a dump. */
  private monitor: NetlinkSocket | undefined;
  private readonly watchers = new Set<EventQueue<KernelChange>>();
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly closedAbort = new AbortController();

  constructor(options: RtNetlinkAdapterOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.watchBacklog = options.watchBacklog ?? 10_000;
    this.requests = createRtNetlink();
    // Without a listener an EventEmitter 'error' would crash the process; a failed receive on the
    // request socket surfaces as the request's timeout instead.
    this.requests.socket.on('error', () => undefined);
  }

  listLinks(): Promise<KernelLink[]> {
    return this.run('RTM_GETLINK dump', async (o) =>
      (await this.requests.getLinks({}, {}, o)).map(linkFromKernel),
    );
  }

  async getLinkByName(name: string): Promise<KernelLink | undefined> {
    try {
      const [link] = await this.run(`RTM_GETLINK ${name}`, (o) =>
        this.requests.getLink({}, { ifname: name }, o),
      );
      return link && linkFromKernel(link);
    } catch (err) {
      if (err instanceof KernelError && err.code === 'ENODEV') return undefined;
      throw err;
    }
  }

  async setLinkUp(index: number): Promise<void> {
    await this.run(`RTM_NEWLINK ifindex ${index} up`, (o) =>
      this.requests.setLink({ index, change: { up: true }, flags: { up: true } }, {}, o),
    );
  }

  async listAddresses(filter: { family?: IpFamily; ifindex?: number } = {}): Promise<KernelAddress[]> {
    const family = filter.family === undefined ? 0 : AF[filter.family];
    const messages = await this.run('RTM_GETADDR dump', (o) => this.requests.getAddresses({ family }, {}, o));
    return messages
      .map(addressFromKernel)
      .filter((a): a is KernelAddress => a !== undefined)
      .filter((a) => filter.ifindex === undefined || a.ifindex === filter.ifindex);
  }

  async addAddress(address: AddressSpec): Promise<void> {
    const { data, attrs } = addressToKernel(address);
    await this.run(`RTM_NEWADDR ${address.cidr} ifindex ${address.ifindex}`, (o) =>
      this.requests.newAddress(data, attrs, { ...o, flags: CREATE_EXCL }),
    );
  }

  async delAddress(address: AddressSpec): Promise<void> {
    const { data, attrs } = addressToKernel(address);
    await this.run(`RTM_DELADDR ${address.cidr} ifindex ${address.ifindex}`, (o) =>
      this.requests.delAddress(data, attrs, o),
    );
  }

  async listRoutes(filter: { table?: number; family?: IpFamily } = {}): Promise<KernelRoute[]> {
    const family = filter.family === undefined ? 0 : AF[filter.family];
    // The kernel ignores the table in a dump request unless NETLINK_GET_STRICT_CHK is set, which the
    // netlink package cannot set: filter here.
    const messages = await this.run('RTM_GETROUTE dump', (o) => this.requests.getRoutes({ family }, {}, o));
    return messages
      .map(routeFromKernel)
      .filter((r): r is KernelRoute => r !== undefined)
      .filter((r) => filter.table === undefined || r.table === filter.table);
  }

  async addRoute(route: RouteSpec): Promise<void> {
    const { data, attrs } = routeToKernel(route);
    await this.run(`RTM_NEWROUTE ${describeRoute(route)}`, (o) =>
      this.requests.newRoute(data, attrs, { ...o, flags: CREATE_EXCL }),
    );
  }

  async replaceRoute(route: RouteSpec): Promise<void> {
    const { data, attrs } = routeToKernel(route);
    await this.run(`RTM_NEWROUTE (replace) ${describeRoute(route)}`, (o) =>
      this.requests.newRoute(data, attrs, { ...o, flags: CREATE_REPLACE }),
    );
  }

  async delRoute(route: RouteSelector): Promise<void> {
    const { data, attrs } = routeSelectorToKernel(route);
    await this.run(`RTM_DELROUTE ${describeRoute(route)}`, (o) => this.requests.delRoute(data, attrs, o));
  }

  async listRules(filter: { family?: IpFamily } = {}): Promise<KernelRule[]> {
    const family = filter.family === undefined ? 0 : AF[filter.family];
    const messages = await this.run('RTM_GETRULE dump', (o) => this.requests.getRules({ family }, {}, o));
    // A family-0 dump also returns the multicast routing rules (RTNL_FAMILY_IPMR…), which we drop.
    return messages
      .filter((m) => familyFromAf(m.data.family) !== undefined)
      .map(ruleFromKernel)
      .filter((r): r is KernelRule => r !== undefined);
  }

  async addRule(rule: RuleSpec): Promise<void> {
    const { data, attrs } = ruleToKernel(rule);
    await this.run(`RTM_NEWRULE ${describeRule(rule)}`, (o) =>
      this.requests.newRule(data, attrs, { ...o, flags: CREATE_EXCL }),
    );
  }

  async delRule(rule: RuleSpec): Promise<void> {
    const { data, attrs } = ruleToKernel(rule);
    await this.run(`RTM_DELRULE ${describeRule(rule)}`, (o) => this.requests.delRule(data, attrs, o));
  }

  watch(options: WatchOptions = {}): AsyncIterable<KernelChange> {
    const queue: EventQueue<KernelChange> = new EventQueue<KernelChange>({
      limit: this.watchBacklog,
      overflow: () => ({ kind: 'overrun', reason: 'the consumer fell behind; its backlog was dropped' }),
      onReturn: () => this.unwatch(queue),
    });
    if (this.closed || options.signal?.aborted) {
      queue.end();
      return queue;
    }
    try {
      this.ensureMonitor();
    } catch (cause) {
      queue.end(new Error('open the rtnetlink monitor socket', { cause }));
      return queue;
    }
    this.watchers.add(queue);
    options.signal?.addEventListener('abort', () => void queue.return(), { once: true });
    return queue;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.closedAbort.abort();
    this.requests.socket.close();
    for (const w of [...this.watchers]) w.end();
    this.watchers.clear();
    this.closeMonitor();
    return Promise.resolve();
  }

  private ensureMonitor(): void {
    if (this.monitor) return;
    // ref: a pending watch keeps the process alive, as a pending socket read would. A larger receive
    // buffer (capped by net.core.rmem_max) makes ENOBUFS during bursts such as a link flap rarer.
    // The package's typings demand both buffer sizes; 0 (falsy) leaves the send buffer alone.
    const monitor = createNetlink(Protocol.ROUTE, { ref: true, recvBufferSize: 1 << 20, sendBufferSize: 0 });
    try {
      for (const group of WATCH_GROUPS) monitor.addMembership(group);
    } catch (err) {
      monitor.close();
      throw err;
    }
    monitor.on('message', (messages: NetlinkMessage[]) => {
      for (const m of messages) {
        const change = changeFromKernel(m.type, m.data);
        if (change) for (const w of this.watchers) w.push(change);
      }
    });
    monitor.on('error', (err) => {
      // ENOBUFS: the kernel dropped notifications because the socket buffer was full; the socket
      // itself is fine. Anything else means the monitor is gone.
      if (errnoName(err) === 'ENOBUFS') {
        for (const w of this.watchers)
          w.push({ kind: 'overrun', reason: 'ENOBUFS: the kernel dropped notifications' });
        return;
      }
      const failure = new Error('rtnetlink monitor socket failed', { cause: err });
      for (const w of [...this.watchers]) w.end(failure);
      this.watchers.clear();
      this.closeMonitor();
    });
    this.monitor = monitor;
  }

  private unwatch(queue: EventQueue<KernelChange>): void {
    this.watchers.delete(queue);
    if (this.watchers.size === 0) this.closeMonitor();
  }

  private closeMonitor(): void {
    const monitor = this.monitor;
    this.monitor = undefined;
    monitor?.close();
  }

  /**
   * Runs one request after the previous one settled and turns the netlink package's errors
   * (`Request rejected: EEXIST`, `Timeout has been reached`) into KernelError naming the request.
   */
  private run<T>(what: string, request: (options: { timeout: number }) => Promise<T>): Promise<T> {
    const result = this.tail.then(async () => {
      if (this.closed) throw new AdapterClosedError(what);
      try {
        return await this.settleOnClose(what, request({ timeout: this.timeoutMs }));
      } catch (cause) {
        if (cause instanceof CoreError) throw cause;
        if (cause instanceof Error && cause.message === 'Timeout has been reached') {
          throw new KernelError(`${what}: no answer within ${this.timeoutMs} ms`, 'ETIMEDOUT', { cause });
        }
        const code = errnoName(cause);
        if (code) throw new KernelError(what, code, { cause });
        throw new Error(what, { cause });
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** The netlink package forgets pending requests when its socket closes; settle them ourselves. */
  private settleOnClose<T>(what: string, pending: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onClose = (): void => reject(new AdapterClosedError(what));
      this.closedAbort.signal.addEventListener('abort', onClose, { once: true });
      pending
        .then(resolve, reject)
        .finally(() => this.closedAbort.signal.removeEventListener('abort', onClose))
        .catch(() => undefined);
    });
  }
}

function describeRoute(r: RouteSelector & Partial<RouteSpec>): string {
  const via = [
    r.type && r.type !== 'unicast' ? r.type : undefined,
    r.destination,
    r.gateway !== undefined ? `via ${r.gateway}` : undefined,
    r.ifindex !== undefined ? `ifindex ${r.ifindex}` : undefined,
    `metric ${r.metric}`,
    `table ${r.table}`,
  ];
  return via.filter((s) => s !== undefined).join(' ');
}

function describeRule(r: RuleSpec): string {
  const from = r.src ?? 'all';
  return `${r.family} from ${from}${r.dst ? ` to ${r.dst}` : ''} lookup ${r.table} priority ${r.priority}`;
}
