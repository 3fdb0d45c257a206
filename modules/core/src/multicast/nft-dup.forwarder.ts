// The multicast forwarder of kernels without multicast routing (no CONFIG_IP_MROUTE: no VIFs, no
// multicast cache, so neither smcrouted nor pimd can run): `table ip weft_mcast`, whose prerouting rules
// copy each group to its outbound interfaces with nft `dup` (see nft-dup.render.ts). The same routes as
// MulticastRouter, the same apply/drift/counters contract, no daemon: the table stays in the kernel when
// the appliance stops or is killed, so forwarding goes on and the next apply finds it as it was.
//
// An interface deleted and created again (a restarted openvpn or wireguard-go) has a new ifindex; the
// rules name the old one, which nft then lists as a number: drift sees it and the next apply re-resolves.
import { CommandError, CoreError } from '../errors.js';
import type { NftTableName } from '../nft/nft.types.js';
import { WEFT_MULTICAST_NFT_TABLE } from '../owned.js';
import type { ProcessRunner } from '../system/process.adapter.js';
import { mapMulticastCounters } from './multicast.counters.js';
import { NodeMulticastHost, type MulticastHost } from './multicast.host.js';
import { presentRoutes, routeFixes, type MulticastApplyResult } from './multicast.router.js';
import type {
  MulticastDesired,
  MulticastRoute,
  MulticastRouteCounters,
  MulticastSourceMap,
} from './multicast.types.js';
import {
  multicastCounterId,
  multicastRuleComments,
  parseMulticastNft,
  sourceMapComments,
  renderMulticastNft,
  renderMulticastNftCleanup,
  type MulticastNftObserved,
} from './nft-dup.render.js';
import { parseProcNetDev } from './smcroute.observe.js';
import { assertValidMulticastDesired } from './smcroute.render.js';

/** nft is missing or cannot load the forwarder's rules here. */
export class MulticastNftError extends CoreError {
  readonly kind = 'unavailable';
}

export interface NftMulticastForwarderOptions {
  processes: ProcessRunner;
  host?: MulticastHost;
  /** An argv prefix nft and the read of /proc/net/dev run behind (e.g. `nsenter -t <pid> -n --`). */
  launcher?: readonly string[];
  table?: NftTableName;
  timeoutMs?: number;
}

