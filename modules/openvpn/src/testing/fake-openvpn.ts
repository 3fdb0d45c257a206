// Strict doubles for openvpn supervision: a ProcessRunner whose `openvpn` is a scripted fake process, an
// OpenvpnHost with in-memory files and PIDs, and a management connector that hands out in-memory
// sessions answering like openvpn 2.6.14 (P2P_DEFAULT_REPLIES) while a ready fake runs. Anything not
// scripted fails loudly.
import type { ProcessExit, ProcessHandle, ProcessRunner, SpawnOptions } from '@weft/core';
import { ManagementTransportError } from '../management/management.errors.js';
import { ManagementSession } from '../management/management.session.js';
import type { ManagementTransport, ManagementTransportHandlers } from '../management/management.transport.js';
import type { OpenvpnHost } from '../process/openvpn.host.js';
import { OPENVPN_GREETING, P2P_DEFAULT_REPLIES } from './fake-management-server.js';

export type FakeOpenvpnBehaviour =
  /** Its management socket answers at once; exits on SIGTERM (code 0) or SIGKILL. */
  | 'ready'
  /** Logs an options error and exits with code 1 before the socket exists. */
  | 'options-error'
  /** Runs but its socket never answers. */
  | 'never-ready'
  /** Answers, but ignores SIGTERM (only SIGKILL ends it). */
  | 'ignore-sigterm';

export interface FakeOpenvpnProcess {
  readonly pid: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly outputPath: string | undefined;
  readonly behaviour: FakeOpenvpnBehaviour;
  readonly external: boolean;
  readonly signals: NodeJS.Signals[];
  alive: boolean;
  answers: boolean;
  readonly exited: Promise<ProcessExit>;
  /** Ends it as openvpn would end, logging `lines` first. */
  exit(exit: ProcessExit, ...lines: string[]): void;
}

interface FakeFile {
  text: string;
  mode: number;
}

export class FakeOpenvpnSystem {
  readonly files = new Map<string, FakeFile>();
  readonly dirs = new Map<string, number>();
  readonly processes: FakeOpenvpnProcess[] = [];
  readonly installed = new Set<string>(['/usr/sbin/openvpn', 'openssl', 'ip']);
  /** Commands run to completion (`openssl rehash`, `ip route`), argv as given; only those two succeed. */
  readonly ran: string[][] = [];
  /** Behaviours of the next spawns, in order; 'ready' once empty. */
  readonly next: FakeOpenvpnBehaviour[] = [];
  /** Replies to management commands beyond P2P_DEFAULT_REPLIES (e.g. a hub's `kill <cn>`). */
  readonly replies = new Map<string, string[]>();
  /** Every management command received, over all sessions. */
  readonly commands: string[] = [];
  /** Open in-memory management connections. */
  readonly connections: FakeManagementLink[] = [];
  connectAttempts = 0;
  private nextPid = 5100;

  get alive(): FakeOpenvpnProcess[] {
    return this.processes.filter((p) => p.alive);
  }

  /** An openvpn left by an earlier run. */
  addExternal(args: readonly string[]): FakeOpenvpnProcess {
    return this.create('/usr/sbin/openvpn', args, undefined, 'ready', true);
  }

  crash(p: FakeOpenvpnProcess, ...lines: string[]): void {
    p.exit({ code: null, signal: 'SIGKILL' }, ...lines);
  }

