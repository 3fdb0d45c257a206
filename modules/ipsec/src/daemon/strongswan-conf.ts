// charon's strongswan.conf, rendered from typed options. The appliance never relies on
// /etc/strongswan.d: the plugin list is explicit, so what runs is what this file says.
import { InvalidArgumentError } from '@weft/core';

export type IpsecDataplane = 'kernel' | 'libipsec';

export interface StrongswanConfOptions {
  viciSocket: string;
  dataplane: IpsecDataplane;
  logFile: string;
  /** IKE retransmissions before a peer counts as unreachable (charon's default is 5, ≈ 165 s). */
  retransmitTries?: number;
  /** Seconds before the first retransmission. */
  retransmitTimeout?: number;
  retransmitBase?: number;
}

/**
 * Crypto from OpenSSL (AES-GCM, ChaCha20, SHA-2, X25519 and the NIST curves), kdf for the PRF+ of IKEv2,
 * X.509 and key formats for certificates, the VICI socket. kernel-libipsec goes before kernel-netlink so
 * it takes the IPsec part while kernel-netlink still handles addresses and routes.
 */
export function pluginsFor(dataplane: IpsecDataplane): string[] {
  return [
    'random',
    'nonce',
    'openssl',
    'kdf',
    'pem',
    'pkcs1',
    'pkcs8',
    'x509',
    'revocation',
    'constraints',
    'pubkey',
    'curve25519',
    ...(dataplane === 'libipsec' ? ['kernel-libipsec'] : []),
    'kernel-netlink',
    'socket-default',
    'vici',
  ];
}

function path(value: string, what: string): string {
  if (!value.startsWith('/') || /[\s{}#"'\\]/.test(value)) {
    throw new InvalidArgumentError(
      `${what} must be an absolute path without spaces, quotes, braces or "#": ${value}`,
    );
  }
  return value;
}

export function renderStrongswanConf(o: StrongswanConfOptions): string {
  const tries = o.retransmitTries ?? 3;
  const timeout = o.retransmitTimeout ?? 2;
  const base = o.retransmitBase ?? 1.4;
  for (const [name, v] of [
    ['retransmitTries', tries],
    ['retransmitTimeout', timeout],
    ['retransmitBase', base],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0 || v > 100)
      throw new InvalidArgumentError(`${name} must be a number in (0, 100]: ${v}`);
  }
  return [
    '# Written by Weft for its own charon; changes here are overwritten.',
    'charon {',
    `  load = ${pluginsFor(o.dataplane).join(' ')}`,
    // Weft's routing core routes remote subnets into the tunnel itself, in its own table: charon's
    // table 220 (priority 220, ahead of everything) would silently override another link's route.
    '  install_routes = no',
    '  install_virtual_ip = no',
    `  retransmit_tries = ${tries}`,
    `  retransmit_timeout = ${timeout}`,
    `  retransmit_base = ${base}`,
    '  plugins {',
    `    vici { socket = unix://${path(o.viciSocket, 'viciSocket')} }`,
    '  }',
    '  filelog {',
    '    weft {',
    `      path = ${path(o.logFile, 'logFile')}`,
    '      time_format = %Y-%m-%dT%H:%M:%S',
    '      default = 1',
    '      flush_line = yes',
    '    }',
    '  }',
    '  syslog { daemon { default = -1 } }',
    '}',
    '',
  ].join('\n');
}
