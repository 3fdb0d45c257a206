// One supervised openvpn: its files written (0600) into the instance's private dir, `openvpn --config
// <file>` started in the foreground (never `--daemon`: we hold its PID and see it exit), ready once its
// management socket answers, restarted with backoff whenever it exits without being asked to — a crash,
// a kill -9, or a client that got AUTH_FAILED from its hub and exits by itself (LAB-NOTES) — and ended
// by PID. While it runs, the supervisor holds its one management connection and fans `>STATE:` and
// `>BYTECOUNT:` out as events.
import type { ProcessExit, ProcessHandle, ProcessRunner } from '@weft/core';
import { InvalidArgumentError } from '@weft/core';
import {
  caDirFiles,
  hubSpokesChange,
  openvpnFiles,
  hubBindsSpokes,
  renderCcdEntry,
  renderOpenvpnConfig,
  renderSpokeCaBindings,
} from '../config/openvpn.config.js';
import type {
  OpenvpnHubServerSpec,
  OpenvpnHubSpokesChange,
  OpenvpnLayout,
  OpenvpnSpec,
} from '../config/openvpn.config.types.js';
import { ipv4Prefix } from '../config/openvpn.validate.js';
import { ManagementCommandFailedError } from '../management/management.errors.js';
import { ManagementClient, type OpenvpnByteCount } from '../management/management.commands.js';
import { ManagementSession } from '../management/management.session.js';
import type { OpenvpnState, OpenvpnStatus } from '../management/management.types.js';
import { systemClock, waitFor, type Clock } from './openvpn.clock.js';
import { OpenvpnUnavailableError } from './openvpn.errors.js';
import { NodeOpenvpnHost, type OpenvpnHost } from './openvpn.host.js';

/** Where Debian (and most distributions) install openvpn, when PATH does not find it. */
export const OPENVPN_PATHS: readonly string[] = ['/usr/sbin/openvpn', '/usr/bin/openvpn'];

/** Why openvpn exited, read from its last log lines. */
export type OpenvpnExitReason =
  /** The hub refused this client (`AUTH_FAILED`, e.g. no common cipher): openvpn exits by itself. */
  | 'auth-failed'
  /** `Options error` / `Exiting due to fatal error`: the same config will fail again. */
  | 'fatal-error'
  /** Killed by a signal we did not send (kill -9, OOM). */
  | 'signal'
  | 'exit';

export type OpenvpnEvent =
  /** openvpn runs and its management interface answers (the tunnel may not be up yet: see `state`). */
  | { type: 'started'; pid: number }
  /** openvpn exited without being asked to; a restart follows after `restartInMs`. */
  | {
      type: 'exited';
      pid: number;
      code: number | null;
      signal: NodeJS.Signals | null;
      reason: OpenvpnExitReason;
      /** The last lines of its log. */
      lastLines: string[];
      restartInMs: number;
    }
  /** A new openvpn runs and answers. */
  | { type: 'restarted'; pid: number; attempt: number }
  /** A restart attempt failed; the next follows after `restartInMs`. */
  | { type: 'restart-failed'; attempt: number; error: Error; restartInMs: number }
  /** An openvpn of ours from an earlier run (same config file) was still running and was ended by PID. */
  | { type: 'stale-ended'; pid: number }
  /** A `>STATE:` notification (CONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP, CONNECTED, RECONNECTING…). */
  | { type: 'state'; pid: number; state: OpenvpnState }
  /** A `>BYTECOUNT:` (p2p, client) or `>BYTECOUNT_CLI:` (hub) notification, with byteCountIntervalSeconds. */
  | { type: 'bytecount'; pid: number; count: OpenvpnByteCount }
  /** openvpn's output file was over logMaxBytes: its content is now in `<path>.1`. */
  | { type: 'log-rotated'; path: string }
  /** stop() ended openvpn. */
  | { type: 'stopped'; pid: number | undefined };

export type OpenvpnSupervisorState = 'stopped' | 'starting' | 'running' | 'restarting';