  readonly runner: ProcessRunner = {
    spawn: (file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ProcessHandle> => {
      const binary = args.includes('--config')
        ? [file, ...args][[file, ...args].indexOf('--config') - 1]
        : file;
      if (binary === undefined || !this.installed.has(binary)) {
        return Promise.reject(new Error(`spawn ${file} ENOENT`));
      }
      const outputPath = options.output?.kind === 'file' ? options.output.path : undefined;
      const p = this.create(file, args, outputPath, this.next.shift() ?? 'ready', false);
      return Promise.resolve({
        pid: p.pid,
        exited: p.exited,
        kill: (signal: NodeJS.Signals) => this.deliver(p, signal),
        detach: () => undefined,
      });
    },
    run: (file: string, args: readonly string[]) => {
      const argv = [file, ...args];
      const rehash = argv.includes('openssl') && argv.includes('rehash');
      const route = argv.includes('ip') && argv.includes('route');
      if (!rehash && !route) {
        return Promise.reject(
          new Error(`unexpected command in an openvpn supervision test: ${argv.join(' ')}`),
        );
      }
      this.ran.push(argv);
      return Promise.resolve({ stdout: '', stderr: '' });
    },
    findExecutable: (name: string) => Promise.resolve(this.installed.has(name) ? name : undefined),
  };

  readonly host: OpenvpnHost = {
    exists: (path) => Promise.resolve(this.files.has(path) || this.dirs.has(path)),
    ensurePrivateDir: (path) => {
      this.dirs.set(path, 0o700);
      return Promise.resolve();
    },
    writePrivate: (path, text, mode = 0o600) => {
      this.files.set(path, { text, mode });
      return Promise.resolve();
    },
    ensurePrivateFile: (path) => {
      this.files.set(path, { text: this.files.get(path)?.text ?? '', mode: 0o600 });
      return Promise.resolve();
    },
    list: (dir) =>
      Promise.resolve(
        [...this.files.keys()]
          .filter((p) => p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes('/'))
          .map((p) => p.slice(dir.length + 1)),
      ),
    readText: (path) => Promise.resolve(this.files.get(path)?.text),
    tail: (path, lines) =>
      Promise.resolve(
        (this.files.get(path)?.text ?? '')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .slice(-lines),
      ),
    rotateIfLarger: (path, maxBytes) => {
      const f = this.files.get(path);
      if (!f || Buffer.byteLength(f.text) <= maxBytes) return Promise.resolve(false);
      this.files.set(`${path}.1`, { text: f.text, mode: 0o600 });
      this.files.set(path, { text: '', mode: f.mode });
      return Promise.resolve(true);
    },
    remove: (path) => {
      this.files.delete(path);
      return Promise.resolve();
    },
    argvOf: (pid) => {
      const p = this.processes.find((x) => x.pid === pid && x.alive);
      return Promise.resolve(p ? [p.file, ...p.args] : undefined);
    },
    signal: (pid, signal) => {
      const p = this.processes.find((x) => x.pid === pid && x.alive);
      if (!p) return false;
      this.deliver(p, signal);
      return true;
    },
  };

  /** The supervisor's `connectManagement`: a session while a ready fake openvpn runs, else ECONNREFUSED. */
  readonly connect = (socketPath: string): Promise<ManagementSession> => {
    this.connectAttempts++;
    const p = this.processes.find((x) => x.alive && x.answers && !x.external);
    if (!p) return Promise.reject(new ManagementTransportError(`connect ${socketPath}: ECONNREFUSED`));
    const link = new FakeManagementLink(p, this);
    this.connections.push(link);
    return Promise.resolve(new ManagementSession(link));
  };

  private create(
    file: string,
    args: readonly string[],
    outputPath: string | undefined,
    behaviour: FakeOpenvpnBehaviour,
    external: boolean,
  ): FakeOpenvpnProcess {
    let resolveExit: (e: ProcessExit) => void = () => undefined;
    const exited = new Promise<ProcessExit>((resolve) => (resolveExit = resolve));
    const p: FakeOpenvpnProcess = {
      pid: this.nextPid++,
      file,
      args,
      outputPath,
      behaviour,
      external,
      signals: [],
      alive: true,
      answers: behaviour === 'ready' || behaviour === 'ignore-sigterm',
      exited,
      exit: (e, ...lines) => {
        if (!p.alive) return;
        for (const l of lines) this.log(p, l);
        p.alive = false;
        p.answers = false;
        for (const c of this.connections.filter((x) => x.process === p)) c.drop();
        resolveExit(e);
      },
    };
    this.processes.push(p);
    this.log(p, '2026-12-03 14:43:30 OpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL]');
    if (behaviour === 'options-error') {
      this.log(
        p,
        'Options error: Unrecognized option or missing or extra parameter(s) in openvpn.conf:7: tun-mtuu (2.6.14)',
      );
      this.log(p, 'Use --help for more information.');
      queueMicrotask(() => p.exit({ code: 1, signal: null }));
    }
    return p;
  }

  private deliver(p: FakeOpenvpnProcess, signal: NodeJS.Signals): void {
    p.signals.push(signal);
    if (!p.alive) return;
    if (signal === 'SIGTERM' && p.behaviour === 'ignore-sigterm') return;
    if (signal === 'SIGTERM') p.exit({ code: 0, signal: null }, 'SIGTERM[hard,] received, process exiting');
    else p.exit({ code: null, signal });
  }

  /** @internal */
  log(p: FakeOpenvpnProcess, line: string): void {
    if (p.outputPath === undefined) return;
    const f = this.files.get(p.outputPath) ?? { text: '', mode: 0o644 };
    f.text += `${line}\n`;
    this.files.set(p.outputPath, f);
  }
}

/** One in-memory management connection to a fake openvpn. */
export class FakeManagementLink implements ManagementTransport {
  private handlers: ManagementTransportHandlers | undefined;
  private open = true;

  constructor(
    readonly process: FakeOpenvpnProcess,
    private readonly system: FakeOpenvpnSystem,
  ) {}

  start(handlers: ManagementTransportHandlers): void {
    this.handlers = handlers;
    this.deliver([OPENVPN_GREETING]);
  }

  send(line: string): void {
    if (!this.open) return;
    this.system.commands.push(line);
    const reply = this.system.replies.get(line) ??
      P2P_DEFAULT_REPLIES[line] ?? [`ERROR: unknown command [${line.split(' ')[0] ?? ''}]`];
    this.deliver(reply);
  }

  /** Sends a notification (`>STATE:…`) as openvpn would. */
  notify(...lines: string[]): void {
    this.deliver(lines);
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.handlers?.closed(undefined);
  }

  /** openvpn went away. */
  drop(): void {
    if (!this.open) return;
    this.open = false;
    this.handlers?.closed(new ManagementTransportError('openvpn closed the connection'));
  }

  private deliver(lines: readonly string[]): void {
    queueMicrotask(() => {
      for (const l of lines) if (this.open) this.handlers?.line(l);
    });
  }
}
