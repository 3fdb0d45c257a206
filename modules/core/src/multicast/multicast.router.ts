// The appliance's multicast router: one smcrouted of its own (own conf, control socket and pid file in
// the runtime dir, so several appliances share a machine in the lab), fed static routes computed from
// the desired state. Interfaces that are not there yet (a tunnel still coming up) are left out and the
// route waits for them; a route keeps forwarding to the outbound interfaces that are there.
//
// How a change is applied without disturbing other groups (measured with smcroute 2.5.6 on this kernel:
// 1500 of 1500 datagrams of one group forwarded across five reloads that added and removed others):
// the conf is rewritten and `smcroutectl reload` adds VIFs for new interfaces (and re-resolves an
// interface that was deleted and created again, as a restarted openvpn or wireguard-go does), adds the
// conf's new routes and drops those no longer in it; a reload does not change the outbound list of a
// route it already holds, so what `show routes` then reports is compared with the desired routes and
// fixed with remove+add in one `smcroutectl -b` batch.
//
// smcrouted is supervised: restarted with backoff when it dies, ended by PID only. One left by an
// earlier run of the appliance (kill -9 of the appliance leaves it running, its routes in the kernel)
// is adopted when it answers on our socket, so forwarding does not stop across an appliance restart.
import { CoreError, CommandError } from '../errors.js';
import { systemClock, waitFor, type Clock } from '../common/clock.js';
import type { ProcessExit, ProcessHandle, ProcessRunner } from '../system/process.adapter.js';
import { mapMulticastCounters, parseIpMrCache, parseIpMrVif } from './multicast.counters.js';
import { NodeMulticastHost, type MulticastHost } from './multicast.host.js';
import type {
  MulticastDesired,
  MulticastFlowCounters,
  MulticastRoute,
  MulticastRouteCounters,
} from './multicast.types.js';
import { parseProcNetDev, parseSmcrouteRoutes } from './smcroute.observe.js';
import {
  assertValidMulticastDesired,
  multicastInterfaces,
  renderSmcrouteConf,
  routeKey,
} from './smcroute.render.js';
import { endianness } from 'node:os';
import { join } from 'node:path';

/** smcrouted or the kernel's multicast routing is missing, or another multicast router holds it. */
export class MulticastUnavailableError extends CoreError {
  readonly kind = 'unavailable';
}

export type MulticastRouterEvent =
  | { type: 'started'; pid: number }
  /** An smcrouted of ours from an earlier run answered on our socket: it is used as it is. */
  | { type: 'adopted'; pid: number }
  /** It died without being asked to; a restart follows. */
  | {
      type: 'exited';
      pid: number;
      code: number | null;
      signal: NodeJS.Signals | null;
      lastLines: string[];
      restartInMs: number;
    }
  | { type: 'restarted'; pid: number; attempt: number }
  | { type: 'restart-failed'; attempt: number; error: Error; restartInMs: number }
  /** One of ours from an earlier run no longer answered and was ended by its PID. */
  | { type: 'stale-ended'; pid: number }
  /** The conf was rewritten and reloaded (the interface set or the routes changed). */
  | { type: 'reloaded'; interfaces: string[] }
  | { type: 'stopped'; pid: number };

export interface MulticastRouterOptions {
  processes: ProcessRunner;
  /** Created 0700: smcroute.conf, smcroute.sock, smcroute.pid, smcroute.log. */
  runtimeDir: string;
  host?: MulticastHost;
  clock?: Clock;
  /**
   * An argv prefix smcrouted, smcroutectl and the reads of /proc/net run behind (e.g. `nsenter -t
   * <pid> -n --` for a namespace of a test); it must exec the command, so the PID stays smcrouted's.
   */
  launcher?: readonly string[];
  onEvent?: (event: MulticastRouterEvent) => void;
  /** Restart delays, doubled per failure (default 500 → 30000 ms). */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** How long a new smcrouted may take to answer (default 10000 ms). */
  startTimeoutMs?: number;
  /** How often an adopted smcrouted is checked for being alive (default 2000 ms). */
  adoptedCheckMs?: number;
  timeoutMs?: number;
}

/** A desired route that cannot be installed whole: the interfaces it names that are not there. */
export interface MulticastWaiting {
  route: MulticastRoute;
  missing: string[];
}

