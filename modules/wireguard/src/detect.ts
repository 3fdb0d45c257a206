// Which WireGuard this machine can run: the kernel's when a `wireguard` link can be created, else
// wireguard-go when it is installed. Probing creates a throw-away link and deletes it at once.
import { WireGuardUnavailableError } from './errors.js';
import { IpLinkAdapter, LinkTypeUnsupportedError, type LinkAdapter } from './link.adapter.js';
import type { ProcessRunner } from '@weft/core';
import type { WireGuardImplementation } from './configurer.js';

export type ImplementationChoice = 'auto' | WireGuardImplementation;

export interface Detection {
  kind: WireGuardImplementation;
  /** One sentence for the log: why this implementation. */
  reason: string;
}

export interface DetectOptions {
  /** Default 'auto'. Forcing an implementation that is missing fails with a message saying what to do. */
  implementation?: ImplementationChoice;
  /** Default: IpLinkAdapter over `runner`. */
  links?: LinkAdapter;
  /** Default `wireguard-go`. */
  wireguardGo?: string;
  /** Default `wgprobe<pid>` (cut to 15 characters). */
  probeName?: string;
}

type KernelProbe = { ok: true } | { ok: false; why: string };

export async function detectImplementation(
  runner: ProcessRunner,
  options: DetectOptions = {},
): Promise<Detection> {
  const choice = options.implementation ?? 'auto';
  const links = options.links ?? new IpLinkAdapter(runner);
  const wireguardGo = options.wireguardGo ?? 'wireguard-go';
  const probeName = (options.probeName ?? `wgprobe${process.pid}`).slice(0, 15);

  if (choice !== 'userspace') {
    const probe = await probeKernel(links, probeName);
    if (probe.ok) return { kind: 'kernel', reason: 'the kernel can create "wireguard" links' };
    if (choice === 'kernel') {
      throw new WireGuardUnavailableError(
        `WireGuard was forced to 'kernel' but ${probe.why}: use a kernel with WireGuard (Linux 5.6+, ` +
          `CONFIG_WIREGUARD) or choose 'userspace' with wireguard-go`,
      );
    }
    const path = await runner.findExecutable(wireguardGo);
    if (path !== undefined) return { kind: 'userspace', reason: `${probe.why}; using ${path}` };
    throw new WireGuardUnavailableError(
      `no WireGuard here: ${probe.why}, and ${wireguardGo} is not in PATH. Install wireguard-go ` +
        `(Debian: apt install wireguard-go) or use a kernel with WireGuard`,
    );
  }
  const path = await runner.findExecutable(wireguardGo);
  if (path === undefined) {
    throw new WireGuardUnavailableError(
      `WireGuard was forced to 'userspace' but ${wireguardGo} is not in PATH: install wireguard-go ` +
        `(Debian: apt install wireguard-go)`,
    );
  }
  return { kind: 'userspace', reason: `forced to 'userspace'; using ${path}` };
}

async function probeKernel(links: LinkAdapter, name: string): Promise<KernelProbe> {
  try {
    const leftover = await links.getLink(name);
    if (leftover?.kind === 'wireguard') {
      // Left by a probe that crashed half-way: it proves the kernel has WireGuard.
      await links.deleteLink(name);
      return { ok: true };
    }
    await links.addWireGuardLink(name);
  } catch (err) {
    if (err instanceof LinkTypeUnsupportedError)
      return { ok: false, why: 'the kernel has no WireGuard ("Unknown device type")' };
    const detail = err instanceof Error ? err.message : String(err);
    return { ok: false, why: `creating a test "wireguard" link failed (${detail})` };
  }
  await links.deleteLink(name);
  return { ok: true };
}
