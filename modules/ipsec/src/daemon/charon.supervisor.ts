// The appliance's own charon: written config, started in the foreground under supervision, ready when
// its VICI socket answers, restarted with backoff when it dies, ended by PID. A charon left running by
// an earlier appliance run (it answers on our socket) is adopted instead of started twice.
import type { FileAdapter, ProcessHandle, ProcessRunner } from '@weft/core';
import { ViciClient } from '../vici/vici.commands.js';
import { ViciSession } from '../vici/vici.session.js';

export type CharonEvent =
  | { type: 'started'; pid: number }
  | { type: 'adopted' }
  | { type: 'exited'; pid: number; code: number | null; signal: string | null; restartInMs: number }
  | { type: 'restarted'; pid: number }
  | { type: 'restart-failed'; error: string; restartInMs: number };

export interface CharonSupervisorOptions {
  processes: ProcessRunner;
  files: FileAdapter;
  /** The charon binary; default the first of CHARON_PATHS that exists. */
  charonPath?: string;
  /** An argv prefix charon runs under (tests: a private mount namespace). */
  launcher?: readonly string[];
  confFile: string;
  confText: string;
  viciSocket: string;
  logFile: string;
  onEvent?: (e: CharonEvent) => void;
  /** Answers true when charon is ready; default: `version` over the VICI socket. */
  probe?: () => Promise<boolean>;
  restartBackoff?: { initialMs: number; maxMs: number };
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  /** How often an adopted charon (not our child) is checked. */
  adoptedCheckMs?: number;
}

export const CHARON_PATHS = [
  '/usr/lib/ipsec/charon',
  '/usr/libexec/ipsec/charon',
  '/usr/libexec/strongswan/charon',
];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function viciAnswers(socket: string, timeoutMs = 1000): Promise<boolean> {
  let session: ViciSession | undefined;
  try {
    session = await ViciSession.connect(socket, { timeoutMs });
    await new ViciClient(session).version({ timeoutMs });
    return true;
  } catch {
    return false;
  } finally {
    session?.close();
  }
}

export class CharonSupervisor {
  private handle: ProcessHandle | undefined;
  private adopted = false;
  private wanted = false;
  private restartTimer: NodeJS.Timeout | undefined;
  private adoptedTimer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private startedAt = 0;
  private starting: Promise<void> | undefined;

  constructor(private readonly o: CharonSupervisorOptions) {
    this.backoffMs = o.restartBackoff?.initialMs ?? 1000;
  }

  get pid(): number | undefined {
    return this.handle?.pid;
  }

  isRunning(): boolean {
    return this.adopted || this.handle !== undefined;
  }

