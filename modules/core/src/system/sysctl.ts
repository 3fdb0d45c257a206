// Kernel parameters under /proc/sys, addressed by their sysctl(8) names.
import type { FileAdapter } from './file.adapter.js';
import { InvalidArgumentError } from '../errors.js';

export interface Sysctl {
  /** The value with its trailing newline removed. */
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

/** The sysctls RoutingCore.ensureBase turns on. */
export const FORWARDING_SYSCTLS = {
  ipv4: 'net.ipv4.ip_forward',
  // `all` switches every interface, present and future; per-interface `forwarding` would miss new links.
  ipv6: 'net.ipv6.conf.all.forwarding',
} as const;

export class ProcSysctl implements Sysctl {
  constructor(
    private readonly files: FileAdapter,
    private readonly root = '/proc/sys',
  ) {}

  async get(key: string): Promise<string> {
    const path = this.path(key);
    try {
      return (await this.files.readText(path)).replace(/\n$/, '');
    } catch (cause) {
      throw new Error(`read sysctl ${key}`, { cause });
    }
  }

  async set(key: string, value: string): Promise<void> {
    const path = this.path(key);
    try {
      await this.files.writeText(path, `${value}\n`);
    } catch (cause) {
      throw new Error(`set sysctl ${key}=${value}`, { cause });
    }
  }

  /**
   * sysctl(8) accepts `/` as separator too, which is how an interface name containing a dot
   * (`eth0.100`) is written: `net/ipv6/conf/eth0.100/forwarding`.
   */
  path(key: string): string {
    const parts = key.includes('/') ? key.split('/') : key.split('.');
    if (parts.length < 2 || parts.some((p) => p === '' || p === '.' || p === '..')) {
      throw new InvalidArgumentError(`"${key}" is not a sysctl name`);
    }
    return `${this.root}/${parts.join('/')}`;
  }
}