export interface MulticastApplyResult {
  /** What smcrouted holds now: the desired routes, outbound lists cut to the interfaces present. */
  installed: MulticastRoute[];
  waiting: MulticastWaiting[];
}

export interface MulticastObserved {
  /** The PID of the smcrouted we run or adopted; undefined when none runs. */
  pid: number | undefined;
  /** Every interface of the namespace. */
  interfaces: string[];
  /** The interfaces the kernel has a multicast VIF for. */
  vifs: string[];
  /** The routes smcrouted holds. */
  routes: MulticastRoute[];
  flows: MulticastFlowCounters[];
}

const byString = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The desired routes cut to the interfaces present, and what is missing for the rest. */
export function presentRoutes(
  desired: MulticastDesired,
  interfaces: readonly string[],
): MulticastApplyResult {
  const present = new Set(interfaces);
  const installed: MulticastRoute[] = [];
  const waiting: MulticastWaiting[] = [];
  for (const route of desired.routes) {
    const missing = [route.inbound, ...route.outbound].filter((i) => !present.has(i));
    if (missing.length > 0) waiting.push({ route, missing });
    const outbound = route.outbound.filter((o) => present.has(o));
    if (present.has(route.inbound) && outbound.length > 0) installed.push({ ...route, outbound });
  }
  return { installed, waiting };
}

const outboundOf = (r: MulticastRoute): string => [...r.outbound].sort(byString).join(' ');
const target = (r: MulticastRoute): string[] => [
  r.inbound,
  ...(r.source === undefined ? [] : [r.source]),
  r.group,
];

/** `smcroutectl -b` lines that turn `held` into `wanted`: remove extra and changed, add missing and changed. */
export function routeFixes(held: readonly MulticastRoute[], wanted: readonly MulticastRoute[]): string[] {
  const before = new Map(held.map((r) => [routeKey(r), r]));
  const after = new Map(wanted.map((r) => [routeKey(r), r]));
  const lines: string[] = [];
  for (const [key, r] of before) {
    const w = after.get(key);
    if (!w || outboundOf(w) !== outboundOf(r)) lines.push(['remove', ...target(r)].join(' '));
  }
  for (const [key, r] of after) {
    const h = before.get(key);
    if (!h || outboundOf(h) !== outboundOf(r)) {
      lines.push(['add', ...target(r), ...[...r.outbound].sort(byString)].join(' '));
    }
  }
  return lines;
}

