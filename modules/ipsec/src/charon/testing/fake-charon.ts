// Strict doubles for charon supervision: a ProcessRunner whose `charon` is a scripted fake process and a
// CharonHost with in-memory files, PIDs and a VICI probe that answers while a ready fake charon runs.
// Anything not scripted fails loudly.
import type { ProcessExit, ProcessHandle, ProcessRunner, SpawnOptions } from '@weft/core';
import type { CharonHost } from '../charon.host.js';

/** What the next spawned charon does. */
export type FakeCharonBehaviour =
  /** Answers on VICI at once; exits on SIGTERM (code 0) or SIGKILL. */
  | 'ready'
  /** Logs charon's abort line and exits with code 66 before answering. */
  | 'exit-at-start'
  /** Logs that /var/run/charon.pid is taken and exits with code 66. */
  | 'conflict'
  /** Runs but never answers. */
  | 'never-ready'
  /** Answers, but ignores SIGTERM (only SIGKILL ends it). */
  | 'ignore-sigterm';

export interface FakeCharonProcess {
  readonly pid: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Record<string, string> | undefined;
  readonly outputPath: string | undefined;
  readonly behaviour: FakeCharonBehaviour;
  /** Not our child: a charon from an "earlier appliance run". */
  readonly external: boolean;
  readonly signals: NodeJS.Signals[];
  alive: boolean;
  answers: boolean;
  detached: boolean;
  readonly exited: Promise<ProcessExit>;
  exit(exit: ProcessExit): void;
}

interface FakeFile {
  text: string;
  mode: number;
}

export class FakeCharonSystem {
  readonly files = new Map<string, FakeFile>();
  readonly dirs = new Set<string>();
  readonly processes: FakeCharonProcess[] = [];
  /** Executables findExecutable() knows. */
  readonly installed = new Set<string>(['/usr/lib/ipsec/charon']);
  /** Behaviours of the next spawns, in order; 'ready' once empty. */
  readonly next: FakeCharonBehaviour[] = [];
  /** Paths exists() reports besides the files and dirs. */
  readonly present = new Set<string>();
  /** Every probe of the VICI socket, answered or not. */
  probes = 0;
  private nextPid = 4100;

  constructor(readonly viciSocket: string) {}

  /** The fake charon that answers now, if any. */
  get answering(): FakeCharonProcess | undefined {
    return this.processes.find((p) => p.alive && p.answers);
  }

  get alive(): FakeCharonProcess[] {
    return this.processes.filter((p) => p.alive);
  }

  /** A charon left by an earlier run: alive, started with `conf`, answering or not. */
  addExternal(conf: string, options: { answers: boolean; ignoreSigterm?: boolean }): FakeCharonProcess {
    return this.create(
      '/usr/lib/ipsec/charon',
      [],
      { STRONGSWAN_CONF: conf },
      undefined,
      options.ignoreSigterm ? 'ignore-sigterm' : options.answers ? 'ready' : 'never-ready',
      true,
    );
  }

  /** Kills a process as `kill -9` would. */
  crash(p: FakeCharonProcess): void {
    p.exit({ code: null, signal: 'SIGKILL' });
  }

