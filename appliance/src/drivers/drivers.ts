// Which module drivers this build runs, in apply order: tunnel modules first (they create the
// interfaces), the core last (it routes into them).
import {
  CHARON_RULE_PRIORITY,
  CHARON_TABLE,
  L2Service,
  MulticastRouter,
  type MulticastRouterEvent,
  NftMulticastForwarder,
  NftService,
  ProcSysctl,
  NodeFileAdapter,
  RoutingCore,
  RtNetlinkAdapter,
  WEFT_ROUTE_PROTOCOL,
  planRoutes,
  type KernelChange,
  type NetlinkAdapter,
} from '@weft/core';
import { lookup } from 'node:dns/promises';
import { mkdirSync } from 'node:fs';
import { access } from 'node:fs/promises';
import {
  CharonSupervisor,
  detectDataplane,
  NodeCharonHost,
  NodePkiFiles,
  PkiTool,
  systemClock,
  type CharonEvent,
  type CharonRetransmit,
} from '@weft/ipsec';
import { detectDco } from '@weft/openvpn';
import { join } from 'node:path';
import {
  createWireGuardConfigurer,
  generatePrivateKey,
  NodeProcessRunner,
  peersDiffer,
  publicKeyOf,
  type UserspaceEvent,
} from '@weft/wireguard';
import type { PinoLogger } from 'nestjs-pino';
import type { BootConfig } from '../boot/boot-config.js';
import type { DesiredStateStore } from '../desired-state/desired-state.store.js';
import type { ModuleDriver } from '../reconciler/module-driver.js';
import { overlaps, parsePrefix } from '../common/cidr.js';
import { CoreMulticastL2Driver } from './core-multicast-l2.driver.js';
import { CoreMulticastDriver } from './core-multicast.driver.js';
import { MULTICAST_ENGINE_TEXT, MulticastEngineSelector } from './multicast-engine.js';
import { CoreNatDriver, type NftPort } from './core-nat.driver.js';
import { CoreRoutingDriver, type RoutingPort } from './core-routing.driver.js';
import { IpsecCredentials } from './ipsec.credentials.js';
import { IpsecDriver } from './ipsec.driver.js';
import { LoopbackAddresses, ViciIpsecPort } from './ipsec.port.js';
import { OpenvpnDriver, type OpenvpnEnv } from './openvpn.driver.js';
import { SupervisedOpenvpnPort } from './openvpn.port.js';
import { interfaceOf, WireGuardDriver, type WireGuardEnv, type WireGuardPort } from './wireguard.driver.js';

/** Kernel changes worth a drift check: anything in our table, rules, and interfaces coming and going. */
function relevant(change: KernelChange, tableId: number): string | undefined {
  switch (change.kind) {
    case 'route':
      return change.route.table === tableId ? `route ${change.action} in table weft` : undefined;
    case 'rule':
      return change.rule.table === tableId ? `rule ${change.action}` : undefined;
    case 'link':
      return `link ${change.link.name} ${change.action}`;
    case 'address':
      return undefined;
    case 'overrun':
      return `netlink overrun (${change.reason})`;
  }
}

export class NetlinkRoutingPort implements RoutingPort {
  readonly netlink = new RtNetlinkAdapter();
  private readonly core = new RoutingCore({
    netlink: this.netlink,
    sysctl: new ProcSysctl(new NodeFileAdapter()),
  });
  readonly tableId = this.core.owned.table.id;

  ensureBase(): Promise<void> {
    return this.core.ensureBase();
  }
  observe(): ReturnType<RoutingPort['observe']> {
    return this.core.observe();
  }
  plan(...args: Parameters<RoutingPort['plan']>): ReturnType<RoutingPort['plan']> {
    return planRoutes(...args);
  }
  apply(actions: Parameters<RoutingPort['apply']>[0]): Promise<void> {
    return this.core.apply(actions);
  }
  async interfaceUp(name: string): Promise<boolean> {
    const link = await this.netlink.getLinkByName(name);
    return link !== undefined && link.up;
  }
  async *changes(): AsyncIterable<string> {
    for await (const change of this.netlink.watch()) {
      const what = relevant(change, this.tableId);
      if (what) yield what;
    }
  }
  async cleanup(): Promise<void> {
    await this.core.cleanup();
  }
  close(): void {
    void this.netlink.close();
  }
}