export class NftMulticastForwarder {
  private readonly launcher: readonly string[];
  private readonly table: NftTableName;
  private readonly host: MulticastHost;
  private readonly timeoutMs: number;
  private nftPath: string | undefined;
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: NftMulticastForwarderOptions) {
    this.launcher = o.launcher ?? [];
    this.table = o.table ?? WEFT_MULTICAST_NFT_TABLE;
    this.host = o.host ?? new NodeMulticastHost();
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  private get id(): string {
    return `${this.table.family} ${this.table.name}`;
  }

  /** Why this forwarder cannot run here (nft missing, or the kernel refuses a dup rule), or undefined. */
  async unavailable(): Promise<string | undefined> {
    const probe = [
      `table ${this.table.family} ${this.table.name}_probe {`,
      '  chain c {',
      '    type filter hook prerouting priority filter; policy accept;',
      '    iifname "lo" ip daddr 239.0.0.1 dup to ip daddr device "lo"',
      '  }',
      '}',
      '',
    ].join('\n');
    try {
      await this.nft(['-c', '-f', '-'], probe);
      return undefined;
    } catch (err) {
      if (err instanceof MulticastNftError && !(err.cause instanceof CommandError)) return err.message;
      const detail = err instanceof CommandError ? err.stderr.trim().split('\n')[0] : String(err);
      return `the kernel refuses an nft dup rule (CONFIG_NFT_DUP_IPV4): ${detail ?? ''}`;
    }
  }

  /** Makes the table hold `desired` (cut to the interfaces present); no routes at all deletes it. */
  apply(desired: MulticastDesired): Promise<MulticastApplyResult> {
    assertValidMulticastDesired(desired);
    return this.serialized(async () => {
      const result = presentRoutes(desired, await this.interfaces());
      const before = await this.read();
      // Nothing to do when the kernel holds it already (a restart, a re-apply): no transaction at all.
      const maps = result.installed.length > 0 ? (desired.sourceMaps ?? []) : [];
      if (this.differences(before, result.installed, maps).length === 0) return result;
      const script = renderMulticastNft(result.installed, [...(before?.counters.keys() ?? [])], {
        table: this.table,
        sourceMaps: maps,
      });
      try {
        await this.nft(['-f', '-'], script);
      } catch (err) {
        throw this.refused(
          `nft refused the multicast table ${this.id} (the kernel keeps the one it had)`,
          err,
        );
      }
      return result;
    });
  }

  /** What differs between the kernel and `desired`, one line each; [] when nothing. */
  drift(desired: MulticastDesired): Promise<string[]> {
    return this.serialized(async () => {
      const { installed } = presentRoutes(desired, await this.interfaces());
      return this.differences(await this.read(), installed, desired.sourceMaps ?? []);
    });
  }

  /** How `seen` differs from a table holding `installed`, one line each. */
  private differences(
    seen: MulticastNftObserved | undefined,
    installed: MulticastRoute[],
    maps: readonly MulticastSourceMap[],
  ): string[] {
    if (installed.length === 0) return seen ? [`table ${this.id} is there with no route to hold`] : [];
    if (!seen) return [`table ${this.id} is missing`];
    const out: string[] = [];
    if (!seen.hooked) out.push(`table ${this.id} has no prerouting chain`);
    for (const f of seen.foreign) out.push(`${f} in ${this.id} is not one Weft wrote`);
    const fixes = routeFixes(seen.routes, installed);
    for (const line of fixes) out.push(`route needs: ${line}`);
    if (fixes.length === 0 && seen.comments.join('\n') !== multicastRuleComments(installed).join('\n')) {
      out.push(`the rules of ${this.id} are not in the order Weft writes them`);
    }
    if ((seen.maps ?? []).join('\n') !== sourceMapComments(maps).join('\n') || seen.maps === undefined) {
      out.push(
        `the source maps of ${this.id} (NETMAP links) are not ${sourceMapComments(maps).join(', ') || 'none'}`,
      );
    }
    for (const r of installed) {
      const id = multicastCounterId(r);
      for (const c of [`f_${id}`, `w_${id}`]) if (!seen.counters.has(c)) out.push(`counter ${c} missing`);
    }
    return out;
  }

  /** Packets and bytes per desired route (named counters), with its senders (the flows set). */
  async counters(desired: MulticastDesired): Promise<MulticastRouteCounters[]> {
    const seen = await this.serialized(() => this.read());
    const mapped = mapMulticastCounters(desired, seen?.flows ?? []);
    return mapped.map((c) => {
      const id = multicastCounterId(c.route);
      const forwarded = seen?.counters.get(`f_${id}`);
      const wrong = seen?.counters.get(`w_${id}`);
      return {
        ...c,
        packets: forwarded?.packets ?? 0,
        bytes: forwarded?.bytes ?? 0,
        wrongInterface: wrong?.packets ?? 0,
        flows: c.flows.map((f) => ({ ...f, outbound: c.route.outbound })),
      };
    });
  }

  /** The table as the kernel has it; undefined when absent. */
  observe(): Promise<MulticastNftObserved | undefined> {
    return this.serialized(() => this.read());
  }

  /** The table stays (forwarding goes on while the appliance is down, like its routes and NAT). */
  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** Deletes the table; nothing else is touched. */
  cleanup(): Promise<void> {
    return this.serialized(async () => {
      try {
        await this.nft(['-f', '-'], renderMulticastNftCleanup(this.table));
      } catch (err) {
        throw this.refused(`nft could not delete table ${this.id}`, err);
      }
    });
  }

  /** The interfaces of the namespace (/proc/net/dev). */
  async interfaces(): Promise<string[]> {
    if (this.launcher.length === 0) return parseProcNetDev((await this.host.readText('/proc/net/dev')) ?? '');
    const [file = 'cat', ...rest] = [...this.launcher, 'cat', '/proc/net/dev'];
    const { stdout } = await this.o.processes.run(file, rest, { timeoutMs: this.timeoutMs });
    return parseProcNetDev(stdout);
  }

  private async read(): Promise<MulticastNftObserved | undefined> {
    let stdout: string;
    try {
      ({ stdout } = await this.nft(['-j', 'list', 'table', this.table.family, this.table.name]));
    } catch (err) {
      // nft 1.0.6: "Error: No such file or directory" for a table that is not there.
      if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
      throw this.refused(`nft could not list table ${this.id}`, err);
    }
    return parseMulticastNft(stdout, this.table);
  }

  private async nft(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
    this.nftPath ??= await this.o.processes.findExecutable('nft');
    if (this.nftPath === undefined) {
      throw new MulticastNftError('nftables is not installed: apt install nftables');
    }
    const [file = this.nftPath, ...rest] = [...this.launcher, this.nftPath, ...args];
    return this.o.processes.run(file, rest, {
      ...(input !== undefined ? { input } : {}),
      timeoutMs: this.timeoutMs,
    });
  }

  private refused(message: string, cause: unknown): Error {
    if (cause instanceof MulticastNftError) return cause;
    const detail = cause instanceof CommandError ? cause.stderr.trim() : String(cause);
    return new MulticastNftError(`${message}: ${detail}`, { cause });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => undefined);
    return run;
  }
}
