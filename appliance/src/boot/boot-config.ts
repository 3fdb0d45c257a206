// Boot configuration: command line, then an optional config file. Validated once, typed, fails fast.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';

export const BOOT_CONFIG = Symbol('BOOT_CONFIG');

export interface BootConfig {
  dataDir: string;
  listenHost: string;
  listenPort: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Seconds between periodic drift checks (kernel changes also trigger one). */
  driftIntervalSeconds: number;
  configFile: string | undefined;
  /** WireGuard path: `auto` detects (kernel module if present, else wireguard-go). */
  wireguardImplementation: 'auto' | 'kernel' | 'userspace';
  /** IPsec data plane: `auto` detects (kernel ESP if the kernel holds ESP states, else kernel-libipsec). */
  ipsecDataplane: 'auto' | 'kernel' | 'libipsec';
  /**
   * Multicast forwarder: `auto` detects (the kernel's multicast routing with smcrouted where the kernel
   * has CONFIG_IP_MROUTE, else nftables dup rules).
   */
  multicastEngine: 'auto' | 'mroute' | 'nftables';
}

export type Command =
  | { name: 'serve'; config: BootConfig }
  | { name: 'cleanup'; config: BootConfig }
  | { name: 'help' }
  | { name: 'version' };

export class BootConfigError extends Error {}

export const USAGE = `usage:
  weft serve   --data-dir DIR --listen ADDR:PORT [--config FILE] [--log-level LEVEL] [--drift-interval SECONDS]
               [--wireguard auto|kernel|userspace] [--ipsec auto|kernel|libipsec]
               [--multicast auto|mroute|nftables]
  weft cleanup --data-dir DIR      remove every route, rule and object Weft owns from the kernel
  weft version | help

The config file (YAML or JSON) may set: data_dir, listen, log_level, drift_interval, wireguard, ipsec,
multicast.
The command line wins over the file.`;

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function parseListen(value: string, source: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m?.[1] || !(port >= 1 && port <= 65535)) {
    throw new BootConfigError(`${source}: "${value}" is not ADDR:PORT (e.g. 198.18.0.10:8080 or [::1]:8080)`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

export function parseCommand(
  argv: string[],
  readFile: (p: string) => string = (p) => readFileSync(p, 'utf8'),
): Command {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') return { name: 'help' };
  if (name === 'version' || name === '--version') return { name: 'version' };
  if (name !== 'serve' && name !== 'cleanup')
    throw new BootConfigError(`unknown command "${name}"\n${USAGE}`);

  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        'data-dir': { type: 'string' },
        listen: { type: 'string' },
        config: { type: 'string' },
        'log-level': { type: 'string' },
        'drift-interval': { type: 'string' },
        wireguard: { type: 'string' },
        ipsec: { type: 'string' },
        multicast: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new BootConfigError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
  }

  let file: Record<string, unknown> = {};
  if (values.config) {
    try {
      const parsed: unknown = parseYaml(readFile(values.config));
      if (parsed !== null && typeof parsed !== 'object') throw new Error('expected a mapping');
      file = (parsed ?? {}) as Record<string, unknown>;
    } catch (err) {
      throw new BootConfigError(
        `config file ${values.config}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const known = ['data_dir', 'listen', 'log_level', 'drift_interval', 'wireguard', 'ipsec', 'multicast'];
    for (const key of Object.keys(file)) {
      if (!known.includes(key))
        throw new BootConfigError(
          `config file ${values.config}: unknown key "${key}" (known: ${known.join(', ')})`,
        );
    }
  }
  const str = (cli: string | undefined, key: string): string | undefined => {
    if (cli !== undefined) return cli;
    const v = file[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new BootConfigError(`config file: "${key}" must be a string`);
    return String(v);
  };

  const dataDir = str(values['data-dir'], 'data_dir');
  if (!dataDir)
    throw new BootConfigError(
      `--data-dir is required (where the database and the admin token live)\n${USAGE}`,
    );
  const listenText = str(values.listen, 'listen') ?? '127.0.0.1:8080';
  const { host, port } = parseListen(listenText, values.listen !== undefined ? '--listen' : 'listen');
  const level = str(values['log-level'], 'log_level') ?? process.env.WEFT_LOG_LEVEL ?? 'info';
  if (!(LEVELS as readonly string[]).includes(level)) {
    throw new BootConfigError(`log level "${level}" is not one of ${LEVELS.join(', ')}`);
  }
  const driftText = str(values['drift-interval'], 'drift_interval') ?? '30';
  const drift = Number(driftText);
  if (!Number.isInteger(drift) || drift < 1 || drift > 86400) {
    throw new BootConfigError(
      `drift interval "${driftText}" must be a whole number of seconds from 1 to 86400`,
    );
  }
  const wireguard = str(values.wireguard, 'wireguard') ?? process.env.WEFT_WIREGUARD ?? 'auto';
  if (wireguard !== 'auto' && wireguard !== 'kernel' && wireguard !== 'userspace') {
    throw new BootConfigError(`wireguard "${wireguard}" is not one of auto, kernel, userspace`);
  }
  const ipsec = str(values.ipsec, 'ipsec') ?? process.env.WEFT_IPSEC ?? 'auto';
  if (ipsec !== 'auto' && ipsec !== 'kernel' && ipsec !== 'libipsec') {
    throw new BootConfigError(`ipsec "${ipsec}" is not one of auto, kernel, libipsec`);
  }
  const multicast = str(values.multicast, 'multicast') ?? process.env.WEFT_MULTICAST ?? 'auto';
  if (multicast !== 'auto' && multicast !== 'mroute' && multicast !== 'nftables') {
    throw new BootConfigError(`multicast "${multicast}" is not one of auto, mroute, nftables`);
  }
  if (name === 'serve' && values.listen === undefined && file.listen === undefined) {
    throw new BootConfigError(`--listen ADDR:PORT is required\n${USAGE}`);
  }
  const config: BootConfig = {
    dataDir: resolve(dataDir),
    listenHost: host,
    listenPort: port,
    logLevel: level as BootConfig['logLevel'],
    driftIntervalSeconds: drift,
    configFile: values.config,
    wireguardImplementation: wireguard,
    ipsecDataplane: ipsec,
    multicastEngine: multicast,
  };
  return { name, config };
}
