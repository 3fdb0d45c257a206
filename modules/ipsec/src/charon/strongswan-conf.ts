// charon's strongswan.conf, rendered from typed options. The appliance never relies on
// /etc/strongswan.d: the plugin list is explicit, so what runs is what this file says. Pure: no I/O.
import { InvalidArgumentError } from '@weft/core';

/** Where ESP runs: the kernel's xfrm (kernel-netlink) or charon itself over a TUN device (kernel-libipsec). */
export type IpsecDataplane = 'kernel' | 'libipsec';

/** charon's log subsystems (strongswan.conf(5), LOGGER CONFIGURATION). */
export const CHARON_LOG_SUBSYSTEMS = [
  'dmn',
  'mgr',
  'ike',
  'chd',
  'job',
  'cfg',
  'knl',
  'net',
  'asn',
  'enc',
  'lib',
  'esp',
  'tls',
  'tnc',
  'imc',
  'imv',
  'pts',
] as const;
export type CharonLogSubsystem = (typeof CHARON_LOG_SUBSYSTEMS)[number];
/** -1 silent, 0 audit, 1 control (default), 2 controlmore, 3 raw, 4 private (may log key material). */
export type CharonLogLevel = -1 | 0 | 1 | 2 | 3 | 4;

/**
 * Where charon's routes go. kernel-libipsec (5.9.8) installs a route into its TUN device for every
 * CHILD_SA *even with install_routes = no* (checked here: `<remote net> dev ipsec0 src <local addr>`), in
 * `routing_table`, looked up by an `ip rule` at `routing_table_prio` that charon adds at start and removes
 * at a clean exit (a SIGKILL leaves it). charon's defaults, table 220 at priority 220, sit in front of
 * everything: an SA silently overrides another link's route to the same prefix. And table 0 is no way
 * out: charon then creates no rule but writes its routes into `main`. So Weft names both numbers (they
 * belong in core's owned.ts): a table of their own, at a priority after Weft's own rule, so Weft's routes
 * win and charon's only fill in.
 */
export interface CharonRouting {
  /** 1 … 2^32-2, not 253/254/255 (default, main, local). */
  table: number;
  /** 1 … 32765 (0 is `local`, 32766 `main`). */
  priority: number;
  /** install_routes: whether kernel-netlink's xfrm data plane installs routes too; default false. */
  installRoutes?: boolean;
}

export interface CharonRetransmit {
  /** Retransmissions before the peer counts as unreachable (charon: 5). */
  tries: number;
  /** Seconds before the first retransmission (charon: 4). */
  timeoutS: number;
  /** Each retransmission waits `base` times longer than the previous one (charon: 1.8). */
  base: number;
}

/** charon's own defaults: an unreachable peer is given up after ≈ 165 s. */
export const CHARON_DEFAULT_RETRANSMIT: CharonRetransmit = { tries: 5, timeoutS: 4, base: 1.8 };
/** For tests and labs: a peer that does not answer is given up after 1 + 1.5 + 2.25 = 4.75 s. */
export const FAST_RETRANSMIT: CharonRetransmit = { tries: 2, timeoutS: 1, base: 1.5 };

export interface StrongswanConfOptions {
  /** Absolute path of the VICI UNIX socket (at most 107 bytes: the limit of sun_path). */
  viciSocket: string;
  dataplane: IpsecDataplane;
  log: {
    /** Absolute path of charon's log file (appended, flushed per line). */
    file: string;
    /** Default 1. */
    level?: CharonLogLevel;
    /** Per-subsystem levels over `level`. */
    subsystems?: Partial<Record<CharonLogSubsystem, CharonLogLevel>>;
  };
  /** Where charon's routes go: required, because kernel-libipsec always installs some. */
  routing: CharonRouting;
  /** Whether charon installs virtual IPs it is assigned; default false (Weft uses none). */
  installVirtualIp?: boolean;
  /** Default CHARON_DEFAULT_RETRANSMIT. */
  retransmit?: CharonRetransmit;
}

/**
 * The plugins charon loads, in order. Crypto: openssl (AES-CBC/GCM, ChaCha20-Poly1305, SHA-1/2, MODP,
 * ECP, X25519, RSA, ECDSA, Ed25519) with the native aes, sha1, sha2, hmac, gcm, gmp and curve25519 after
 * it as fallbacks; random, nonce and drbg for randomness; kdf for IKEv2's PRF+. Certificates: pem, pkcs1,
 * pkcs8, x509, revocation, constraints, pubkey, mgf1 (RSA-PSS). kernel-libipsec comes before
 * kernel-netlink so it takes the IPsec part while kernel-netlink still handles addresses and routes.
 *
 * A `!` marks a plugin as critical: charon aborts when it fails to load instead of running without a data
 * plane or VICI. kernel-netlink is not critical with libipsec: its IPsec feature fails to load there by
 * design (libipsec already provides it), and charon would abort.
 */
