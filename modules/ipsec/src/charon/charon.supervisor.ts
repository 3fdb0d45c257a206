// The appliance's own charon: its strongswan.conf written (0600) into the runtime dir, started in the
// foreground with STRONGSWAN_CONF pointing at it, ready once a VICI round trip answers (no fixed sleeps),
// restarted with backoff when it dies, ended by PID. A charon left by an earlier appliance run that still
// answers on our socket is adopted, not started twice: a second charon on the same socket path would
// unlink the first one's socket before finding /run/charon.pid taken and exiting, leaving the first
// charon running but unreachable (observed with 5.9.8).
import { basename, join } from 'node:path';
import type { ProcessExit, ProcessHandle, ProcessRunner } from '@weft/core';
import { systemClock, waitFor, type Clock } from './charon.clock.js';
import { CharonConflictError, CharonUnavailableError } from './charon.errors.js';
import { NodeCharonHost, type CharonHost } from './charon.host.js';
import { renderStrongswanConf, type StrongswanConfOptions } from './strongswan-conf.js';

/** Where distributions put charon, most likely first (Debian, Fedora/RHEL, openSUSE/Arch). */
export const CHARON_PATHS: readonly string[] = [
  '/usr/lib/ipsec/charon',
  '/usr/libexec/ipsec/charon',
  '/usr/libexec/strongswan/charon',
];

/** What the owner logs or reacts to. After `started`, `adopted` and `restarted`: (re)load every connection. */
export type CharonEvent =
  /** We started charon and it answers on VICI. */
  | { type: 'started'; pid: number }
  /** A charon already answered on our socket: it is used as it is (not our child; watched by probing). */
  | { type: 'adopted'; pid: number | undefined }
  /** charon died (or an adopted one stopped answering) without being asked to; a restart follows. */
  | {
      type: 'exited';
      pid: number | undefined;
      code: number | null;
      signal: NodeJS.Signals | null;
      adopted: boolean;
      /** The last lines of its log. */
      lastLines: string[];
      restartInMs: number;
    }
  /** A new charon runs and answers; it holds no connections, credentials or SAs. */
  | { type: 'restarted'; pid: number; attempt: number }
  /** A restart attempt failed; the next follows after `restartInMs`. */
  | { type: 'restart-failed'; attempt: number; error: Error; restartInMs: number }
  /** A charon we started in an earlier run no longer answered on our socket and was ended by its PID. */
  | { type: 'stale-ended'; pid: number }
  /** stop() ended charon. */
  | { type: 'stopped'; pid: number | undefined };

export type CharonState = 'stopped' | 'starting' | 'running' | 'adopted' | 'restarting';

export interface CharonSupervisorOptions {
  processes: ProcessRunner;
  /** Files, PIDs and the VICI probe; default NodeCharonHost. */
  host?: CharonHost;
  clock?: Clock;
  /** Rendered into `<runtimeDir>/strongswan.conf`; its VICI socket is probed, its log file read back. */
  config: StrongswanConfOptions;
  /** The appliance's runtime dir (created 0700): strongswan.conf and the PID of the charon we run. */
  runtimeDir: string;
  /** Default: the first of CHARON_PATHS that is executable. */
  charonPath?: string;
  /**
   * An argv prefix charon runs under, e.g. a private mount namespace. It must end by exec'ing charon, so
   * the PID we hold stays charon's. argv only, never a shell string.
   */
  launcher?: readonly string[];
  /** Whether charon is ready; default: a VICI `version` round trip on `config.viciSocket`. */
  probe?: () => Promise<boolean>;
  onEvent?: (event: CharonEvent) => void;
  /** Restart delays: initialMs, doubled per failure up to maxMs (default 1000 → 30000). */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** A charon that ran this long before dying restarts after initialMs again (default 60000). */
  stableAfterMs?: number;
  /** How long a new charon may take to answer (default 15000 ms). */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 5000 ms). */
  stopTimeoutMs?: number;
  /** How often an adopted charon is probed (default 2000 ms) … */
  adoptedCheckMs?: number;
  /** … and how many probes in a row must fail before we start our own (default 2). */
  adoptedMissesBeforeRestart?: number;
  /** Timeout of the default probe (default 1000 ms). */
  probeTimeoutMs?: number;
}

const LOG_LINES_KEPT = 12;