export interface OpenvpnSupervisorOptions {
  processes: ProcessRunner;
  spec: OpenvpnSpec;
  layout: OpenvpnLayout;
  /** Files and PIDs; default NodeOpenvpnHost. */
  host?: OpenvpnHost;
  clock?: Clock;
  /** Default: `openvpn` in PATH, else the first of OPENVPN_PATHS. */
  openvpnPath?: string;
  /**
   * An argv prefix openvpn runs under, e.g. `nsenter -t <pid> -n --` for another network namespace. It
   * must exec openvpn, so the PID we hold stays openvpn's. argv only, never a shell string.
   */
  launcher?: readonly string[];
  /** Opens the management connection; default ManagementSession.connect (a UNIX socket). */
  connectManagement?: (socketPath: string) => Promise<ManagementSession>;
  onEvent?: (event: OpenvpnEvent) => void;
  /** Restart delays: initialMs, doubled per failure up to maxMs (default 1000 → 30000). */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** An openvpn that ran this long before exiting restarts after initialMs again (default 60000). */
  stableAfterMs?: number;
  /** How long a new openvpn may take until its management socket answers (default 10000 ms). */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL (default 5000 ms; exit-notify takes ≈ 1 s). */
  stopTimeoutMs?: number;
  /** `bytecount N` on the management connection (default 0: off). */
  byteCountIntervalSeconds?: number;
  /** Timeout of each management command the supervisor sends (default 5000 ms). */
  managementTimeoutMs?: number;
  /**
   * openvpn's output file is kept under this size (default 4 MiB): checked every logCheckMs (default
   * 10000; 0: only before each start), a larger one is moved to `<log>.1`. At verb 3 openvpn writes a line per
   * packet that fails tls-crypt, so a flood at the port would otherwise fill the disk (≈ 100 KB/s at
   * 1,000 packets/s); the doctor reads those lines from management, not from the file.
   */
  logMaxBytes?: number;
  logCheckMs?: number;
}

const LOG_LINES_KEPT = 12;

export class OpenvpnSupervisor {
  private readonly host: OpenvpnHost;
  private readonly clock: Clock;
  private spec: OpenvpnSpec;
  private readonly layout: OpenvpnLayout;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly stableAfterMs: number;
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private child: ProcessHandle | undefined;
  private childStartedAt = 0;
  private client: ManagementClient | undefined;
  private lastState: OpenvpnState | undefined;
  private wanted = false;
  private attempts = 0;
  private cancelRestart: (() => void) | undefined;
  private starting: Promise<OpenvpnEvent> | undefined;
  private restarting: Promise<void> | undefined;
  private cancelLogCheck: (() => void) | undefined;

  constructor(private readonly o: OpenvpnSupervisorOptions) {
    this.host = o.host ?? new NodeOpenvpnHost();
    this.clock = o.clock ?? systemClock;
    this.spec = o.spec;
    this.layout = o.layout;
    // Rendering validates: a bad spec fails here, at construction, not at the first restart.
    renderOpenvpnConfig(this.spec, this.layout);
    this.backoff = o.restartBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.stableAfterMs = o.stableAfterMs ?? 60_000;
    this.startTimeoutMs = o.startTimeoutMs ?? 10_000;
    this.stopTimeoutMs = o.stopTimeoutMs ?? 5000;
  }

  get name(): string {
    return this.spec.name;
  }

