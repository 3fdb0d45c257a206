// The files `pki --issue` needs, behind an adapter (the only node:fs user in pki/). `--cakey` takes a
// file and cannot read a socket (Node hands children a socketpair as stdin, which /dev/stdin cannot
// open), so the CA key is written for the one call: created exclusively with mode 0600 in a 0700
// directory, removed right after. core's FileAdapter has no modes or removal, hence this one.
import { open, rm, writeFile } from 'node:fs/promises';

export interface PkiFiles {
  /** Public data (a certificate, a public key). */
  writePublic(path: string, data: string): Promise<void>;
  /** A private key: created anew (an old file is removed first) with mode 0600. */
  writePrivate(path: string, data: string): Promise<void>;
  /** Gone afterwards, also when it was not there. */
  remove(path: string): Promise<void>;
}

export class NodePkiFiles implements PkiFiles {
  async writePublic(path: string, data: string): Promise<void> {
    await writeFile(path, data, { encoding: 'utf8', mode: 0o644 });
  }

  async writePrivate(path: string, data: string): Promise<void> {
    await rm(path, { force: true });
    // 'wx': never through a file (or link) someone else placed there; the mode applies at creation.
    const handle = await open(path, 'wx', 0o600);
    try {
      await handle.writeFile(data, 'utf8');
    } finally {
      await handle.close();
    }
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}
