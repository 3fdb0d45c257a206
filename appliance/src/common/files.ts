// Files as an injectable adapter: the only place the appliance touches node:fs for its own data.
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Injectable } from '@nestjs/common';

@Injectable()
export class Files {
  exists(path: string): boolean {
    return existsSync(path);
  }

  read(path: string): string {
    return readFileSync(path, 'utf8');
  }

  ensureDir(path: string, mode = 0o700): void {
    mkdirSync(path, { recursive: true, mode });
    chmodSync(path, mode);
  }

  /** Writes atomically (temp file + rename) with `mode` set before any byte is written. */
  writeSecret(path: string, content: string, mode = 0o600): void {
    this.ensureDir(dirname(path));
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, content, { mode, flag: 'w' });
    chmodSync(tmp, mode);
    renameSync(tmp, path);
  }
}
