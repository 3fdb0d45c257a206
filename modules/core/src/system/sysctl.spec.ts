import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProcSysctl } from './sysctl.js';
import type { FileAdapter } from './file.adapter.js';
import { InvalidArgumentError } from '../errors.js';

class MemoryFiles implements FileAdapter {
  readonly files = new Map<string, string>();
  readText(path: string): Promise<string> {
    const v = this.files.get(path);
    return v === undefined ? Promise.reject(new Error(`ENOENT: ${path}`)) : Promise.resolve(v);
  }
  writeText(path: string, data: string): Promise<void> {
    this.files.set(path, data);
    return Promise.resolve();
  }
}

void describe('ProcSysctl', () => {
  void it('maps dotted and slashed names to /proc/sys paths', () => {
    const s = new ProcSysctl(new MemoryFiles());
    assert.equal(s.path('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
    assert.equal(s.path('net/ipv6/conf/eth0.100/forwarding'), '/proc/sys/net/ipv6/conf/eth0.100/forwarding');
  });

  void it('refuses names that would leave /proc/sys', () => {
    const s = new ProcSysctl(new MemoryFiles());
    assert.throws(() => s.path('net/../../etc/passwd'), InvalidArgumentError);
    assert.throws(() => s.path('forwarding'), InvalidArgumentError);
  });

  void it('reads without the newline and writes with one', async () => {
    const files = new MemoryFiles();
    files.files.set('/proc/sys/net/ipv4/ip_forward', '0\n');
    const s = new ProcSysctl(files);
    assert.equal(await s.get('net.ipv4.ip_forward'), '0');
    await s.set('net.ipv4.ip_forward', '1');
    assert.equal(files.files.get('/proc/sys/net/ipv4/ip_forward'), '1\n');
  });

  void it('names the sysctl when the file cannot be read', async () => {
    const s = new ProcSysctl(new MemoryFiles());
    await assert.rejects(s.get('net.ipv6.conf.all.forwarding'), (err: Error) => {
      assert.equal(err.message, 'read sysctl net.ipv6.conf.all.forwarding');
      assert.match(String((err.cause as Error).message), /ENOENT/);
      return true;
    });
  });
});