export function charonPlugins(dataplane: IpsecDataplane): string[] {
  return [
    'random',
    'nonce',
    'drbg',
    'openssl',
    'aes',
    'sha1',
    'sha2',
    'hmac',
    'gcm',
    'gmp',
    'curve25519',
    'kdf',
    'mgf1',
    'pem',
    'pkcs1',
    'pkcs8',
    'x509',
    'revocation',
    'constraints',
    'pubkey',
    ...(dataplane === 'libipsec' ? ['kernel-libipsec!', 'kernel-netlink'] : ['kernel-netlink!']),
    'socket-default!',
    'vici!',
  ];
}

/** Seconds until charon gives up on a peer that never answers: the first send plus every retransmit. */
export function retransmitGiveUpSeconds(r: CharonRetransmit): number {
  let total = 0;
  for (let n = 0; n <= r.tries; n++) total += r.timeoutS * r.base ** n;
  return total;
}

export function renderStrongswanConf(o: StrongswanConfOptions): string {
  const viciSocket = absolutePath(o.viciSocket, 'viciSocket');
  if (Buffer.byteLength(viciSocket) > 107) {
    throw new InvalidArgumentError(
      `viciSocket must be at most 107 bytes long (a UNIX socket path): ${viciSocket}`,
    );
  }
  const logFile = absolutePath(o.log.file, 'log.file');
  const dataplane = oneOf(o.dataplane, ['kernel', 'libipsec'] as const, 'dataplane');
  const level = logLevel(o.log.level ?? 1, 'log.level');
  const subsystems = Object.entries(o.log.subsystems ?? {}).map(([name, value]) => {
    const subsystem = oneOf(name, CHARON_LOG_SUBSYSTEMS, 'log.subsystems');
    return `${subsystem} = ${logLevel(value, `log.subsystems.${subsystem}`)}`;
  });
  const retransmit = o.retransmit ?? CHARON_DEFAULT_RETRANSMIT;
  integer(retransmit.tries, 'retransmit.tries', 0, 100);
  decimal(retransmit.timeoutS, 'retransmit.timeoutS', 0.1, 600);
  decimal(retransmit.base, 'retransmit.base', 1, 10);

  const lines = ['# Written by Weft for its own charon; changes here are overwritten.', 'charon {'];
  lines.push(`  load = ${charonPlugins(dataplane).join(' ')}`);
  integer(o.routing.table, 'routing.table', 1, 0xfffffffe);
  if ([253, 254, 255].includes(o.routing.table)) {
    throw new InvalidArgumentError(
      `routing.table must not be the kernel's default (253), main (254) or local (255) table: ${o.routing.table}`,
    );
  }
  integer(o.routing.priority, 'routing.priority', 1, 32765);
  lines.push(
    `  install_routes = ${o.routing.installRoutes === true ? 'yes' : 'no'}`,
    `  routing_table = ${o.routing.table}`,
    `  routing_table_prio = ${o.routing.priority}`,
  );
  lines.push(
    `  install_virtual_ip = ${o.installVirtualIp === true ? 'yes' : 'no'}`,
    `  retransmit_tries = ${retransmit.tries}`,
    `  retransmit_timeout = ${retransmit.timeoutS}`,
    `  retransmit_base = ${retransmit.base}`,
    '  plugins {',
    '    vici {',
    `      socket = unix://${viciSocket}`,
    '    }',
    '  }',
    '  filelog {',
    '    weft {',
    `      path = ${logFile}`,
    '      append = yes',
    '      flush_line = yes',
    '      time_format = %Y-%m-%dT%H:%M:%S',
    '      time_add_ms = yes',
    '      ike_name = yes',
    `      default = ${level}`,
    ...subsystems.map((s) => `      ${s}`),
    '    }',
    '  }',
    // No syslog: one log, in the file the supervisor reads back when charon dies.
    '  syslog {',
    '    daemon {',
    '      default = -1',
    '    }',
    '  }',
    '}',
    '',
  );
  return lines.join('\n');
}

// --- validation: every value ends up in a file where a newline, brace or '#' would change its meaning --

/** Absolute, and only characters that cannot end a value, open a section or start a comment. */
function absolutePath(value: string, what: string): string {
  if (!/^\/[A-Za-z0-9._/@+,:=-]*$/.test(value) || value.split('/').includes('..')) {
    throw new InvalidArgumentError(
      `${what} must be an absolute path of letters, digits and . _ / @ + , : = - (no "..", spaces, quotes, braces or "#"): ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`${what} must be one of ${allowed.join(', ')}: ${JSON.stringify(value)}`);
  }
  return value as T;
}

function logLevel(value: number, what: string): number {
  return integer(value, what, -1, 4);
}

function integer(value: number, what: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be an integer from ${min} to ${max}: ${value}`);
  }
  return value;
}

function decimal(value: number, what: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what} must be a number from ${min} to ${max}: ${value}`);
  }
  return value;
}