/** The interface the IPv4 default route leaves by (the underlay when none is configured). */
async function defaultRouteInterface(port: NetlinkRoutingPort): Promise<string | undefined> {
  const def = (await port.netlink.listRoutes({ table: 254, family: 'inet' })).find(
    (r) => r.destination === '0.0.0.0/0',
  );
  if (def?.ifindex === undefined) return undefined;
  return (await port.netlink.listLinks()).find((l) => l.index === def.ifindex)?.name;
}

/** The core's nftables service behind the NAT driver's port. */
function nftPort(processes: NodeProcessRunner): NftPort {
  const nft = new NftService(processes);
  return {
    unavailable: async () =>
      (await processes.findExecutable('nft')) ? undefined : 'nftables is not installed: apt install nftables',
    apply: (desired) => nft.apply(desired),
    drift: async (desired) => {
      const d = await nft.drifted(desired);
      return d.drifted ? (d.differences.length > 0 ? d.differences : ['table differs']) : [];
    },
    cleanup: () => nft.cleanup(),
  };
}

/** Underlay MTU: the named interface's, else the one the IPv4 default route leaves by. */
async function underlayMtu(
  port: NetlinkRoutingPort,
  ifname: string | undefined,
): Promise<number | undefined> {
  if (ifname) return (await port.netlink.getLinkByName(ifname))?.mtu;
  const def = (await port.netlink.listRoutes({ table: 254, family: 'inet' })).find(
    (r) => r.destination === '0.0.0.0/0',
  );
  if (def?.ifindex === undefined) return undefined;
  return (await port.netlink.listLinks()).find((l) => l.index === def.ifindex)?.mtu;
}

/**
 * IKE retransmits of the appliance's charon: 3 tries from 2 s, growing 1.4× (≈ 14 s to give up), so the
 * doctor names an unreachable peer in seconds, not after charon's default ≈ 165 s.
 */
const IPSEC_RETRANSMIT: CharonRetransmit = { tries: 3, timeoutS: 2, base: 1.4 };

/** One structured line per supervision event; what went wrong is spelled out, never an `{}` Error. */
function logCharonEvent(log: PinoLogger, e: CharonEvent): void {
  switch (e.type) {
    case 'started':
    case 'restarted':
      log.info({ event: e }, `charon ${e.type} (pid ${e.pid})`);
      return;
    case 'adopted':
      log.info({ event: e }, `charon adopted: one from an earlier run answers (pid ${e.pid ?? 'unknown'})`);
      return;
    case 'exited': {
      const how = e.adopted ? 'stopped answering' : `exited (${e.signal ?? `code ${e.code}`})`;
      log.warn({ event: e }, `charon ${how}: restart in ${e.restartInMs} ms`);
      return;
    }
    case 'restart-failed':
      log.error(
        { event: { ...e, error: e.error.message } },
        `charon restart ${e.attempt} failed: ${e.error.message}; next in ${e.restartInMs} ms`,
      );
      return;
    case 'stale-ended':
      log.warn({ event: e }, `ended charon ${e.pid}: ours from an earlier run, no longer answering`);
      return;
    case 'stopped':
      log.info({ event: e }, 'charon stopped');
      return;
  }
}

/**
 * The appliance's charon: its runtime dir (strongswan.conf, pid file, VICI socket, log) under the data
 * dir, the data plane detected (or forced by --ipsec / WEFT_IPSEC / `ipsec` in the config file), its
 * routes in charon's own table behind Weft's (core's owned.ts).
 */
async function createIpsecDriver(
  boot: BootConfig,
  store: DesiredStateStore,
  log: PinoLogger,
  netlink: NetlinkAdapter,
): Promise<{ driver: IpsecDriver; credentials: IpsecCredentials }> {
  const dir = join(boot.dataDir, 'ipsec');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const processes = new NodeProcessRunner();
  const host = new NodeCharonHost();
  const dataplane = await detectDataplane({ processes, host, choice: boot.ipsecDataplane });
  const made: { driver?: IpsecDriver } = {};
  // Built now, started lazily: the driver starts charon with the first IPsec link.
  const supervisor = new CharonSupervisor({
    processes,
    host,
    clock: systemClock,
    runtimeDir: dir,
    config: {
      viciSocket: join(dir, 'charon.vici'),
      dataplane: dataplane.kind,
      log: { file: join(dir, 'charon.log') },
      routing: { table: CHARON_TABLE.id, priority: CHARON_RULE_PRIORITY },
      retransmit: IPSEC_RETRANSMIT,
    },
    onEvent: (e) => {
      logCharonEvent(log, e);
      // A restarted charon holds no connection, credential or SA, and an adopted one may hold old ones:
      // the drift check compares and loads them all again.
      if (e.type === 'restarted' || e.type === 'adopted') made.driver?.notifyChange(`charon ${e.type}`);
    },
  });
  const port = new ViciIpsecPort(supervisor, dataplane, new LoopbackAddresses(netlink));
  const state = store.moduleState('ipsec');
  const credentials = new IpsecCredentials(
    state,
    new PkiTool({ processes, files: new NodePkiFiles(), workDir: dir }),
  );
  made.driver = new IpsecDriver(
    port,
    state,
    log,
    () => new Date(),
    credentials,
    () => store.active()?.document.appliance.name,
  );
  return { driver: made.driver, credentials };
}

