import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandError, type ProcessRunner } from '@weft/core';
import { DataplaneUnavailableError } from './charon.errors.js';
import { detectDataplane, type DetectDataplaneOptions } from './dataplane.detect.js';

const LIBIPSEC_SO = '/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so';

/** A strict `ip` double: answers `ip xfrm state add|delete` as a kernel with the given ESP support would. */
class FakeIp implements ProcessRunner {
  readonly calls: string[] = [];
  constructor(private readonly kernel: 'esp-aead' | 'esp-only' | 'no-esp') {}

  run(file: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    const cmd = [file, ...args].join(' ');
    this.calls.push(cmd);
    if (file !== 'ip' || args[0] !== 'xfrm' || args[1] !== 'state') {
      return Promise.reject(new Error(`unexpected command: ${cmd}`));
    }
    const fail = (stderr: string): Promise<never> => Promise.reject(new CommandError(cmd, 2, `${stderr}\n`));
    if (args[2] === 'delete') return fail('Error: No such process.'); // nothing to delete: also fine
    if (args[2] !== 'add') return Promise.reject(new Error(`unexpected command: ${cmd}`));
    if (this.kernel === 'no-esp') {
      return fail(
        args.includes('aead')
          ? 'Error: Requested AEAD algorithm not found.'
          : 'Error: Requested type not found.',
      );
    }
    if (this.kernel === 'esp-only' && args.includes('aead'))
      return fail('Error: Requested AEAD algorithm not found.');
    return Promise.resolve({ stdout: '', stderr: '' });
  }

  spawn(): never {
    throw new Error('detection spawns nothing');
  }

  findExecutable(): Promise<string | undefined> {
    return Promise.reject(new Error('detection looks up no executable'));
  }
}

const host = (...present: string[]): DetectDataplaneOptions['host'] => ({
  exists: (p) => Promise.resolve(present.includes(p)),
});
const ALL = ['/proc/net/xfrm_stat', '/dev/net/tun', LIBIPSEC_SO];
const SA = 'src 192.0.2.253 dst 192.0.2.254 proto esp spi 0x7765667a';

void describe('detectDataplane', () => {
  void it('kernel with ESP and AES-GCM: kernel; the probe state is deleted again', async () => {
    const ip = new FakeIp('esp-aead');
    assert.deepEqual(await detectDataplane({ processes: ip, host: host(...ALL) }), {
      kind: 'kernel',
      reason: 'the kernel holds ESP states with AES-GCM',
    });
    assert.deepEqual(
      ip.calls.map((c) => c.split(' ').slice(0, 4).join(' ')),
      ['ip xfrm state delete', 'ip xfrm state add', 'ip xfrm state delete'],
    );
    assert.ok(ip.calls[1]?.startsWith(`ip xfrm state add ${SA} mode tunnel aead rfc4106(gcm(aes)) 0x`));
    assert.equal(ip.calls[2], `ip xfrm state delete ${SA}`);
  });

  void it('this machine’s kernel (xfrm, no ESP): libipsec, with the reason', async () => {
    const ip = new FakeIp('no-esp');
    const d = await detectDataplane({ processes: ip, host: host(...ALL) });
    assert.equal(d.kind, 'libipsec');
    assert.match(
      d.reason,
      /^the kernel has no ESP \(ip xfrm state add … proto esp: Error: Requested type not found\.\): ESP runs in charon \(kernel-libipsec\)/,
    );
    assert.equal(ip.calls.at(-1), `ip xfrm state delete ${SA}`);
  });

  void it('ESP without AES-GCM counts as no kernel path, and says so', async () => {
    const d = await detectDataplane({ processes: new FakeIp('esp-only'), host: host(...ALL) });
    assert.equal(d.kind, 'libipsec');
    assert.match(d.reason, /the kernel has ESP but no AES-GCM/);
  });

  void it('no xfrm at all: not even tried with ip', async () => {
    const ip = new FakeIp('esp-aead');
    const d = await detectDataplane({ processes: ip, host: host('/dev/net/tun', LIBIPSEC_SO) });
    assert.equal(d.kind, 'libipsec');
    assert.match(d.reason, /no xfrm \(no \/proc\/net\/xfrm_stat\)/);
    assert.deepEqual(ip.calls, []);
  });

  void it('forced kernel where there is no ESP: fails naming what is missing', async () => {
    await assert.rejects(
      detectDataplane({ processes: new FakeIp('no-esp'), host: host(...ALL), choice: 'kernel' }),
      (err: Error) =>
        err instanceof DataplaneUnavailableError &&
        /kernel IPsec data plane was asked for, but the kernel has no ESP .*use "auto" or "libipsec"/.test(
          err.message,
        ),
    );
  });

  void it('forced libipsec skips the ESP probe; missing TUN or plugin is named', async () => {
    const ip = new FakeIp('esp-aead');
    assert.deepEqual(await detectDataplane({ processes: ip, host: host(...ALL), choice: 'libipsec' }), {
      kind: 'libipsec',
      reason: 'asked for; over a TUN device (/dev/net/tun)',
    });
    assert.deepEqual(ip.calls, []);
    await assert.rejects(
      detectDataplane({ processes: ip, host: host(LIBIPSEC_SO), choice: 'libipsec' }),
      /kernel-libipsec data plane was asked for, but \/dev\/net\/tun is missing/,
    );
    await assert.rejects(
      detectDataplane({ processes: ip, host: host('/dev/net/tun'), choice: 'libipsec', pluginDir: '/opt/p' }),
      /kernel-libipsec plugin is not installed \(\/opt\/p\/libstrongswan-kernel-libipsec\.so: install libcharon-extra-plugins\)/,
    );
  });

  void it('forced kernel where ESP works: kernel', async () => {
    const d = await detectDataplane({
      processes: new FakeIp('esp-aead'),
      host: host(...ALL),
      choice: 'kernel',
    });
    assert.deepEqual(d, { kind: 'kernel', reason: 'asked for; the kernel holds ESP states with AES-GCM' });
  });

  void it('auto with neither: one error naming both', async () => {
    await assert.rejects(
      detectDataplane({ processes: new FakeIp('no-esp'), host: host('/proc/net/xfrm_stat') }),
      /no IPsec data plane: the kernel has no ESP .*, and \/dev\/net\/tun is missing for kernel-libipsec/,
    );
  });
});