export class MulticastRouter {
  private readonly processes: ProcessRunner;
  private readonly host: MulticastHost;
  private readonly clock: Clock;
  private readonly launcher: readonly string[];
  private readonly dir: string;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly timeoutMs: number;
  private child: ProcessHandle | undefined;
  private adoptedPid: number | undefined;
  private cancelAdoptedCheck: (() => void) | undefined;
  private cancelRestart: (() => void) | undefined;
  private stopping = false;
  private attempts = 0;
  private last: MulticastDesired | undefined;
  private paths: { smcrouted: string; smcroutectl: string } | undefined;
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: MulticastRouterOptions) {
    this.processes = o.processes;
    this.host = o.host ?? new NodeMulticastHost();
    this.clock = o.clock ?? systemClock;
    this.launcher = o.launcher ?? [];
    this.dir = o.runtimeDir;
    this.backoff = o.restartBackoff ?? { initialMs: 500, maxMs: 30_000 };
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  get confPath(): string {
    return join(this.dir, 'smcroute.conf');
  }
  get socketPath(): string {
    return join(this.dir, 'smcroute.sock');
  }
  get pidPath(): string {
    return join(this.dir, 'smcroute.pid');
  }
  get logPath(): string {
    return join(this.dir, 'smcroute.log');
  }

  /** The PID of the smcrouted we run or adopted. */
  get pid(): number | undefined {
    return this.child?.pid ?? this.adoptedPid;
  }

  /** Why multicast routing cannot run here, or undefined. */
  async unavailable(): Promise<string | undefined> {
    try {
      await this.tools();
    } catch (err) {
      return (err as Error).message;
    }
    if ((await this.readProc('/proc/net/ip_mr_vif')) === undefined) {
      return 'the kernel has no IPv4 multicast routing (CONFIG_IP_MROUTE): /proc/net/ip_mr_vif is missing';
    }
    return undefined;
  }

  /**
   * Makes smcrouted hold `desired` (cut to the interfaces present), starting it if needed; no routes
   * at all stops it. Throws InvalidArgumentError for an invalid desired (nothing changed).
   */
  apply(desired: MulticastDesired): Promise<MulticastApplyResult> {
    assertValidMulticastDesired(desired);
    return this.serialized(() => this.applyNow(desired));
  }

  /** What differs between the kernel and `desired`, one line each; [] when nothing. */
  drift(desired: MulticastDesired): Promise<string[]> {
    return this.serialized(async () => {
      const seen = await this.read();
      const { installed } = presentRoutes(desired, seen.interfaces);
      if (installed.length === 0) {
        return seen.pid === undefined ? [] : [`smcrouted ${seen.pid} runs with no route to hold`];
      }
      if (seen.pid === undefined) return ['smcrouted is not running'];
      const out: string[] = [];
      const vifs = new Set(seen.vifs);
      for (const i of multicastInterfaces({ routes: installed })) {
        if (!vifs.has(i)) out.push(`interface ${i} has no multicast VIF`);
      }
      for (const line of routeFixes(seen.routes, installed)) out.push(`route needs: ${line}`);
      return out;
    });
  }

  /** Packets and bytes per desired route, from the kernel's cache. */
  async counters(desired: MulticastDesired): Promise<MulticastRouteCounters[]> {
    const flows = await this.flows();
    return mapMulticastCounters(desired, flows);
  }

  observe(): Promise<MulticastObserved> {
    return this.serialized(() => this.read());
  }

  /** Ends the smcrouted we run or adopted (its routes leave the kernel with it). */
  stop(): Promise<void> {
    return this.serialized(async () => {
      this.last = undefined;
      await this.halt();
    });
  }

  /** stop(), and one of ours left by an earlier run (found by its pid file) too; the files removed. */
  cleanup(): Promise<void> {
    return this.serialized(async () => {
      this.last = undefined;
      await this.halt();
      const leftover = await this.recordedPid();
      if (leftover !== undefined) await this.terminatePid(leftover);
      for (const p of [this.confPath, this.pidPath, this.socketPath]) await this.host.remove(p);
    });
  }

  private async applyNow(desired: MulticastDesired): Promise<MulticastApplyResult> {
    this.last = desired;
    const interfaces = await this.interfaces();
    const result = presentRoutes(desired, interfaces);
    if (result.installed.length === 0) {
      await this.halt();
      if (this.pid === undefined) {
        const leftover = await this.recordedPid();
        if (leftover !== undefined) await this.terminatePid(leftover);
      }
      return result;
    }
    const conf = renderSmcrouteConf({ routes: result.installed });
    await this.host.ensurePrivateDir(this.dir);
    const before = await this.host.readText(this.confPath);
    await this.host.writePrivate(this.confPath, conf);
    if (this.pid === undefined) await this.adoptOrStart();
    const vifs = parseIpMrVif((await this.readProc('/proc/net/ip_mr_vif')) ?? '');
    const have = new Set(vifs.values());
    const wanted = multicastInterfaces({ routes: result.installed });
    if (before !== conf || wanted.some((i) => !have.has(i)) || have.size !== wanted.length) {
      await this.ctl(['reload']);
      this.emit({ type: 'reloaded', interfaces: wanted });
    }
    const held = parseSmcrouteRoutes(await this.ctl(['-p', '-d', 'show', 'routes']));
    const fixes = routeFixes(held, result.installed);
    if (fixes.length > 0) await this.ctl(['-b'], `${fixes.join('\n')}\n`);
    return result;
  }

  private async read(): Promise<MulticastObserved> {
    const [interfaces, vifText] = await Promise.all([
      this.interfaces(),
      this.readProc('/proc/net/ip_mr_vif'),
    ]);
    const pid = this.pid;
    let routes: MulticastRoute[] = [];
    if (pid !== undefined) {
      routes = parseSmcrouteRoutes(await this.ctl(['-p', '-d', 'show', 'routes']).catch(() => ''));
    }
    return {
      pid,
      interfaces,
      vifs: [...parseIpMrVif(vifText ?? '').values()].sort(byString),
      routes,
      flows: await this.flows(),
    };
  }

  private async flows(): Promise<MulticastFlowCounters[]> {
    const [vif, cache] = await Promise.all([
      this.readProc('/proc/net/ip_mr_vif'),
      this.readProc('/proc/net/ip_mr_cache'),
    ]);
    return parseIpMrCache(cache ?? '', parseIpMrVif(vif ?? ''), endianness() === 'LE');
  }

  private async interfaces(): Promise<string[]> {
    return parseProcNetDev((await this.readProc('/proc/net/dev')) ?? '');
  }

  private async readProc(path: string): Promise<string | undefined> {
    if (this.launcher.length === 0) return this.host.readText(path);
    const [file = 'cat', ...rest] = [...this.launcher, 'cat', path];
    try {
      return (await this.processes.run(file, rest, { timeoutMs: this.timeoutMs })).stdout;
    } catch {
      return undefined;
    }
  }

  private async tools(): Promise<{ smcrouted: string; smcroutectl: string }> {
    if (this.paths) return this.paths;
    const [smcrouted, smcroutectl] = await Promise.all([
      this.processes.findExecutable('smcrouted'),
      this.processes.findExecutable('smcroutectl'),
    ]);
    if (!smcrouted || !smcroutectl) {
      throw new MulticastUnavailableError('smcroute is not installed: apt install smcroute');
    }
    this.paths = { smcrouted, smcroutectl };
    return this.paths;
  }

  private async ctl(args: string[], input?: string): Promise<string> {
    const { smcroutectl } = await this.tools();
    const [file = smcroutectl, ...rest] = [...this.launcher, smcroutectl, '-u', this.socketPath, ...args];
    try {
      const { stdout } = await this.processes.run(file, rest, {
        timeoutMs: this.timeoutMs,
        ...(input !== undefined ? { input } : {}),
      });
      return stdout;
    } catch (err) {
      const detail = err instanceof CommandError ? err.stderr.trim() : (err as Error).message;
      throw new MulticastUnavailableError(`smcroutectl ${args.join(' ')} failed: ${detail}`, {
        cause: err,
      });
    }
  }

  private answers(): Promise<boolean> {
    return this.ctl(['-p', 'show', 'interfaces']).then(
      () => true,
      () => false,
    );
  }

  /** Adopts one of ours from an earlier run that answers; ends one that does not; else starts ours. */
  private async adoptOrStart(): Promise<void> {
    const recorded = await this.recordedPid();
    if (recorded !== undefined) {
      if (await this.answers()) {
        this.adopt(recorded);
        this.emit({ type: 'adopted', pid: recorded });
        return;
      }
      await this.terminatePid(recorded);
      this.emit({ type: 'stale-ended', pid: recorded });
    }
    const handle = await this.launch();
    this.emit({ type: 'started', pid: handle.pid });
  }

  private adopt(pid: number): void {
    this.adoptedPid = pid;
    const check = (): void => {
      this.cancelAdoptedCheck = undefined;
      if (this.adoptedPid !== pid || this.stopping) return;
      void this.host.commandOf(pid).then((argv) => {
        if (this.adoptedPid !== pid) return;
        if (argv?.includes(this.socketPath)) {
          this.cancelAdoptedCheck = this.clock.schedule(check, this.o.adoptedCheckMs ?? 2000);
          return;
        }
        this.adoptedPid = undefined;
        void this.died(pid, { code: null, signal: null });
      });
    };
    this.cancelAdoptedCheck = this.clock.schedule(check, this.o.adoptedCheckMs ?? 2000);
  }

  private async launch(): Promise<ProcessHandle> {
    const { smcrouted } = await this.tools();
    await this.host.ensurePrivateDir(this.dir);
    await this.host.remove(this.socketPath);
    await this.host.remove(this.pidPath);
    const [file = smcrouted, ...rest] = [
      ...this.launcher,
      smcrouted,
      '-n',
      '-N',
      '-f',
      this.confPath,
      '-u',
      this.socketPath,
      '-P',
      this.pidPath,
    ];
    this.stopping = false;
    const handle = await this.processes.spawn(file, rest, { output: { kind: 'file', path: this.logPath } });
    let exit: ProcessExit | undefined;
    void handle.exited.then((e) => (exit = e));
    try {
      await waitFor(this.clock, async () => exit !== undefined || (await this.answers()), {
        timeoutMs: this.o.startTimeoutMs ?? 10_000,
        intervalMs: 50,
        onTimeout: () => new MulticastUnavailableError('smcrouted did not answer on its socket in time'),
      });
    } catch (err) {
      handle.kill('SIGKILL');
      throw err;
    }
    if (exit !== undefined) {
      const lines = await this.host.tail(this.logPath, 5);
      throw new MulticastUnavailableError(
        `smcrouted exited at start (${exit.signal ?? `code ${exit.code}`}): ${lines.join(' | ')}${
          lines.some((l) => /in use|EADDRINUSE/i.test(l))
            ? ' (another multicast router, e.g. pimd or a second smcrouted, holds this namespace)'
            : ''
        }`,
      );
    }
    handle.detach();
    this.child = handle;
    void handle.exited.then((e) => {
      if (this.child !== handle) return;
      this.child = undefined;
      void this.died(handle.pid, e);
    });
    return handle;
  }

  private async died(pid: number, exit: ProcessExit): Promise<void> {
    if (this.stopping) return;
    const lastLines = await this.host.tail(this.logPath, 5);
    const restartInMs = this.scheduleRestart();
    this.emit({ type: 'exited', pid, code: exit.code, signal: exit.signal, lastLines, restartInMs });
  }

  private scheduleRestart(): number {
    const delay = Math.min(this.backoff.initialMs * 2 ** this.attempts, this.backoff.maxMs);
    this.attempts++;
    this.cancelRestart?.();
    this.cancelRestart = this.clock.schedule(() => {
      this.cancelRestart = undefined;
      void this.restart();
    }, delay);
    return delay;
  }

  private async restart(): Promise<void> {
    const attempt = this.attempts;
    try {
      await this.serialized(async () => {
        if (this.stopping || this.pid !== undefined || !this.last) return;
        await this.applyNow(this.last);
        const pid = this.pid;
        if (pid !== undefined) {
          this.attempts = 0;
          this.emit({ type: 'restarted', pid, attempt });
        }
      });
    } catch (err) {
      const restartInMs = this.scheduleRestart();
      this.emit({ type: 'restart-failed', attempt, error: err as Error, restartInMs });
    }
  }

  /** Ends the daemon we run or adopted, by PID, without a restart. */
  private async halt(): Promise<void> {
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    this.cancelAdoptedCheck?.();
    this.cancelAdoptedCheck = undefined;
    const pid = this.pid;
    if (pid === undefined) return;
    this.stopping = true;
    const child = this.child;
    this.child = undefined;
    this.adoptedPid = undefined;
    if (child) {
      child.kill('SIGTERM');
      const ended = await Promise.race([
        child.exited.then(() => true),
        this.clock.sleep(5000).then(() => false),
      ]);
      if (!ended) {
        child.kill('SIGKILL');
        await child.exited;
      }
    } else await this.terminatePid(pid);
    this.attempts = 0;
    this.emit({ type: 'stopped', pid });
  }

  /** SIGTERM, then SIGKILL after 5 s, to a PID that is one of ours (its argv names our socket). */
  private async terminatePid(pid: number): Promise<void> {
    const ours = async (): Promise<boolean> =>
      (await this.host.commandOf(pid))?.includes(this.socketPath) === true;
    if (!(await ours())) return;
    this.host.signal(pid, 'SIGTERM');
    try {
      await waitFor(this.clock, async () => !(await ours()), {
        timeoutMs: 5000,
        intervalMs: 50,
        onTimeout: () => new Error('still running'),
      });
    } catch {
      this.host.signal(pid, 'SIGKILL');
      await waitFor(this.clock, async () => !(await ours()), {
        timeoutMs: 5000,
        intervalMs: 50,
        onTimeout: () => new MulticastUnavailableError(`smcrouted ${pid} did not end on SIGKILL`),
      });
    }
  }

  /** The PID in our pid file when that process is one of ours (its argv names our socket). */
  private async recordedPid(): Promise<number | undefined> {
    const text = await this.host.readText(this.pidPath);
    const pid = Number(text?.trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    return (await this.host.commandOf(pid))?.includes(this.socketPath) ? pid : undefined;
  }

  private emit(event: MulticastRouterEvent): void {
    this.o.onEvent?.(event);
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => undefined);
    return run;
  }
}
