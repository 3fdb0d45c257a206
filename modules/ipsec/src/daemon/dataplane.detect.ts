// Kernel ESP or kernel-libipsec: the kernel path needs xfrm that can hold an ESP state with a modern
// AEAD; libipsec needs a TUN device. Probed once at start-up, in the appliance's own namespace, leaving
// nothing behind; a forced choice is honoured or refused with what is missing.
import type { ProcessRunner } from '@weft/core';
import { InvalidArgumentError } from '@weft/core';
import type { IpsecDataplane } from './strongswan-conf.js';

export type DataplaneChoice = 'auto' | IpsecDataplane;

export interface DataplaneDetection {
  kind: IpsecDataplane;
  reason: string;
}

export interface DataplaneProbe {
  /** Whether the kernel accepts an ESP state with AES-GCM (added and removed again). */
  kernelEsp(): Promise<{ ok: boolean; why: string }>;
  /** Whether /dev/net/tun exists. */
  tun(): Promise<boolean>;
}

/** SPI and TEST-NET-1 addresses nobody else uses; the state lives for the blink of the probe. */
const PROBE = ['src', '192.0.2.253', 'dst', '192.0.2.254', 'proto', 'esp', 'spi', '0x7765667a'];

export class SystemDataplaneProbe implements DataplaneProbe {
  constructor(
    private readonly runner: ProcessRunner,
    private readonly exists: (path: string) => Promise<boolean>,
  ) {}

  async kernelEsp(): Promise<{ ok: boolean; why: string }> {
    if (!(await this.exists('/proc/net/xfrm_stat'))) return { ok: false, why: 'the kernel has no xfrm' };
    try {
      await this.runner.run('ip', [
        'xfrm',
        'state',
        'add',
        ...PROBE,
        'mode',
        'tunnel',
        'aead',
        'rfc4106(gcm(aes))',
        `0x${'ab'.repeat(20)}`,
        '128',
      ]);
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        why: `the kernel refuses an ESP state with AES-GCM (${text.split('\n')[0] ?? text})`,
      };
    }
    await this.runner.run('ip', ['xfrm', 'state', 'delete', ...PROBE]).catch(() => undefined);
    return { ok: true, why: 'the kernel holds ESP states with AES-GCM' };
  }

  tun(): Promise<boolean> {
    return this.exists('/dev/net/tun');
  }
}

export async function detectDataplane(
  probe: DataplaneProbe,
  choice: DataplaneChoice = 'auto',
): Promise<DataplaneDetection> {
  const esp = choice === 'libipsec' ? undefined : await probe.kernelEsp();
  if (choice === 'kernel') {
    if (!esp?.ok)
      throw new InvalidArgumentError(
        `the kernel IPsec data plane was asked for, but ${esp?.why ?? 'it is missing'}: use "auto" or "libipsec"`,
      );
    return { kind: 'kernel', reason: `forced in config; ${esp.why}` };
  }
  if (esp?.ok) return { kind: 'kernel', reason: esp.why };
  if (!(await probe.tun())) {
    throw new InvalidArgumentError(
      `no IPsec data plane: ${esp?.why ?? 'kernel path not tried'}, and /dev/net/tun is missing for kernel-libipsec`,
    );
  }
  return {
    kind: 'libipsec',
    reason:
      choice === 'libipsec'
        ? 'forced in config'
        : `${esp?.why ?? 'kernel path not tried'}: ESP runs in charon (kernel-libipsec) over a TUN device`,
  };
}
