// Which module drivers this build runs, in apply order: tunnel modules first (they create the
// interfaces), the core last (it routes into them).
import {
  ProcSysctl,
  NodeFileAdapter,
  RoutingCore,
  RtNetlinkAdapter,
  planRoutes,
  type KernelChange,
} from '@weft/core';
import { lookup } from 'node:dns/promises';
import { mkdirSync } from 'node:fs';
import { access } from 'node:fs/promises';
import {
  CharonSupervisor,
  detectDataplane,
  NodePkiFiles,
  PkiTool,
  renderStrongswanConf,
  SystemDataplaneProbe,
} from '@weft/ipsec';
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
import { CoreRoutingDriver, type RoutingPort } from './core-routing.driver.js';
import { IpsecCredentials } from './ipsec.credentials.js';
import { IpsecDriver } from './ipsec.driver.js';
import { ViciIpsecPort } from './ipsec.port.js';
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

/** The appliance's charon: its runtime dir under the data dir, the data plane detected (or forced). */
async function createIpsecDriver(
  boot: BootConfig,
  store: DesiredStateStore,
  log: PinoLogger,
): Promise<IpsecDriver> {
  const dir = join(boot.dataDir, 'ipsec');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const processes = new NodeProcessRunner();
  const exists = (path: string): Promise<boolean> =>
    access(path).then(
      () => true,
      () => false,
    );
  const detection = await detectDataplane(new SystemDataplaneProbe(processes, exists), boot.ipsecDataplane);
  const viciSocket = join(dir, 'charon.vici');
  const logFile = join(dir, 'charon.log');
  const made: { driver?: IpsecDriver } = {};
  const supervisor = new CharonSupervisor({
    processes,
    files: new NodeFileAdapter(),
    confFile: join(dir, 'strongswan.conf'),
    confText: renderStrongswanConf({ viciSocket, dataplane: detection.kind, logFile }),
    viciSocket,
    logFile,
    onEvent: (e) => {
      log.info({ event: e }, `charon ${e.type}`);
      // A restarted charon holds no connection: the drift check loads them again.
      if (e.type === 'restarted' || e.type === 'adopted') made.driver?.notifyChange(`charon ${e.type}`);
    },
  });
  const port = new ViciIpsecPort({
    dataplane: detection.kind,
    reason: detection.reason,
    interfaceName: detection.kind === 'libipsec' ? 'ipsec0' : undefined,
    viciSocket,
    start: () => supervisor.start(),
    stop: () => supervisor.stop(),
    isRunning: () => supervisor.isRunning(),
  });
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
  return made.driver;
}

export async function createModuleDrivers(
  boot: BootConfig,
  store: DesiredStateStore,
  wgLog: PinoLogger,
  coreLog: PinoLogger,
  ipsecLog: PinoLogger,
): Promise<ModuleDriver[]> {
  wgLog.setContext(WireGuardDriver.name);
  coreLog.setContext(CoreRoutingDriver.name);
  ipsecLog.setContext(IpsecDriver.name);
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
  const ipsec = await createIpsecDriver(boot, store, ipsecLog);
  // Where the core routes a link's remote subnets: the WireGuard device, or libipsec's TUN.
  const linkInterface = (link: Parameters<typeof interfaceOf>[0]): string | undefined =>
    link.type === 'ipsec' ? ipsec.interfaceOf() : interfaceOf(link);
  return [driver, ipsec, new CoreRoutingDriver(routing, linkInterface, coreLog)];
}

/** `weft cleanup`: remove everything every module owns from the kernel. */
export async function cleanupOwnedState(): Promise<void> {
  const port = new NetlinkRoutingPort();
  try {
    await port.cleanup();
  } finally {
    port.close();
  }
}
