// Runs commands as argv arrays (execFile, never a shell), with a timeout, returning what they printed.
import { execFile } from 'node:child_process';

export interface ExecOptions {
  /** Kill the command (SIGKILL) after this long. Default 30 s. */
  timeoutMs?: number;
  /** Written to the command's stdin, which is then closed. Use it for anything secret, never argv. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** When false, a non-zero exit is returned instead of thrown. Default true. */
  check?: boolean;
}

export interface ExecResult {
  argv: readonly string[];
  /** Exit status; null when the command was ended by a signal (see `signal`). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export class ExecError extends Error {
  constructor(
    readonly result: ExecResult,
    options?: ErrorOptions,
  ) {
    const how = result.timedOut
      ? 'timed out'
      : result.signal
        ? `was killed by ${result.signal}`
        : `exited ${String(result.code)}`;
    const stderr = result.stderr.trim();
    super(`${formatArgv(result.argv)} ${how}${stderr ? `: ${lastLines(stderr, 5)}` : ''}`, options);
    this.name = 'ExecError';
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_BUFFER = 64 * 1024 * 1024;

export function run(argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('run: empty argv'));
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {
        timeout: timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_BUFFER,
        encoding: 'utf8',
        env: options.env ?? process.env,
        cwd: options.cwd,
      },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean; signal?: string }) | null;
        if (failure && typeof failure.code === 'string') {
          // Not an exit status: the command could not be started (ENOENT, EACCES) or printed too much.
          reject(new Error(`${formatArgv(argv)} failed: ${failure.message}`, { cause: error }));
          return;
        }
        const signal = (failure?.signal ?? null) as NodeJS.Signals | null;
        const result: ExecResult = {
          argv,
          code: failure ? (typeof failure.code === 'number' ? failure.code : null) : 0,
          signal,
          stdout,
          stderr,
          timedOut: Boolean(failure?.killed) && signal === 'SIGKILL',
        };
        if (result.code !== 0 && options.check !== false) reject(new ExecError(result, { cause: error }));
        else resolve(result);
      },
    );
    // Always close stdin, so a command that reads it never waits for input that will not come.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(options.input ?? '');
  });
}

/** Runs `argv` inside network namespace `ns` (`ip netns exec`, which also gives it a fresh mount namespace). */
export function inNetns(ns: string, argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
  return run(['ip', 'netns', 'exec', ns, ...argv], options);
}

export function formatArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join(' | ');
}
