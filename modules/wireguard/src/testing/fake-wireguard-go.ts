// A ProcessRunner whose `wireguard-go -f <name>` is a FakeUapiServer plus a `tun` link in FakeLinks:
// lets the userspace configurer's start, supervision and stop logic run in unit tests.
import { join } from 'node:path';
import type { ProcessExit, ProcessHandle, ProcessRunner, SpawnOptions } from '@weft/core';
import { FakeUapiServer } from './fake-uapi-server.js';
import type { FakeLinks } from './fake-links.js';

export interface FakeProcess {
  pid: number;
  file: string;
  args: readonly string[];
  env: Record<string, string> | undefined;
  device: string;
  server: FakeUapiServer | undefined;
  signals: NodeJS.Signals[];
  exit: (exit: ProcessExit, options?: { leaveSocketFile?: boolean }) => Promise<void>;
  exited: Promise<ProcessExit>;
}

export class FakeWireGuardGoRunner implements ProcessRunner {
  readonly processes: FakeProcess[] = [];
  /** The next N starts exit at once with code 1 and an error line, before opening a socket. */
  failNextStarts = 0;
  /** When true, SIGTERM is ignored (only SIGKILL stops a process). */
  ignoreSigterm = false;
  /** Whether `wireguard-go` is "installed" for findExecutable. */
  installed = true;
  private nextPid = 4000;

  constructor(
    private readonly socketDir: string,
    private readonly links: FakeLinks,
  ) {}

  running(device: string): FakeProcess | undefined {
    return this.processes.find((p) => p.device === device && p.server !== undefined);
  }

  /** Kills the device's process as a crash would (SIGKILL: the socket file stays behind). */
  async crash(device: string): Promise<void> {
    const p = this.running(device);
    if (!p) throw new Error(`no fake wireguard-go runs for ${device}`);
    await p.exit({ code: null, signal: 'SIGKILL' }, { leaveSocketFile: true });
  }

  async spawn(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ProcessHandle> {
    const device = args[args.length - 1] ?? '';
    let resolveExit: (e: ProcessExit) => void = () => undefined;
    const exited = new Promise<ProcessExit>((resolve) => (resolveExit = resolve));
    const proc: FakeProcess = {
      pid: this.nextPid++,
      file,
      args,
      env: options.env,
      device,
      server: undefined,
      signals: [],
      exited,
      exit: async (exit, exitOptions = {}) => {
        const server = proc.server;
        proc.server = undefined;
        await server?.close(exitOptions);
        this.links.links.delete(device);
        resolveExit(exit);
      },
    };
    this.processes.push(proc);
    const output = options.output?.kind === 'pipe' ? options.output.onLine : undefined;
    if (this.failNextStarts > 0) {
      this.failNextStarts--;
      output?.('ERROR: Failed to create TUN device: fake failure', 'stderr');
      setImmediate(() => resolveExit({ code: 1, signal: null }));
    } else {
      this.links.add(device, 'tun', { mtu: 1420, up: false });
      proc.server = await FakeUapiServer.listen(join(this.socketDir, `${device}.sock`));
    }
    return {
      pid: proc.pid,
      exited,
      kill: (signal) => {
        proc.signals.push(signal);
        if (signal === 'SIGTERM' && this.ignoreSigterm) return;
        void proc.exit(
          { code: signal === 'SIGTERM' ? 0 : null, signal: signal === 'SIGTERM' ? null : signal },
          { leaveSocketFile: signal === 'SIGKILL' },
        );
      },
      detach: () => undefined,
    };
  }

  run(): Promise<{ stdout: string; stderr: string }> {
    return Promise.reject(new Error('FakeWireGuardGoRunner runs no commands'));
  }

  findExecutable(name: string): Promise<string | undefined> {
    return Promise.resolve(this.installed && name === 'wireguard-go' ? '/usr/bin/wireguard-go' : undefined);
  }
}