/**
 * The appliance's openvpn processes: one per link under `<data dir>/openvpn/<link>/`, DCO when the
 * kernel has it. The certificate is this appliance's one identity, from the same CA as IPsec's.
 */
async function createOpenvpnDriver(
  boot: BootConfig,
  store: DesiredStateStore,
  log: PinoLogger,
  credentials: IpsecCredentials,
  env: OpenvpnEnv,
): Promise<OpenvpnDriver> {
  const dir = join(boot.dataDir, 'openvpn');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dco = await detectDco(
    {
      exists: (path) =>
        access(path).then(
          () => true,
          () => false,
        ),
    },
    'auto',
  );
  const made: { driver?: OpenvpnDriver } = {};
  const port = new SupervisedOpenvpnPort({
    processes: new NodeProcessRunner(),
    runtimeDir: dir,
    dco,
    onEvent: (link, e) => {
      if (e.type === 'state' || e.type === 'bytecount') return;
      if (e.type === 'exited') {
        log.warn(
          {
            link,
            pid: e.pid,
            code: e.code,
            signal: e.signal,
            reason: e.reason,
            restart_in_ms: e.restartInMs,
            last_lines: e.lastLines,
          },
          `openvpn for ${link} exited`,
        );
      } else log.info({ link, event: e }, `openvpn for ${link} ${e.type}`);
      // A restarted openvpn has a new tun device: the routes through it must be put back.
      if (e.type === 'restarted') made.driver?.notifyChange(`openvpn for ${link} restarted`);
    },
  });
  made.driver = new OpenvpnDriver(port, store.moduleState('openvpn'), credentials, env, log);
  return made.driver;
}

