// The side effects of openvpn supervision other than child processes and the management socket: files
// with modes in the instance's private dir and PIDs from an earlier appliance run. The only file in
// process/ that touches node:fs; everything else gets an OpenvpnHost injected. (core's FileAdapter has
// no modes, listing or removal.)
import {
  chmod,
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface OpenvpnHost {
  exists(path: string): Promise<boolean>;
  /** Creates the directory (and parents) if missing; either way its mode is 0700. */
  ensurePrivateDir(path: string): Promise<void>;
  /**
   * Writes `text` to `path` with `mode` (default 0600; 0700 for a script openvpn executes), replacing the
   * file whole: a reader (openvpn reading a ccd entry, the tls-verify script its allow-list) sees the old
   * text or the new, never a part.
   */
  writePrivate(path: string, text: string, mode?: 0o600 | 0o700): Promise<void>;
  /** Creates an empty `path` if missing; either way its mode is 0600 (openvpn's output is appended). */
  ensurePrivateFile(path: string): Promise<void>;
  /** The names in a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** The file's text, or undefined when it does not exist. */
  readText(path: string): Promise<string | undefined>;
  /** The last `lines` non-empty lines of a text file (reads at most its last 64 KiB); [] when missing. */
  tail(path: string, lines: number): Promise<string[]>;
  /**
   * When `path` is larger than `maxBytes`: copies it to `<path>.1` (0600, replacing an older one) and
   * truncates it to 0, in place — a writer holding it open with O_APPEND goes on at the new end. Returns
   * whether it did; a missing file is not rotated.
   */
  rotateIfLarger(path: string, maxBytes: number): Promise<boolean>;
  /** Removes a file; a missing one is fine. */
  remove(path: string): Promise<void>;
  /** The argv of a live process (from /proc/<pid>/cmdline); undefined when there is none (or a zombie). */
  argvOf(pid: number): Promise<string[] | undefined>;
  /** Sends `signal` to `pid`; false when no such process exists. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
}

const TAIL_BYTES = 64 * 1024;

export class NodeOpenvpnHost implements OpenvpnHost {
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
    await chmod(path, 0o700);
  }

  async writePrivate(path: string, text: string, mode: 0o600 | 0o700 = 0o600): Promise<void> {
    // Beside the file (same filesystem, so rename is atomic), under a name no lookup resolves: a common
    // name (a ccd entry's name) never starts with '.'. A leftover of a crash is overwritten next time.
    const temporary = join(dirname(path), `.${basename(path)}.weft-new`);
    await writeFile(temporary, text, { encoding: 'utf8', mode });
    await chmod(temporary, mode);
    await rename(temporary, path);
  }

  async ensurePrivateFile(path: string): Promise<void> {
    const handle = await open(path, 'a', 0o600);
    try {
      await handle.chmod(0o600);
    } finally {
      await handle.close();
    }
  }

  async list(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
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

  async rotateIfLarger(path: string, maxBytes: number): Promise<boolean> {
    let size: number;
    try {
      ({ size } = await stat(path));
    } catch {
      return false;
    }
    if (size <= maxBytes) return false;
    const old = `${path}.1`;
    await copyFile(path, old);
    await chmod(old, 0o600);
    await truncate(path, 0);
    return true;
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }

  async argvOf(pid: number): Promise<string[] | undefined> {
    const cmdline = await this.readText(`/proc/${pid}/cmdline`).catch(() => undefined);
    if (cmdline === undefined || cmdline === '') return undefined;
    return cmdline.replace(/\0$/, '').split('\0');
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
}