  /** Starts charon (or adopts one answering on our socket); resolves once VICI answers. */
  start(): Promise<void> {
    this.wanted = true;
    this.starting ??= this.startOnce().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private probe(): Promise<boolean> {
    return this.o.probe ? this.o.probe() : viciAnswers(this.o.viciSocket);
  }

  private async startOnce(): Promise<void> {
    if (this.isRunning()) return;
    if (await this.probe()) {
      this.adopted = true;
      this.o.onEvent?.({ type: 'adopted' });
      this.watchAdopted();
      return;
    }
    await this.spawn();
    this.o.onEvent?.({ type: 'started', pid: this.handle?.pid ?? 0 });
  }

  private async charonPath(): Promise<string> {
    if (this.o.charonPath) return this.o.charonPath;
    for (const p of CHARON_PATHS) if (await this.o.processes.findExecutable(p)) return p;
    throw new Error(
      `charon is not installed (looked for ${CHARON_PATHS.join(', ')}): install strongswan-charon`,
    );
  }

  private async spawn(): Promise<void> {
    await this.o.files.writeText(this.o.confFile, this.o.confText);
    const charon = await this.charonPath();
    const [file, ...args] = [...(this.o.launcher ?? []), charon];
    const handle = await this.o.processes.spawn(file ?? charon, args, {
      env: { STRONGSWAN_CONF: this.o.confFile },
      output: { kind: 'file', path: this.o.logFile.replace(/\.log$/, '') + '.out' },
    });
    let exited = false;
    void handle.exited.then((e) => {
      exited = true;
      this.onExit(handle, e.code, e.signal);
    });
    const deadline = Date.now() + (this.o.startTimeoutMs ?? 10_000);
    while (!exited && !(await this.probe())) {
      if (Date.now() > deadline) {
        handle.kill('SIGKILL');
        throw new Error(
          `charon (pid ${handle.pid}) did not answer on ${this.o.viciSocket} in time: see ${this.o.logFile}`,
        );
      }
      await sleep(50);
    }
    if (exited) {
      const tail = await this.o.files.readText(this.o.logFile).catch(() => '');
      const last = tail.trim().split('\n').slice(-3).join(' | ');
      throw new Error(
        `charon exited at start${/charon\.pid|already running/.test(last) ? ' (another charon holds /run/charon.pid)' : ''}: ${last || 'no log'}`,
      );
    }
    this.handle = handle;
    this.startedAt = Date.now();
  }

  private onExit(handle: ProcessHandle, code: number | null, signal: string | null): void {
    if (this.handle !== handle) return;
    this.handle = undefined;
    if (!this.wanted) return;
    const max = this.o.restartBackoff?.maxMs ?? 30_000;
    // A charon that stayed up a while starts again from the shortest delay.
    if (Date.now() - this.startedAt > 2 * max) this.backoffMs = this.o.restartBackoff?.initialMs ?? 1000;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, max);
    this.o.onEvent?.({ type: 'exited', pid: handle.pid, code, signal, restartInMs: delay });
    this.scheduleRestart(delay);
  }

  private scheduleRestart(delay: number): void {
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.wanted || this.isRunning()) return;
      this.spawn().then(
        () => this.o.onEvent?.({ type: 'restarted', pid: this.handle?.pid ?? 0 }),
        (err: unknown) => {
          const next = this.backoffMs;
          this.backoffMs = Math.min(this.backoffMs * 2, this.o.restartBackoff?.maxMs ?? 30_000);
          this.o.onEvent?.({
            type: 'restart-failed',
            error: err instanceof Error ? err.message : String(err),
            restartInMs: next,
          });
          this.scheduleRestart(next);
        },
      );
    }, delay);
    this.restartTimer.unref();
  }

  private watchAdopted(): void {
    this.adoptedTimer = setInterval(() => {
      void this.probe().then((ok) => {
        if (ok || !this.adopted) return;
        // The adopted charon is gone: run our own in its place.
        this.adopted = false;
        if (this.adoptedTimer) clearInterval(this.adoptedTimer);
        this.o.onEvent?.({ type: 'exited', pid: 0, code: null, signal: null, restartInMs: 0 });
        this.scheduleRestart(0);
      });
    }, this.o.adoptedCheckMs ?? 2000);
    this.adoptedTimer.unref();
  }

  /** Ends charon by PID (SIGTERM, SIGKILL after a timeout); an adopted one is asked over its pid file. */
  async stop(): Promise<void> {
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.adoptedTimer) clearInterval(this.adoptedTimer);
    this.restartTimer = undefined;
    this.adoptedTimer = undefined;
    if (this.adopted) {
      this.adopted = false;
      const pid = Number((await this.o.files.readText('/run/charon.pid').catch(() => '')).trim());
      if (pid > 1) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // already gone
        }
      }
      return;
    }
    const handle = this.handle;
    if (!handle) return;
    this.handle = undefined;
    handle.kill('SIGTERM');
    const done = await Promise.race([
      handle.exited.then(() => true),
      sleep(this.o.stopTimeoutMs ?? 5000).then(() => false),
    ]);
    if (!done) {
      handle.kill('SIGKILL');
      await handle.exited;
    }
  }

  /** Forgets the process without stopping it (the appliance exits; charon keeps the tunnels up). */
  detach(): void {
    this.wanted = false;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.adoptedTimer) clearInterval(this.adoptedTimer);
    this.handle?.detach();
  }
}
