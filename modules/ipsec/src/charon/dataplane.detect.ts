// Kernel ESP or kernel-libipsec, decided once at start-up in the appliance's own network namespace.
// The kernel path needs xfrm that holds an ESP state with AES-GCM (Weft's default proposals): probed by
// adding a throw-away state and deleting it again. charon itself does not check: with kernel-netlink on a
// kernel without ESP it starts fine and only fails when the first CHILD_SA is installed. libipsec needs
// /dev/net/tun and the kernel-libipsec plugin.
import { join } from 'node:path';
import { CommandError, type ProcessRunner } from '@weft/core';
import type { CharonHost } from './charon.host.js';
import { DataplaneUnavailableError } from './charon.errors.js';
import type { IpsecDataplane } from './strongswan-conf.js';

export type DataplaneChoice = 'auto' | IpsecDataplane;

export interface DataplaneDetection {
  kind: IpsecDataplane;
  /** One sentence for the start-up log: why this data plane. */
  reason: string;
}

export interface DetectDataplaneOptions {
  processes: ProcessRunner;
  host: Pick<CharonHost, 'exists'>;
  /** Default `auto`. */
  choice?: DataplaneChoice;
  /** Default /usr/lib/ipsec/plugins (Debian); kernel-libipsec is looked for there. */
  pluginDir?: string;
  /** Default `ip` (found in PATH). */
  ip?: string;
}

export const DEFAULT_PLUGIN_DIR = '/usr/lib/ipsec/plugins';

/** An SPI and TEST-NET-1 addresses nobody uses; the state lives for the blink of the probe. */
const PROBE_SA = ['src', '192.0.2.253', 'dst', '192.0.2.254', 'proto', 'esp', 'spi', '0x7765667a'];
const AEAD = ['aead', 'rfc4106(gcm(aes))', `0x${'5a'.repeat(20)}`, '128'];
const CBC_HMAC = [
  'enc',
  'cbc(aes)',
  `0x${'5a'.repeat(16)}`,
  'auth-trunc',
  'hmac(sha256)',
  `0x${'5a'.repeat(32)}`,
  '128',
];

interface Probe {
  ok: boolean;
  /** What is there or what is missing, for the reason or the error. */
  what: string;
}

export async function detectDataplane(o: DetectDataplaneOptions): Promise<DataplaneDetection> {
  const choice = o.choice ?? 'auto';
  switch (choice) {
    case 'kernel': {
      const esp = await probeKernelEsp(o);
      if (!esp.ok) {
        throw new DataplaneUnavailableError(
          `the kernel IPsec data plane was asked for, but ${esp.what}: use "auto" or "libipsec"`,
        );
      }
      return { kind: 'kernel', reason: `asked for; ${esp.what}` };
    }
    case 'libipsec': {
      const tun = await probeLibipsec(o);
      if (!tun.ok) {
        throw new DataplaneUnavailableError(
          `the kernel-libipsec data plane was asked for, but ${tun.what}: use "auto" or "kernel"`,
        );
      }
      return { kind: 'libipsec', reason: `asked for; ${tun.what}` };
    }
    case 'auto': {
      const esp = await probeKernelEsp(o);
      if (esp.ok) return { kind: 'kernel', reason: esp.what };
      const tun = await probeLibipsec(o);
      if (!tun.ok) throw new DataplaneUnavailableError(`no IPsec data plane: ${esp.what}, and ${tun.what}`);
      return { kind: 'libipsec', reason: `${esp.what}: ESP runs in charon (kernel-libipsec), ${tun.what}` };
    }
  }
}

async function probeKernelEsp(o: DetectDataplaneOptions): Promise<Probe> {
  if (!(await o.host.exists('/proc/net/xfrm_stat'))) {
    return { ok: false, what: 'the kernel has no xfrm (no /proc/net/xfrm_stat)' };
  }
  const ip = o.ip ?? 'ip';
  const del = (): Promise<unknown> =>
    o.processes.run(ip, ['xfrm', 'state', 'delete', ...PROBE_SA]).catch(() => undefined);
  // A state left by a probe that was interrupted would make the add fail with "File exists".
  await del();
  try {
    await o.processes.run(ip, ['xfrm', 'state', 'add', ...PROBE_SA, 'mode', 'tunnel', ...AEAD]);
    return { ok: true, what: 'the kernel holds ESP states with AES-GCM' };
  } catch (aeadErr) {
    // Which part is missing: ESP itself or only the AEAD? The answer is the operator's fix.
    try {
      await o.processes.run(ip, ['xfrm', 'state', 'add', ...PROBE_SA, 'mode', 'tunnel', ...CBC_HMAC]);
      return {
        ok: false,
        what: `the kernel has ESP but no AES-GCM (rfc4106(gcm(aes)): ${firstLine(aeadErr)})`,
      };
    } catch (espErr) {
      return {
        ok: false,
        what: `the kernel has no ESP (ip xfrm state add … proto esp: ${firstLine(espErr)})`,
      };
    }
  } finally {
    await del();
  }
}

async function probeLibipsec(o: DetectDataplaneOptions): Promise<Probe> {
  const plugin = join(o.pluginDir ?? DEFAULT_PLUGIN_DIR, 'libstrongswan-kernel-libipsec.so');
  const [tun, lib] = await Promise.all([o.host.exists('/dev/net/tun'), o.host.exists(plugin)]);
  if (!tun) return { ok: false, what: '/dev/net/tun is missing for kernel-libipsec' };
  if (!lib) {
    return {
      ok: false,
      what: `the kernel-libipsec plugin is not installed (${plugin}: install libcharon-extra-plugins)`,
    };
  }
  return { ok: true, what: 'over a TUN device (/dev/net/tun)' };
}

function firstLine(err: unknown): string {
  const text = err instanceof CommandError ? err.stderr : err instanceof Error ? err.message : String(err);
  return text.trim().split('\n')[0] ?? text;
}