export class CharonSupervisor {
  readonly confFile: string;
  readonly pidFile: string;
  private readonly host: CharonHost;
  private readonly clock: Clock;
  private readonly confText: string;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly stableAfterMs: number;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  /** Our child, once it answered. */
  private child: ProcessHandle | undefined;
  private childStartedAt = 0;
  private adopted = false;
  private adoptedPid: number | undefined;
  /** start() was called and stop()/detach() not since. */
  private wanted = false;
  private attempts = 0;
  private cancelRestart: (() => void) | undefined;
  private cancelWatch: (() => void) | undefined;
  private starting: Promise<CharonEvent> | undefined;
  private restarting: Promise<void> | undefined;

  constructor(private readonly o: CharonSupervisorOptions) {
    this.host = o.host ?? new NodeCharonHost();
    this.clock = o.clock ?? systemClock;
    // Rendering validates: a bad option fails here, at construction, not at the first restart.
    this.confText = renderStrongswanConf(o.config);
    this.confFile = join(o.runtimeDir, 'strongswan.conf');
    this.pidFile = join(o.runtimeDir, 'charon.pid');
    this.backoff = o.restartBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.stableAfterMs = o.stableAfterMs ?? 60_000;
    this.startTimeoutMs = o.startTimeoutMs ?? 15_000;
    this.stopTimeoutMs = o.stopTimeoutMs ?? 5000;
  }

  get viciSocket(): string {
    return this.o.config.viciSocket;
  }

  /** charon's PID: our child's, or the adopted one's when known. */
  get pid(): number | undefined {
    return this.child?.pid ?? (this.adopted ? this.adoptedPid : undefined);
  }

  get state(): CharonState {
    if (this.child) return 'running';
    if (this.adopted) return 'adopted';
    if (this.starting) return 'starting';
    if (this.wanted) return 'restarting';
    return 'stopped';
  }

