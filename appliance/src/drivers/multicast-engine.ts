// Which multicast forwarder runs, chosen once at start-up (boot config `multicast`, default auto):
//   mroute   — the kernel's multicast routing fed static routes by one smcrouted of ours (a full kernel);
//   nftables — nft `dup` rules in table ip weft_mcast (kernels without CONFIG_IP_MROUTE, such as the
//              lab's: no VIF, no multicast cache, so no multicast routing daemon can run at all).
// auto takes mroute where the kernel and smcroute allow it, else nftables, and logs which and why. Both
// carry the same static routes with the same results (TTL-1 per hop, TTL 1 never forwarded, per-route
// and per-sender counters); the one not chosen is cleaned up so a group is never forwarded twice.
import type { MulticastApplyResult, MulticastDesired, MulticastRouteCounters } from '@weft/core';

export type MulticastEngineChoice = 'auto' | 'mroute' | 'nftables';
export type MulticastEngineName = 'mroute' | 'nftables';

/** What both forwarders offer (core's MulticastRouter and NftMulticastForwarder). */
export interface MulticastEngine {
  unavailable(): Promise<string | undefined>;
  apply(desired: MulticastDesired): Promise<MulticastApplyResult>;
  drift(desired: MulticastDesired): Promise<string[]>;
  counters(desired: MulticastDesired): Promise<MulticastRouteCounters[]>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export const MULTICAST_ENGINE_TEXT: Record<MulticastEngineName, string> = {
  mroute: 'smcrouted (kernel multicast routing, static routes)',
  nftables: 'nftables dup (table ip weft_mcast, static routes)',
};

export interface MulticastSelection {
  engine: MulticastEngineName | undefined;
  /** Why the choice fell as it did, or why nothing can run. */
  why: string;
}

/** Picks the engine on the first call and keeps it; the rest is delegated to it. */
export class MulticastEngineSelector implements MulticastEngine {
  private selection: Promise<MulticastSelection> | undefined;
  private chosen: MulticastEngineName | undefined;

  constructor(
    private readonly choice: MulticastEngineChoice,
    private readonly engines: Record<MulticastEngineName, MulticastEngine>,
  ) {}

  /** The engine in use and why (selecting it if not done yet). */
  select(): Promise<MulticastSelection> {
    this.selection ??= this.decide();
    return this.selection;
  }

  /** The engine selected so far; undefined before select() or when none can run. */
  get engine(): MulticastEngineName | undefined {
    return this.chosen;
  }

  async unavailable(): Promise<string | undefined> {
    const s = await this.select();
    return s.engine ? undefined : s.why;
  }

  async apply(desired: MulticastDesired): Promise<MulticastApplyResult> {
    return (await this.active()).apply(desired);
  }

  async drift(desired: MulticastDesired): Promise<string[]> {
    return (await this.active()).drift(desired);
  }

  async counters(desired: MulticastDesired): Promise<MulticastRouteCounters[]> {
    return (await this.active()).counters(desired);
  }

  async stop(): Promise<void> {
    if (this.chosen) await this.engines[this.chosen].stop();
  }

  /** Both: whatever either left in the kernel (`weft cleanup` does not know which one ran). */
  async cleanup(): Promise<void> {
    const results = await Promise.allSettled([
      this.engines.mroute.cleanup(),
      this.engines.nftables.cleanup(),
    ]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async active(): Promise<MulticastEngine> {
    const s = await this.select();
    if (!this.chosen) throw new Error(`multicast forwarding unavailable: ${s.why}`);
    return this.engines[this.chosen];
  }

  private async decide(): Promise<MulticastSelection> {
    const take = async (name: MulticastEngineName, why: string): Promise<MulticastSelection> => {
      this.chosen = name;
      // The other one may hold routes from an earlier run under another choice: never both at once.
      await this.engines[name === 'mroute' ? 'nftables' : 'mroute'].cleanup();
      return { engine: name, why };
    };
    if (this.choice === 'mroute') {
      const no = await this.engines.mroute.unavailable();
      if (no) return { engine: undefined, why: `${no} (multicast is set to mroute; set auto or nftables)` };
      return take('mroute', 'multicast is set to mroute');
    }
    if (this.choice === 'nftables') {
      const no = await this.engines.nftables.unavailable();
      if (no) return { engine: undefined, why: `${no} (multicast is set to nftables; set auto or mroute)` };
      return take('nftables', 'multicast is set to nftables');
    }
    const noMroute = await this.engines.mroute.unavailable();
    if (!noMroute) return take('mroute', 'the kernel has multicast routing and smcroute is installed');
    const noNft = await this.engines.nftables.unavailable();
    if (!noNft) return take('nftables', `${noMroute}; nftables dup forwards instead`);
    return { engine: undefined, why: `${noMroute}; and ${noNft}` };
  }
}
