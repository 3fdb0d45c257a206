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
import type { PinoLogger } from 'nestjs-pino';
import type { ModuleDriver } from '../reconciler/module-driver.js';
import { CoreRoutingDriver, type RoutingPort } from './core-routing.driver.js';

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
  private readonly netlink = new RtNetlinkAdapter();
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
  apply(action: Parameters<RoutingPort['apply']>[0]): Promise<void> {
    return this.core.apply([action]);
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

export function createModuleDrivers(log: PinoLogger): ModuleDriver[] {
  log.setContext(CoreRoutingDriver.name);
  return [new CoreRoutingDriver(new NetlinkRoutingPort(), () => undefined, log)];
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