export async function createModuleDrivers(
  boot: BootConfig,
  store: DesiredStateStore,
  wgLog: PinoLogger,
  coreLog: PinoLogger,
  ipsecLog: PinoLogger,
  openvpnLog: PinoLogger,
  publish: OpenvpnEnv['publish'] = () => undefined,
): Promise<ModuleDriver[]> {
  wgLog.setContext(WireGuardDriver.name);
  coreLog.setContext(CoreRoutingDriver.name);
  ipsecLog.setContext(IpsecDriver.name);
  openvpnLog.setContext(OpenvpnDriver.name);
  const routing = new NetlinkRoutingPort();
  // The driver is made after the configurer, whose events it must hear.
  const made: { driver?: WireGuardDriver } = {};
  const onEvent = (e: UserspaceEvent): void => {
    wgLog.info({ event: e }, `wireguard-go ${e.type}: ${e.device}`);
    // A restarted wireguard-go has a new TUN device: the routes through it must be put back.
    if (e.type === 'restarted') made.driver?.notifyChange(`wireguard-go for ${e.device} restarted`);
  };
  const logDir = join(boot.dataDir, 'wireguard');
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const { configurer, detection } = await createWireGuardConfigurer({
    processes: new NodeProcessRunner(),
    implementation: boot.wireguardImplementation,
    logDir,
    onEvent,
  });
  const port: WireGuardPort = {
    kind: configurer.kind,
    reason: detection.reason,
    ensureDevice: (name, device, mtu) => configurer.ensureDevice(name, device, mtu),
    syncPeers: (name, desired) => configurer.syncPeers(name, desired),
    readDevice: (name) => configurer.readDevice(name),
    removeDevice: (name) => configurer.removeDevice(name),
    forgetSourceAddresses: (name) => configurer.forgetSourceAddresses(name),
    peersDiffer: (desired, observed) => peersDiffer(desired, observed),
    generatePrivateKey,
    publicKeyOf,
    close: () => configurer.close(),
  };
  const env: WireGuardEnv = {
    resolve: async (host) => (await lookup(host)).address,
    underlayMtu: (ifname) => underlayMtu(routing, ifname),
    addressRemovals: async function* (signal) {
      for await (const change of routing.netlink.watch({ signal })) {
        // Scope universe only: link-local addresses come and go with every tunnel device.
        if (change.kind === 'address' && change.action === 'del' && change.address.scope === 0)
          yield change.address.address;
      }
    },
    now: () => new Date(),
  };
  const driver = new WireGuardDriver(port, store.moduleState('wireguard'), env, wgLog);
  made.driver = driver;
  const { driver: ipsec, credentials } = await createIpsecDriver(boot, store, ipsecLog, routing.netlink);
  const openvpn = await createOpenvpnDriver(boot, store, openvpnLog, credentials, {
    underlayMtu: (ifname) => underlayMtu(routing, ifname),
    now: () => new Date(),
    publish,
  });
  // Where the core routes a link's remote subnets: the WireGuard device, libipsec's TUN, the openvpn tun.
  const linkInterface = (link: Parameters<typeof interfaceOf>[0]): string | undefined =>
    link.type === 'ipsec'
      ? ipsec.interfaceOf()
      : link.type === 'openvpn'
        ? openvpn.interfaceOf(link)
        : interfaceOf(link);
  const nat = new CoreNatDriver(
    nftPort(new NodeProcessRunner()),
    linkInterface,
    {
      underlay: async (ifname) => ifname ?? (await defaultRouteInterface(routing)),
      // What each tunnel module binds, as its plan picks the ports (charon: IKE and NAT-T).
      tunnelPorts: (doc) => ({
        udp: [
          ...driver.listenPorts(doc),
          ...openvpn.listenPorts(doc),
          ...(doc.links.some((l) => l.type === 'ipsec' && l.enabled !== false) ? [500, 4500] : []),
        ],
        tcp: [],
      }),
      apiPort: boot.listenPort,
      lanInterface: async (doc) =>
        doc.multicast?.lan_interface ??
        (await lanInterface(routing.netlink, doc.appliance.local_subnets ?? [])),
    },
    store.moduleState('nat'),
    coreLog,
  );
  const multicast = createMulticastDriver(boot, store, coreLog, routing, linkInterface);
  const l2 = new L2Service(new NodeProcessRunner());
  const multicastL2 = new CoreMulticastL2Driver(
    l2,
    linkInterface,
    {
      lan: (ifname, subnets) => findLan(routing.netlink, ifname, subnets),
      mtuOf: async (ifname) => (await routing.netlink.getLinkByName(ifname))?.mtu,
    },
    store.moduleState('multicast-l2'),
    coreLog,
  );
  return [
    driver,
    ipsec,
    openvpn,
    new CoreRoutingDriver(routing, linkInterface, coreLog),
    nat,
    multicast,
    multicastL2,
  ];
}

/** One structured line per smcrouted supervision event. */
function logMulticastEvent(log: PinoLogger, e: MulticastRouterEvent): void {
  switch (e.type) {
    case 'exited':
      log.warn(
        { event: e },
        `smcrouted ${e.pid} exited (${e.signal ?? `code ${e.code}`}): restart in ${e.restartInMs} ms`,
      );
      return;
    case 'restart-failed':
      log.error(
        { event: { ...e, error: e.error.message } },
        `smcrouted restart ${e.attempt} failed: ${e.error.message}; next in ${e.restartInMs} ms`,
      );
      return;
    case 'reloaded':
      log.info({ event: e }, `smcrouted reloaded: VIFs on ${e.interfaces.join(', ')}`);
      return;
    case 'adopted':
      log.info({ event: e }, `smcrouted adopted: one of ours from an earlier run answers (pid ${e.pid})`);
      return;
    case 'started':
    case 'restarted':
    case 'stopped':
    case 'stale-ended':
      log.info({ event: e }, `smcrouted ${e.type} (pid ${e.pid})`);
      return;
  }
}

/**
 * The LAN: `ifname` when given (with its first IPv4 address inside `subnets`, else its first), else the
 * interface holding an IPv4 address inside one of `subnets`.
 */
async function findLan(
  netlink: NetlinkAdapter,
  ifname: string | undefined,
  subnets: readonly string[],
): Promise<{ ifname: string; address: string } | undefined> {
  const nets = subnets.flatMap((s) => {
    const p = parsePrefix(s);
    return p && p.family === 4 ? [p] : [];
  });
  const inside = (a: { address: string }): boolean => {
    const p = parsePrefix(`${a.address}/32`);
    return p !== undefined && nets.some((n) => overlaps(n, p));
  };
  const links = await netlink.listLinks();
  const addresses = await netlink.listAddresses({ family: 'inet' });
  if (ifname) {
    const link = links.find((l) => l.name === ifname);
    if (!link) return undefined;
    const own = addresses.filter((a) => a.ifindex === link.index);
    const hit = own.find(inside) ?? own[0];
    return hit ? { ifname, address: hit.address } : undefined;
  }
  if (nets.length === 0) return undefined;
  const hit = addresses.find(inside);
  const name = hit ? links.find((l) => l.index === hit.ifindex)?.name : undefined;
  return hit && name ? { ifname: name, address: hit.address } : undefined;
}