  readonly runner: ProcessRunner = {
    spawn: (file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ProcessHandle> => {
      const charon = args.length > 0 ? args[args.length - 1] : file;
      if (charon === undefined || !this.installed.has(charon)) {
        return Promise.reject(new Error(`spawn ${file} ENOENT`));
      }
      const outputPath = options.output?.kind === 'file' ? options.output.path : undefined;
      const p = this.create(file, args, options.env, outputPath, this.next.shift() ?? 'ready', false);
      return Promise.resolve({
        pid: p.pid,
        exited: p.exited,
        kill: (signal: NodeJS.Signals) => this.deliver(p, signal),
        detach: () => {
          p.detached = true;
        },
      });
    },
    run: (file: string, args: readonly string[]) =>
      Promise.reject(
        new Error(`unexpected command in a charon supervision test: ${[file, ...args].join(' ')}`),
      ),
    findExecutable: (name: string) => Promise.resolve(this.installed.has(name) ? name : undefined),
  };

  readonly host: CharonHost = {
    exists: (path) => Promise.resolve(this.files.has(path) || this.dirs.has(path) || this.present.has(path)),
    ensurePrivateDir: (path) => {
      this.dirs.add(path);
      return Promise.resolve();
    },
    writePrivate: (path, text) => {
      this.files.set(path, { text, mode: 0o600 });
      return Promise.resolve();
    },
    ensurePrivateFile: (path) => {
      const f = this.files.get(path);
      this.files.set(path, { text: f?.text ?? '', mode: 0o600 });
      return Promise.resolve();
    },
    readText: (path) => Promise.resolve(this.files.get(path)?.text),
    tail: (path, lines) =>
      Promise.resolve(
        (this.files.get(path)?.text ?? '')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .slice(-lines),
      ),
    remove: (path) => {
      this.files.delete(path);
      return Promise.resolve();
    },
    commandOf: (pid) => {
      const p = this.processes.find((x) => x.pid === pid && x.alive);
      return Promise.resolve(p ? (p.args.length > 0 ? p.args[p.args.length - 1] : p.file) : undefined);
    },
    confOf: (pid) =>
      Promise.resolve(this.processes.find((x) => x.pid === pid && x.alive)?.env?.STRONGSWAN_CONF),
    signal: (pid, signal) => {
      const p = this.processes.find((x) => x.pid === pid && x.alive);
      if (!p) return false;
      this.deliver(p, signal);
      return true;
    },
    viciAnswers: (socketPath) => {
      this.probes++;
      return Promise.resolve(socketPath === this.viciSocket && this.answering !== undefined);
    },
  };

  private create(
    file: string,
    args: readonly string[],
    env: Record<string, string> | undefined,
    outputPath: string | undefined,
    behaviour: FakeCharonBehaviour,
    external: boolean,
  ): FakeCharonProcess {
    let resolveExit: (e: ProcessExit) => void = () => undefined;
    const exited = new Promise<ProcessExit>((resolve) => (resolveExit = resolve));
    const p: FakeCharonProcess = {
      pid: this.nextPid++,
      file,
      args,
      env,
      outputPath,
      behaviour,
      external,
      signals: [],
      alive: true,
      answers: behaviour === 'ready' || behaviour === 'ignore-sigterm',
      detached: false,
      exited,
      exit: (e) => {
        if (!p.alive) return;
        p.alive = false;
        p.answers = false;
        this.log(p, e.signal ? `received ${e.signal}` : `00[DMN] exiting with code ${e.code}`);
        resolveExit(e);
      },
    };
    this.processes.push(p);
    this.log(p, '00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux, x86_64)');
    if (behaviour === 'exit-at-start' || behaviour === 'conflict') {
      this.log(
        p,
        behaviour === 'conflict'
          ? "00[DMN] charon already running ('/var/run/charon.pid' exists)"
          : '00[DMN] initialization failed - aborting charon',
      );
      queueMicrotask(() => p.exit({ code: 66, signal: null }));
    }
    return p;
  }

  private deliver(p: FakeCharonProcess, signal: NodeJS.Signals): void {
    p.signals.push(signal);
    if (!p.alive) return;
    if (signal === 'SIGTERM' && p.behaviour === 'ignore-sigterm') return;
    p.exit(signal === 'SIGTERM' ? { code: 0, signal: null } : { code: null, signal });
  }

  private log(p: FakeCharonProcess, line: string): void {
    if (p.outputPath === undefined) return;
    const f = this.files.get(p.outputPath) ?? { text: '', mode: 0o644 };
    f.text += `${line}\n`;
    this.files.set(p.outputPath, f);
  }
}