  /**
   * Starts charon, or adopts one that answers on our socket; resolves with the `started` or `adopted`
   * event once VICI answers. Rejects with CharonConflictError when another charon holds /run/charon.pid
   * and CharonUnavailableError when charon is missing, exits at start or does not answer in time.
   */
  start(): Promise<CharonEvent> {
    this.wanted = true;
    this.starting ??= this.startOnce()
      .catch((err: unknown) => {
        // Nothing runs and nothing is scheduled: the caller decides whether to try again.
        if (!this.child && !this.adopted) this.wanted = false;
        throw err;
      })
      .finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Ends charon by PID (SIGTERM, SIGKILL after stopTimeoutMs) and removes its socket and our pid file. */
  async stop(): Promise<void> {
    this.wanted = false;
    this.cancelTimers();
    await this.starting?.catch(() => undefined);
    await this.restarting;
    let pid: number | undefined;
    const child = this.child;
    if (child) {
      this.child = undefined;
      pid = child.pid;
      await this.terminate(child);
    } else if (this.adopted) {
      this.adopted = false;
      pid = this.adoptedPid ?? (await this.recordedCharonPid());
      this.adoptedPid = undefined;
      if (pid === undefined) {
        throw new CharonUnavailableError(
          `the adopted charon on ${this.viciSocket} has no PID we know of (${this.pidFile} is missing or stale): stop it by hand`,
        );
      }
      await this.terminatePid(pid);
    }
    // charon leaves its socket behind, even on SIGTERM.
    if (!(await this.probe())) await this.host.remove(this.viciSocket);
    await this.host.remove(this.pidFile);
    this.emit({ type: 'stopped', pid });
  }

  /**
   * Stops supervising and lets our event loop end; charon keeps running (and its tunnels up) for the next
   * appliance run to adopt. Our pid file stays, so that run knows its PID.
   */
  detach(): void {
    this.wanted = false;
    this.cancelTimers();
    this.child?.detach();
    this.child = undefined;
    this.adopted = false;
  }

  // --- start ---------------------------------------------------------------------------------------------

  private async startOnce(): Promise<CharonEvent> {
    // A restart in flight has a charon launching: a second one now would end it as stale (our pid file
    // names it, and it does not answer yet). Let it finish; if it failed, this start takes over.
    await this.restarting;
    if (this.child) return { type: 'started', pid: this.child.pid };
    if (this.adopted) return { type: 'adopted', pid: this.adoptedPid };
    this.cancelTimers();
    await this.host.ensurePrivateDir(this.o.runtimeDir);
    if (await this.probe()) {
      this.adopted = true;
      this.adoptedPid = await this.recordedCharonPid();
      this.watchAdopted();
      return this.emit({ type: 'adopted', pid: this.adoptedPid });
    }
    await this.endStale();
    const handle = await this.launch();
    if (!this.wanted) {
      await this.terminate(handle);
      throw new CharonUnavailableError('charon supervision was stopped while charon was starting');
    }
    this.attach(handle);
    this.attempts = 0;
    return this.emit({ type: 'started', pid: handle.pid });
  }

  /** Starts one charon and waits until it answers; on failure nothing of it is left running. */
  private async launch(): Promise<ProcessHandle> {
    await this.host.writePrivate(this.confFile, this.confText);
    await this.host.ensurePrivateFile(this.o.config.log.file);
    const charon = await this.charonPath();
    const [file, ...args] = [...(this.o.launcher ?? []), charon];
    let handle: ProcessHandle;
    try {
      handle = await this.o.processes.spawn(file ?? charon, args, {
        env: { STRONGSWAN_CONF: this.confFile },
        // charon's own file log goes there too; this catches what it prints before that logger exists.
        output: { kind: 'file', path: this.o.config.log.file },
      });
    } catch (cause) {
      throw new CharonUnavailableError(`cannot start ${[file, ...args].join(' ')}`, { cause });
    }
    await this.host.writePrivate(this.pidFile, `${handle.pid}\n`);
    let exit: ProcessExit | undefined;
    void handle.exited.then((e) => (exit = e));
    try {
      await waitFor(this.clock, async () => exit !== undefined || (await this.probe()), {
        timeoutMs: this.startTimeoutMs,
        onTimeout: () =>
          new CharonUnavailableError(
            `charon (pid ${handle.pid}) did not answer on ${this.viciSocket} within ${this.startTimeoutMs} ms: see ${this.o.config.log.file}`,
          ),
      });
    } catch (err) {
      await this.terminate(handle, 0);
      throw err;
    }
    if (exit !== undefined) throw await this.exitedAtStart(handle.pid, exit);
    return handle;
  }

  private async exitedAtStart(pid: number, exit: ProcessExit): Promise<Error> {
    await this.host.remove(this.pidFile);
    const lines = await this.host.tail(this.o.config.log.file, LOG_LINES_KEPT);
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    const pidFile = lines
      .map((l) => /charon already running \('([^']+)' exists\)/.exec(l)?.[1])
      .find(Boolean);
    if (pidFile) {
      return new CharonConflictError(
        `charon (pid ${pid}) refused to start: another charon holds ${pidFile}, a path compiled into charon. ` +
          'Run one charon per /run: stop the other one, or give each appliance its own /run (a private mount namespace)',
      );
    }
    const tail = lines.length > 0 ? `: ${lines.slice(-4).join(' | ')}` : '';
    return new CharonUnavailableError(`charon (pid ${pid}) exited at start (${how})${tail}`);
  }

  private async charonPath(): Promise<string> {
    if (this.o.charonPath) return this.o.charonPath;
    for (const p of CHARON_PATHS) if (await this.o.processes.findExecutable(p)) return p;
    throw new CharonUnavailableError(
      `charon is not installed (looked for ${CHARON_PATHS.join(', ')}): install strongswan-charon`,
    );
  }

  // --- supervise -----------------------------------------------------------------------------------------

  private attach(handle: ProcessHandle): void {
    this.child = handle;
    this.childStartedAt = this.clock.now();
    void handle.exited.then((exit) => this.onChildExit(handle, exit));
  }

  private async onChildExit(handle: ProcessHandle, exit: ProcessExit): Promise<void> {
    if (this.child !== handle) return; // stop(), detach() or a failed start: not a crash
    this.child = undefined;
    if (!this.wanted) return;
    // One that ran well beyond the stable period was healthy: the backoff starts over.
    if (this.clock.now() - this.childStartedAt >= this.stableAfterMs) this.attempts = 0;
    const lastLines = await this.host.tail(this.o.config.log.file, LOG_LINES_KEPT).catch(() => []);
    if (!this.wanted || this.child || this.adopted) return;
    const restartInMs = this.scheduleRestart();
    this.emit({
      type: 'exited',
      pid: handle.pid,
      code: exit.code,
      signal: exit.signal,
      adopted: false,
      lastLines,
      restartInMs,
    });
  }

  private scheduleRestart(): number {
    const delay = Math.min(this.backoff.initialMs * 2 ** this.attempts, this.backoff.maxMs);
    this.attempts++;
    this.cancelRestart?.();
    this.cancelRestart = this.clock.schedule(() => {
      this.cancelRestart = undefined;
      this.restarting = this.restart().finally(() => (this.restarting = undefined));
    }, delay);
    return delay;
  }

  private async restart(): Promise<void> {
    if (!this.wanted || this.child || this.adopted) return;
    const attempt = this.attempts;
    try {
      await this.endStale();
      const handle = await this.launch();
      if (!this.wanted) {
        await this.terminate(handle);
        return;
      }
      this.attach(handle);
      this.emit({ type: 'restarted', pid: handle.pid, attempt });
    } catch (err) {
      if (!this.wanted) return;
      const error = err instanceof Error ? err : new Error(String(err));
      const restartInMs = this.scheduleRestart();
      this.emit({ type: 'restart-failed', attempt, error, restartInMs });
    }
  }

  private watchAdopted(): void {
    const every = this.o.adoptedCheckMs ?? 2000;
    const misses = this.o.adoptedMissesBeforeRestart ?? 2;
    let missed = 0;
    const check = async (): Promise<void> => {
      this.cancelWatch = undefined;
      if (!this.adopted || !this.wanted) return;
      const ok = await this.probe();
      if (!this.adopted || !this.wanted) return;
      missed = ok ? 0 : missed + 1;
      if (missed < misses) {
        this.cancelWatch = this.clock.schedule(() => void check(), every);
        return;
      }
      // Gone (or hung: endStale ends it before ours starts). Not our child: no exit status to report.
      this.adopted = false;
      const pid = this.adoptedPid;
      this.adoptedPid = undefined;
      const lastLines = await this.host.tail(this.o.config.log.file, LOG_LINES_KEPT).catch(() => []);
      if (!this.wanted) return;
      const restartInMs = this.scheduleRestart();
      this.emit({ type: 'exited', pid, code: null, signal: null, adopted: true, lastLines, restartInMs });
    };
    this.cancelWatch = this.clock.schedule(() => void check(), every);
  }

  // --- end -----------------------------------------------------------------------------------------------

  /** SIGTERM, SIGKILL after `graceMs`; resolves once it has exited. */
  private async terminate(handle: ProcessHandle, graceMs = this.stopTimeoutMs): Promise<void> {
    handle.kill('SIGTERM');
    const inTime = await Promise.race([
      handle.exited.then(() => true),
      this.clock.sleep(graceMs).then(() => false),
    ]);
    if (!inTime) {
      handle.kill('SIGKILL');
      await handle.exited;
    }
  }

  /** The same for a charon that is not our child: we can only watch its PID disappear. */
  private async terminatePid(pid: number): Promise<void> {
    const gone = async (): Promise<boolean> => (await this.host.commandOf(pid)) === undefined;
    if (!this.host.signal(pid, 'SIGTERM')) return;
    try {
      await waitFor(this.clock, gone, { timeoutMs: this.stopTimeoutMs, onTimeout: () => new Error('') });
    } catch {
      this.host.signal(pid, 'SIGKILL');
      await waitFor(this.clock, gone, {
        timeoutMs: this.stopTimeoutMs,
        onTimeout: () => new CharonUnavailableError(`charon (pid ${pid}) is still there after SIGKILL`),
      });
    }
  }

  /**
   * A charon we started (in this or an earlier run) that is alive but does not answer would have its
   * socket unlinked by the next one, and hold /run/charon.pid: end it first.
   */
  private async endStale(): Promise<void> {
    const pid = await this.recordedCharonPid();
    if (pid === undefined || pid === this.child?.pid) return;
    this.emit({ type: 'stale-ended', pid });
    await this.terminatePid(pid);
  }

  /**
   * The PID in our pid file, if that process is still a charon started with our strongswan.conf
   * (checked in /proc/<pid>/environ, so a reused PID is never taken for ours).
   */
  private async recordedCharonPid(): Promise<number | undefined> {
    const text = await this.host.readText(this.pidFile).catch(() => undefined);
    const pid = Number(text?.trim());
    if (!Number.isInteger(pid) || pid <= 1) return undefined;
    const command = await this.host.commandOf(pid);
    if (command === undefined || basename(command) !== 'charon') return undefined;
    return (await this.host.confOf(pid)) === this.confFile ? pid : undefined;
  }

  // --- helpers -------------------------------------------------------------------------------------------

  private async probe(): Promise<boolean> {
    try {
      return this.o.probe
        ? await this.o.probe()
        : await this.host.viciAnswers(this.viciSocket, this.o.probeTimeoutMs ?? 1000);
    } catch {
      return false;
    }
  }

  private cancelTimers(): void {
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    this.cancelWatch?.();
    this.cancelWatch = undefined;
  }

  private emit<E extends CharonEvent>(event: E): E {
    try {
      this.o.onEvent?.(event);
    } catch {
      // a failing listener must not break supervision
    }
    return event;
  }
}