/** The interface holding an IPv4 address inside one of `subnets`. */
async function lanInterface(
  netlink: NetlinkAdapter,
  subnets: readonly string[],
): Promise<string | undefined> {
  return (await findLan(netlink, undefined, subnets))?.ifname;
}

/**
 * The multicast forwarder behind the multicast driver: smcrouted under `<data dir>/multicast` where the
 * kernel has multicast routing, nftables dup rules where it has not (boot config `multicast`).
 */
function createMulticastDriver(
  boot: BootConfig,
  store: DesiredStateStore,
  log: PinoLogger,
  routing: NetlinkRoutingPort,
  linkInterface: (link: Parameters<typeof interfaceOf>[0]) => string | undefined,
): CoreMulticastDriver {
  const made: { driver?: CoreMulticastDriver } = {};
  const router = new MulticastRouter({
    processes: new NodeProcessRunner(),
    runtimeDir: join(boot.dataDir, 'multicast'),
    onEvent: (e) => {
      logMulticastEvent(log, e);
      if (e.type === 'restarted') made.driver?.notifyChange('smcrouted restarted');
    },
  });
  const engines = new MulticastEngineSelector(boot.multicastEngine, {
    mroute: router,
    nftables: new NftMulticastForwarder({ processes: new NodeProcessRunner() }),
  });
  made.driver = new CoreMulticastDriver(
    {
      unavailable: async () => {
        const s = await engines.select();
        if (s.engine)
          log.info({ engine: s.engine, why: s.why }, `multicast forwarder: ${s.engine} (${s.why})`);
        return s.engine ? undefined : s.why;
      },
      apply: (desired) => engines.apply(desired),
      drift: (desired) => engines.drift(desired),
      counters: (desired) => engines.counters(desired),
      interfaces: async () => (await routing.netlink.listLinks()).map((l) => l.name),
      describe: () => (engines.engine ? MULTICAST_ENGINE_TEXT[engines.engine] : 'no multicast forwarder'),
      stop: () => engines.stop(),
      cleanup: () => engines.cleanup(),
    },
    linkInterface,
    { lanInterface: (subnets) => lanInterface(routing.netlink, subnets) },
    store.moduleState('multicast'),
    log,
  );
  return made.driver;
}

/**
 * charon's table and the rule pointing at it. charon removes its rule at a clean exit, but a SIGKILL
 * (or a crashed appliance host) leaves it, with kernel-libipsec's routes: emptied the same way as
 * Weft's own table.
 */
function cleanupCharonRouting(netlink: NetlinkAdapter): Promise<unknown> {
  return new RoutingCore({
    netlink,
    sysctl: new ProcSysctl(new NodeFileAdapter()),
    owned: { table: CHARON_TABLE, rulePriority: CHARON_RULE_PRIORITY, protocol: WEFT_ROUTE_PROTOCOL },
  }).cleanup();
}

/**
 * `weft cleanup`: remove everything every module owns from the kernel, and end the smcrouted of the
 * appliance whose data dir is `dataDir` (found by its pid file, ended only if its argv names our socket).
 */
export async function cleanupOwnedState(dataDir: string): Promise<void> {
  const port = new NetlinkRoutingPort();
  try {
    // All, even when one fails: a half-done cleanup is worth less than a full report. The addresses
    // on lo are those the IPsec driver adds for NETMAP links (labelled lo:weft; IPv4 only).
    const results = await Promise.allSettled([
      port.cleanup(),
      cleanupCharonRouting(port.netlink),
      new LoopbackAddresses(port.netlink).removeLabelled(),
      nftPort(new NodeProcessRunner()).cleanup(),
      new L2Service(new NodeProcessRunner()).cleanup(),
      new NftMulticastForwarder({ processes: new NodeProcessRunner() }).cleanup(),
      new MulticastRouter({
        processes: new NodeProcessRunner(),
        runtimeDir: join(dataDir, 'multicast'),
      }).cleanup(),
    ]);
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) throw new AggregateError(failures, 'weft cleanup: some owned state remains');
  } finally {
    port.close();
  }
}
