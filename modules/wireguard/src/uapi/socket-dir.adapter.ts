// The directory wireguard-go keeps its sockets in, as a file-system adapter: list them to adopt running
// devices, and remove the file a killed wireguard-go left behind.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface SocketDirectory {
  readonly path: string;
  /** Device names with a `<name>.sock` socket file, answering or not. */
  list(): Promise<string[]>;
  exists(device: string): Promise<boolean>;
  /** Removes `<name>.sock`; no error when it is gone. Call only when nobody answers on it. */
  remove(device: string): Promise<void>;
}

export class NodeSocketDirectory implements SocketDirectory {
  constructor(readonly path: string) {}

  async list(): Promise<string[]> {
    let entries;
    try {
      entries = await readdir(this.path, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return entries
      .filter((e) => e.isSocket() && e.name.endsWith('.sock'))
      .map((e) => e.name.slice(0, -'.sock'.length))
      .sort();
  }

  async exists(device: string): Promise<boolean> {
    try {
      return (await lstat(this.file(device))).isSocket();
    } catch {
      return false;
    }
  }

  async remove(device: string): Promise<void> {
    if (await this.exists(device)) await rm(this.file(device), { force: true });
  }

  private file(device: string): string {
    return join(this.path, `${device}.sock`);
  }
}
