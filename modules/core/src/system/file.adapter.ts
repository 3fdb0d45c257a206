// The only file in @weft/core that touches node:fs; services get a FileAdapter injected instead.
import { readFile, writeFile } from 'node:fs/promises';

export interface FileAdapter {
  readText(path: string): Promise<string>;
  writeText(path: string, data: string): Promise<void>;
}

export class NodeFileAdapter implements FileAdapter {
  readText(path: string): Promise<string> {
    return readFile(path, 'utf8');
  }

  writeText(path: string, data: string): Promise<void> {
    return writeFile(path, data, 'utf8');
  }
}