  /** The spec the running openvpn follows (the last one applySpokes() applied). */
  get currentSpec(): OpenvpnSpec {
    return this.spec;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get state(): OpenvpnSupervisorState {
    if (this.child) return 'running';
    if (this.starting) return 'starting';
    if (this.wanted) return 'restarting';
    return 'stopped';
  }

  /** The management client of the running openvpn (undefined between processes). */
  get management(): ManagementClient | undefined {
    return this.client;
  }

  /** The last `>STATE:` seen from the running openvpn (undefined right after a (re)start). */
  get tunnelState(): OpenvpnState | undefined {
    return this.lastState;
  }

  /** `state` over the management interface. */
  async currentState(): Promise<OpenvpnState> {
    return this.requireClient('state').state(this.callOptions());
  }

  /** `status 3`: counters (p2p, client) or the client list and routing table (hub). */
  async status(): Promise<OpenvpnStatus> {
    return this.requireClient('status').status(this.callOptions());
  }

  /**
   * Starts openvpn; resolves with `started` once its management socket answers. Rejects with
   * OpenvpnUnavailableError when openvpn is missing, exits at start (its last log lines in the message)
   * or does not answer in time; nothing is left running or scheduled then.
   */
  start(): Promise<OpenvpnEvent> {
    this.wanted = true;
    this.starting ??= this.startOnce()
      .catch((err: unknown) => {
        if (!this.child) this.wanted = false;
        throw err;
      })
      .finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** Ends openvpn by PID (SIGTERM, SIGKILL after stopTimeoutMs); a pending restart is cancelled. */
  async stop(): Promise<void> {
    this.wanted = false;
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    this.cancelLogCheck?.();
    this.cancelLogCheck = undefined;
    await this.starting?.catch(() => undefined);
    await this.restarting;
    const child = this.child;
    this.child = undefined;
    this.dropManagement();
    if (child) await this.terminate(child);
    await this.host.remove(this.layout.pidFile);
    await this.host.remove(this.layout.managementSocket);
    this.emit({ type: 'stopped', pid: child?.pid });
  }

  /**
   * Applies a hub spec that differs from the running one in its spokes only (hubSpokesChange), without
   * restarting openvpn, so no other spoke loses its session. openvpn reads a client's ccd entry when it
   * connects, looks its CA up in the capath directory and execs the tls-verify script (which reads the
   * spoke-CA allow-list) at its handshake, so: new and changed entries, the CA files and the allow-list
   * are written first (0600) and rehashed; removed entries are deleted (ccd-exclusive then refuses those
   * spokes); the spokes' routes are added/removed in the hub's namespace; and the removed and changed
   * spokes (a new address, subnets or bound CA) are `kill`ed over management (a changed one reconnects
   * with its new entry and is checked against its new CA). A later restart renders the new spec. Throws InvalidArgumentError when a server-wide setting
   * differs (restart instead) and OpenvpnUnavailableError when openvpn is not running.
   */
  async applySpokes(next: OpenvpnHubServerSpec): Promise<OpenvpnHubSpokesChange> {
    if (this.spec.kind !== 'hub-server') {
      throw new InvalidArgumentError(`openvpn ${this.name} is a ${this.spec.kind}, not a hub server`);
    }
    renderOpenvpnConfig(next, this.layout);
    const change = hubSpokesChange(this.spec, next);
    if (!change) {
      throw new InvalidArgumentError(
        `openvpn ${this.name}: more than the spokes changed (or caPath is off): restart it instead`,
      );
    }
    const client = this.requireClient('management connection to apply spokes over');
    const previous = this.spec;
    try {
      await this.writeSpokes(next, change);
      for (const spoke of [...change.removed, ...change.changed]) {
        try {
          await client.kill(spoke.commonName, this.callOptions());
        } catch (err) {
          // `ERROR: common name '…' not found`: that spoke was not connected, nothing to end.
          if (!(err instanceof ManagementCommandFailedError)) throw err;
        }
      }
    } catch (cause) {
      // Undo, so what is on disk is what the running spec says (a removed spoke not killed is granted
      // again, and a retry applies the same change once more).
      await this.writeSpokes(previous, hubSpokesChange(next, previous) ?? change).catch(() => undefined);
      throw new OpenvpnUnavailableError(`openvpn ${this.name}: apply spokes`, { cause });
    }
    this.spec = next;
    return change;
  }

  /** The file and route side of a spokes change: entries and CAs granted first, then taken away. */
  private async writeSpokes(spec: OpenvpnHubServerSpec, change: OpenvpnHubSpokesChange): Promise<void> {
    for (const spoke of [...change.added, ...change.changed]) {
      await this.host.writePrivate(
        `${this.layout.ccdDir}/${spoke.commonName}`,
        renderCcdEntry(spoke, spec.tunnel.subnet),
      );
    }
    if (change.caChanged) await this.writeCaDir(spec);
    // One file, replaced whole (writePrivate renames): a handshake reads the old list or the new one.
    if (change.bindingsChanged && hubBindsSpokes(spec)) {
      await this.host.writePrivate(this.layout.spokeCaBindings, renderSpokeCaBindings(spec));
    }
    for (const spoke of change.removed) await this.host.remove(`${this.layout.ccdDir}/${spoke.commonName}`);
    // The config on disk matches what runs, for the next (re)start and for whoever reads it.
    await this.host.writePrivate(this.layout.config, renderOpenvpnConfig(spec, this.layout));
    const via = spec.tunnel.serverAddress;
    for (const r of change.routesAdded) await this.route('replace', r, via);
    for (const r of change.routesRemoved) await this.route('del', r, via).catch(() => undefined);
  }

  /** Writes the capath directory (one file per CA), removes CAs no longer named, makes the hash links. */
  private async writeCaDir(spec: OpenvpnHubServerSpec): Promise<void> {
    await this.host.ensurePrivateDir(this.layout.caDir);
    const files = caDirFiles(spec.credentials.caPem, this.layout);
    const keep = new Set(files.map((f) => f.path));
    for (const name of await this.host.list(this.layout.caDir)) {
      const path = `${this.layout.caDir}/${name}`;
      if (name.endsWith('.pem') && !keep.has(path)) await this.host.remove(path);
    }
    for (const f of files) await this.host.writePrivate(f.path, f.text);
    const openssl = await this.executable('openssl', 'openssl (for `openssl rehash` of the capath dir)');
    // `openssl rehash` replaces every hash link in the directory, so links to removed files go too.
    await this.o.processes.run(openssl, ['rehash', this.layout.caDir], { timeoutMs: 10_000 });
  }

  /** `ip route replace|del <subnet> via <hub address> dev <tun>`, as openvpn's own `route` lines do. */
  private async route(verb: 'replace' | 'del', subnet: string, via: string): Promise<void> {
    const p = ipv4Prefix(subnet, 'spokes.subnets');
    const ip = await this.executable('ip', 'ip (iproute2)');
    const argv = [...(this.o.launcher ?? []), ip, 'route', verb, `${p.network}/${p.length}`, 'via', via];
    const [file, ...args] = [...argv, 'dev', this.spec.device];
    await this.o.processes.run(file ?? ip, args, { timeoutMs: 10_000 });
  }

  private async executable(name: string, what: string): Promise<string> {
    const found = await this.o.processes.findExecutable(name);
    if (!found) throw new OpenvpnUnavailableError(`${what} is not installed`);
    return found;
  }

  // --- start ---------------------------------------------------------------------------------------------

  private async startOnce(): Promise<OpenvpnEvent> {
    if (this.child) return { type: 'started', pid: this.child.pid };
    this.cancelRestart?.();
    this.cancelRestart = undefined;
    await this.endStale();
    const handle = await this.launch();
    if (!this.wanted) {
      this.dropManagement();
      await this.terminate(handle);
      throw new OpenvpnUnavailableError(`openvpn ${this.name}: stopped while starting`);
    }
    this.attach(handle);
    this.attempts = 0;
    return this.emit({ type: 'started', pid: handle.pid });
  }

  /** Writes the files and starts one openvpn; resolves once management answers, else ends it. */
  private async launch(): Promise<ProcessHandle> {
    await this.writeFiles();
    const openvpn = await this.openvpnPath();
    const argv = [...(this.o.launcher ?? []), openvpn, '--config', this.layout.config];
    const [file, ...args] = argv;
    let handle: ProcessHandle;
    try {
      handle = await this.o.processes.spawn(file ?? openvpn, args, {
        // No `log` directive: openvpn's own log and what it prints before parsing the config land here.
        output: { kind: 'file', path: this.layout.log },
      });
    } catch (cause) {
      throw new OpenvpnUnavailableError(`openvpn ${this.name}: cannot start ${argv.join(' ')}`, { cause });
    }
    await this.host.writePrivate(this.layout.pidFile, `${handle.pid}\n`);
    let exit: ProcessExit | undefined;
    void handle.exited.then((e) => (exit = e));
    let session: ManagementSession | undefined;
    try {
      await waitFor(
        this.clock,
        async () => {
          if (exit !== undefined) return true;
          session = await this.connect().catch(() => undefined);
          return session !== undefined;
        },
        {
          timeoutMs: this.startTimeoutMs,
          intervalMs: 50,
          onTimeout: () =>
            new OpenvpnUnavailableError(
              `openvpn ${this.name} (pid ${handle.pid}) did not answer on ${this.layout.managementSocket} within ${this.startTimeoutMs} ms: see ${this.layout.log}`,
            ),
        },
      );
      if (exit !== undefined) {
        session?.close();
        throw await this.exitedAtStart(handle.pid, exit);
      }
      if (session) await this.useManagement(session, handle);
    } catch (err) {
      session?.close();
      if (exit === undefined) await this.terminate(handle, 0);
      await this.host.remove(this.layout.pidFile);
      throw err;
    }
    return handle;
  }

  private async writeFiles(): Promise<void> {
    await this.host.ensurePrivateDir(this.layout.dir);
    const files = openvpnFiles(this.spec, this.layout);
    if (this.spec.kind === 'hub-server') {
      await this.host.ensurePrivateDir(this.layout.ccdDir);
      // A spoke removed from the spec must not keep its entry: with ccd-exclusive, an entry is a grant.
      const keep = new Set(files.map((f) => f.path));
      // An unbound hub runs no tls-verify script: leave none of an earlier, bound spec behind.
      if (!hubBindsSpokes(this.spec)) {
        await this.host.remove(this.layout.tlsVerifyScript);
        await this.host.remove(this.layout.spokeCaBindings);
      }
      for (const name of await this.host.list(this.layout.ccdDir)) {
        const path = `${this.layout.ccdDir}/${name}`;
        if (!keep.has(path)) await this.host.remove(path);
      }
    }
    for (const f of files) {
      if (!f.path.startsWith(`${this.layout.caDir}/`)) await this.host.writePrivate(f.path, f.text, f.mode);
    }
    if (this.spec.kind === 'hub-server' && this.spec.caPath === true) await this.writeCaDir(this.spec);
    await this.host.rotateIfLarger(this.layout.log, this.logMaxBytes);
    await this.host.ensurePrivateFile(this.layout.log);
    // A socket left by a killed openvpn: openvpn unlinks and binds again, but our connect must not reach
    // a dead socket file and wait for nothing.
    await this.host.remove(this.layout.managementSocket);
  }

  private connect(): Promise<ManagementSession> {
    return this.o.connectManagement
      ? this.o.connectManagement(this.layout.managementSocket)
      : ManagementSession.connect(this.layout.managementSocket, {
          timeoutMs: this.o.managementTimeoutMs ?? 5000,
        });
  }

  /** Turns on the notifications we fan out and keeps the client while this openvpn lives. */
  private async useManagement(session: ManagementSession, handle: ProcessHandle): Promise<void> {
    const client = new ManagementClient(session);
    const pid = handle.pid;
    const states = client.states();
    const counts = client.byteCounts();
    void (async () => {
      for await (const state of states) {
        if (this.child === handle || this.client === client) {
          this.lastState = state;
          this.emit({ type: 'state', pid, state });
        }
      }
    })().catch(() => undefined);
    void (async () => {
      for await (const count of counts) {
        if (this.child === handle) this.emit({ type: 'bytecount', pid, count });
      }
    })().catch(() => undefined);
    this.client = client;
    this.lastState = undefined;
    const history = await client.stateOn({ history: true, ...this.callOptions() });
    const last = history.at(-1);
    if (last && !this.lastState) this.lastState = last;
    const interval = this.o.byteCountIntervalSeconds ?? 0;
    if (interval > 0) await client.bytecount(interval, this.callOptions());
  }

  private async exitedAtStart(pid: number, exit: ProcessExit): Promise<Error> {
    const lines = await this.host.tail(this.layout.log, LOG_LINES_KEPT);
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    const tail = lines.length > 0 ? `: ${lines.slice(-4).join(' | ')}` : '';
    return new OpenvpnUnavailableError(`openvpn ${this.name} (pid ${pid}) exited at start (${how})${tail}`);
  }

  private async openvpnPath(): Promise<string> {
    if (this.o.openvpnPath) return this.o.openvpnPath;
    for (const candidate of ['openvpn', ...OPENVPN_PATHS]) {
      const found = await this.o.processes.findExecutable(candidate);
      if (found) return found;
    }
    throw new OpenvpnUnavailableError(
      `openvpn is not installed (looked in PATH and at ${OPENVPN_PATHS.join(', ')}): install the openvpn package`,
    );
  }

  // --- supervise -----------------------------------------------------------------------------------------

  private attach(handle: ProcessHandle): void {
    this.child = handle;
    this.childStartedAt = this.clock.now();
    void handle.exited.then((exit) => this.onChildExit(handle, exit));
    this.scheduleLogCheck();
  }

  private get logMaxBytes(): number {
    return this.o.logMaxBytes ?? 4 * 1024 * 1024;
  }

  /** While openvpn runs: its output file rotated when over logMaxBytes (one check at a time). */
  private scheduleLogCheck(): void {
    const every = this.o.logCheckMs ?? 10_000;
    if (this.cancelLogCheck || every <= 0) return;
    this.cancelLogCheck = this.clock.schedule(() => {
      this.cancelLogCheck = undefined;
      if (!this.wanted) return;
      void this.host
        .rotateIfLarger(this.layout.log, this.logMaxBytes)
        .catch(() => false)
        .then((rotated) => {
          if (rotated) this.emit({ type: 'log-rotated', path: this.layout.log });
          if (this.wanted) this.scheduleLogCheck();
        });
    }, every);
  }

  private async onChildExit(handle: ProcessHandle, exit: ProcessExit): Promise<void> {
    if (this.child !== handle) return; // stop() or a failed start: not a crash
    this.child = undefined;
    this.dropManagement();
    if (!this.wanted) return;
    if (this.clock.now() - this.childStartedAt >= this.stableAfterMs) this.attempts = 0;
    const lastLines = await this.host.tail(this.layout.log, LOG_LINES_KEPT).catch(() => []);
    if (!this.wanted || this.child) return;
    const restartInMs = this.scheduleRestart();
    this.emit({
      type: 'exited',
      pid: handle.pid,
      code: exit.code,
      signal: exit.signal,
      reason: exitReason(exit, lastLines),
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
    if (!this.wanted || this.child) return;
    const attempt = this.attempts;
    try {
      const handle = await this.launch();
      if (!this.wanted) {
        this.dropManagement();
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

  // --- end -----------------------------------------------------------------------------------------------

  private dropManagement(): void {
    this.client?.session.close();
    this.client = undefined;
    this.lastState = undefined;
  }

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

  /**
   * An openvpn started with our config file by an earlier appliance run still holds the port, the tun
   * and the management socket: end it by PID (its argv must name our config, so a reused PID is safe).
   */
  private async endStale(): Promise<void> {
    const text = await this.host.readText(this.layout.pidFile).catch(() => undefined);
    const pid = Number(text?.trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    const argv = await this.host.argvOf(pid);
    const i = argv?.indexOf('--config') ?? -1;
    if (!argv || i < 0 || argv[i + 1] !== this.layout.config || !argv.some((a) => a.endsWith('openvpn'))) {
      return;
    }
    this.emit({ type: 'stale-ended', pid });
    const gone = async (): Promise<boolean> => (await this.host.argvOf(pid)) === undefined;
    if (!this.host.signal(pid, 'SIGTERM')) return;
    try {
      await waitFor(this.clock, gone, { timeoutMs: this.stopTimeoutMs, onTimeout: () => new Error('') });
    } catch {
      this.host.signal(pid, 'SIGKILL');
      await waitFor(this.clock, gone, {
        timeoutMs: this.stopTimeoutMs,
        onTimeout: () => new OpenvpnUnavailableError(`openvpn (pid ${pid}) is still there after SIGKILL`),
      });
    }
  }

  // --- helpers -------------------------------------------------------------------------------------------

  private requireClient(what: string): ManagementClient {
    if (!this.client) {
      throw new OpenvpnUnavailableError(`openvpn ${this.name} is not running: no ${what} to read`);
    }
    return this.client;
  }

  private callOptions(): { timeoutMs: number } {
    return { timeoutMs: this.o.managementTimeoutMs ?? 5000 };
  }

  private emit<E extends OpenvpnEvent>(event: E): E {
    try {
      this.o.onEvent?.(event);
    } catch {
      // a failing listener must not break supervision
    }
    return event;
  }
}

/** Why openvpn exited, from how it ended and what it logged last. */
export function exitReason(exit: ProcessExit, lastLines: readonly string[]): OpenvpnExitReason {
  if (lastLines.some((l) => /AUTH_FAILED|SIGTERM\[soft,auth-failure\]/.test(l))) return 'auth-failed';
  if (lastLines.some((l) => /Options error|Exiting due to fatal error/.test(l))) return 'fatal-error';
  if (exit.signal) return 'signal';
  return 'exit';
}
