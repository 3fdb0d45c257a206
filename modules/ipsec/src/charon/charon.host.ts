// The side effects of charon supervision other than child processes: files in the runtime dir, PIDs of
// charons we did not spawn in this run, and the readiness probe on the VICI socket. The only file in
// charon/ that touches node:fs and node:net; everything else gets a CharonHost injected. (core's
// FileAdapter has no modes, removal or existence checks.)
import { chmod, mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';

export interface CharonHost {
  exists(path: string): Promise<boolean>;
  /** Creates the directory (and parents) if missing, mode 0700. */
  ensurePrivateDir(path: string): Promise<void>;
  /** Writes `text` to `path`, mode 0600 (enforced on an existing file too). */
  writePrivate(path: string, text: string): Promise<void>;
  /** Creates an empty `path` if missing; either way its mode is 0600 (charon appends to it). */
  ensurePrivateFile(path: string): Promise<void>;
  /** The file's text, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** The last `lines` non-empty lines of a text file (reads at most its last 64 KiB); [] when missing. */
  tail(path: string, lines: number): Promise<string[]>;
  /** Removes a file; a missing one is fine. */
  remove(path: string): Promise<void>;
  /** argv[0] of a live process (from /proc/<pid>/cmdline); undefined when there is none (or a zombie). */
  commandOf(pid: number): Promise<string | undefined>;
  /** STRONGSWAN_CONF in the environment of `pid` (from /proc/<pid>/environ); undefined when unreadable. */
  confOf(pid: number): Promise<string | undefined>;
  /** Sends `signal` to `pid`; false when no such process exists. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
  /** Whether a daemon answers a VICI `version` request on `socketPath` within `timeoutMs`. */
  viciAnswers(socketPath: string, timeoutMs: number): Promise<boolean>;
}

const TAIL_BYTES = 64 * 1024;

/** `version` as a VICI CMD_REQUEST (type 0), framed with its 32-bit big-endian length. */
const VICI_VERSION_REQUEST = Buffer.concat([
  Buffer.from([0, 0, 0, 9, 0, 7]),
  Buffer.from('version', 'ascii'),
]);
const VICI_CMD_RESPONSE = 1;

export class NodeCharonHost implements CharonHost {
  async exists(path: string): Promise<boolean> {
    try {
      await stat(path);
      return true;
    } catch {
      return false;
    }
  }

  async ensurePrivateDir(path: string): Promise<void> {
    await mkdir(path, { recursive: true, mode: 0o700 });
  }

  async writePrivate(path: string, text: string): Promise<void> {
    await writeFile(path, text, { encoding: 'utf8', mode: 0o600 });
    await chmod(path, 0o600);
  }

  async ensurePrivateFile(path: string): Promise<void> {
    const handle = await open(path, 'a', 0o600);
    try {
      await handle.chmod(0o600);
    } finally {
      await handle.close();
    }
  }

  async readText(path: string): Promise<string | undefined> {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async tail(path: string, lines: number): Promise<string[]> {
    let handle;
    try {
      handle = await open(path, 'r');
    } catch {
      return [];
    }
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, TAIL_BYTES);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      const all = buffer.toString('utf8').split('\n');
      if (length < size) all.shift(); // a partial first line
      return all.filter((l) => l.trim() !== '').slice(-lines);
    } finally {
      await handle.close();
    }
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async commandOf(pid: number): Promise<string | undefined> {
    const cmdline = await this.readText(`/proc/${pid}/cmdline`).catch(() => undefined);
    const argv0 = cmdline?.split('\0')[0];
    return argv0 === undefined || argv0 === '' ? undefined : argv0;
  }

  async confOf(pid: number): Promise<string | undefined> {
    const environ = await this.readText(`/proc/${pid}/environ`).catch(() => undefined);
    const entry = environ?.split('\0').find((e) => e.startsWith('STRONGSWAN_CONF='));
    return entry?.slice('STRONGSWAN_CONF='.length);
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
      throw err;
    }
  }

  viciAnswers(socketPath: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = createConnection(socketPath);
      let received = Buffer.alloc(0);
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      socket.on('connect', () => socket.write(VICI_VERSION_REQUEST));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        // A reply's packet type follows its 4-byte length: any CMD_RESPONSE means charon's workers run.
        if (received.length >= 5) finish(received[4] === VICI_CMD_RESPONSE);
      });
      socket.on('error', () => finish(false));
      socket.on('close', () => finish(false));
    });
  }
}
