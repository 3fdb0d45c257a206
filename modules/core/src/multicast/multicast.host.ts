// The side effects of the multicast router other than child processes: files in its runtime dir, the
// argv of PIDs it did not spawn in this run, and signals to them. The only file of multicast/ that
// touches node:fs.
import { chmod, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';

export interface MulticastHost {
  /** Creates the directory (and parents) if missing, mode 0700. */
  ensurePrivateDir(path: string): Promise<void>;
  /** Writes `text` to `path`, mode 0600. */
  writePrivate(path: string, text: string): Promise<void>;
  /** The file's text, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** The last `lines` non-empty lines of a text file (at most its last 64 KiB); [] when missing. */
  tail(path: string, lines: number): Promise<string[]>;
  /** Removes a file; a missing one is fine. */
  remove(path: string): Promise<void>;
  /** The argv of a live process (/proc/<pid>/cmdline); undefined when there is none. */
  commandOf(pid: number): Promise<string[] | undefined>;
  /** Sends `signal` to `pid`; false when no such process exists. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
}

const TAIL_BYTES = 64 * 1024;

export class NodeMulticastHost implements MulticastHost {
  async ensurePrivateDir(path: string): Promise<void> {
    await mkdir(path, { recursive: true, mode: 0o700 });
  }

  async writePrivate(path: string, text: string): Promise<void> {
    await writeFile(path, text, { encoding: 'utf8', mode: 0o600 });
    await chmod(path, 0o600);
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
      return buffer
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(-lines);
    } finally {
      await handle.close();
    }
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async commandOf(pid: number): Promise<string[] | undefined> {
    const text = await this.readText(`/proc/${pid}/cmdline`).catch(() => undefined);
    if (text === undefined || text === '') return undefined; // gone, or a zombie
    return text.replace(/\0$/, '').split('\0');
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    try {
      process.kill(pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
