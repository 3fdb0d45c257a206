// Child processes behind an adapter: modules never import node:child_process themselves. Always argv
// arrays, never a shell; secrets go through `input` (stdin), never argv.
import { execFile, spawn, type StdioOptions } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, open } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { CommandError } from '../errors.js';

export interface ProcessExit {
  /** null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ProcessHandle {
  readonly pid: number;
  /** Settles once, when the process has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** Sends `signal` to this process (by PID, while it has not been reaped). */
  kill(signal: NodeJS.Signals): void;
  /** Stops keeping our event loop alive for this process and its pipes; it keeps running. */
  detach(): void;
}

export type ProcessOutput =
  /** Lines of stdout and stderr go to `onLine`. The child dies of SIGPIPE on its next log line once we exit. */
  | { kind: 'pipe'; onLine?: (line: string, stream: 'stdout' | 'stderr') => void }
  /** Appended to a file (mode 0600), so the child outlives us. */
  | { kind: 'file'; path: string }
  | { kind: 'ignore' };

export interface SpawnOptions {
  /** Added to our environment. */
  env?: Record<string, string>;
  output?: ProcessOutput;
}

export interface RunOptions {
  /** Written to stdin: the way to hand a command a secret. */
  input?: string;
  timeoutMs?: number;
}

export interface ProcessRunner {
  /** Starts a long-running process. Rejects when it cannot be started at all (ENOENT…). */
  spawn(file: string, args: readonly string[], options?: SpawnOptions): Promise<ProcessHandle>;
  /** Runs a command to completion; rejects with CommandError on a non-zero exit. */
  run(
    file: string,
    args: readonly string[],
    options?: RunOptions,
  ): Promise<{ stdout: string; stderr: string }>;
  /** The absolute path of an executable found in PATH, or undefined. */
  findExecutable(name: string): Promise<string | undefined>;
}

export class NodeProcessRunner implements ProcessRunner {
  constructor(private readonly path = process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin') {}

  async spawn(file: string, args: readonly string[], options: SpawnOptions = {}): Promise<ProcessHandle> {
    const output = options.output ?? { kind: 'pipe' };
    let stdio: StdioOptions = ['ignore', 'pipe', 'pipe'];
    let fileHandle: Awaited<ReturnType<typeof open>> | undefined;
    if (output.kind === 'file') {
      fileHandle = await open(output.path, 'a', 0o600);
      stdio = ['ignore', fileHandle.fd, fileHandle.fd];
    } else if (output.kind === 'ignore') stdio = 'ignore';
    try {
      // detached: its own process group, so a Ctrl-C or a signal to our group does not reach it.
      const child = spawn(file, [...args], {
        stdio,
        detached: true,
        env: { ...process.env, ...options.env },
      });
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      const pid = child.pid;
      if (pid === undefined) throw new Error(`${file}: spawned without a pid`);
      const exited = new Promise<ProcessExit>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      child.on('error', () => undefined); // a failed kill() of a reaped child is not fatal
      if (output.kind === 'pipe') {
        for (const stream of ['stdout', 'stderr'] as const) {
          let rest = '';
          child[stream]?.setEncoding('utf8');
          child[stream]?.on('data', (text: string) => {
            const lines = (rest + text).split('\n');
            rest = lines.pop() ?? '';
            for (const line of lines) output.onLine?.(line, stream);
          });
        }
      }
      return {
        pid,
        exited,
        kill: (signal) => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
        detach: () => {
          child.unref();
          for (const s of [child.stdout, child.stderr]) (s as { unref?: () => void } | null)?.unref?.();
        },
      };
    } finally {
      await fileHandle?.close(); // the child holds its own copy of the descriptor
    }
  }

  run(
    file: string,
    args: readonly string[],
    options: RunOptions = {},
  ): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        file,
        [...args],
        { timeout: options.timeoutMs ?? 10_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err) {
            const code = typeof err.code === 'number' ? err.code : null;
            // argv is safe to name (secrets never go there); stdin is not repeated.
            reject(new CommandError([file, ...args].join(' '), code, stderr || err.message, { cause: err }));
          } else resolve({ stdout, stderr });
        },
      );
      // A command that exits without reading its stdin makes the write fail with EPIPE: its exit code
      // tells what happened, the broken pipe must not become an uncaught error.
      child.stdin?.on('error', () => undefined);
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  }

  async findExecutable(name: string): Promise<string | undefined> {
    if (name.includes('/')) return (await isExecutable(name)) ? name : undefined;
    for (const dir of this.path.split(delimiter)) {
      if (dir === '') continue;
      const candidate = join(dir, name);
      if (await isExecutable(candidate)) return candidate;
    }
    return undefined;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
