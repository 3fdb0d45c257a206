// One IPsec connection as Weft means it, and the two ways it leaves this module: the VICI messages that
// load it into charon (`load-conn`, `load-shared`) and a stock swanctl.conf for a third-party strongSwan.
// Pure: the driver builds an IpsecConnSpec from a link and hands the messages to the VICI session.
import { InvalidArgumentError } from '@weft/core';
import type { ViciInput } from '../vici/vici.message.js';

/** Safe defaults: AEAD ciphers with modern groups, a CBC/SHA-2 fallback for older devices. */
export const DEFAULT_IKE_PROPOSALS: readonly string[] = [
  'aes256gcm16-prfsha256-x25519',
  'aes256gcm16-prfsha384-ecp384',
  'aes256-sha256-modp3072',
];
/** The DH group in each ESP proposal gives perfect forward secrecy on every CHILD_SA rekey. */
export const DEFAULT_ESP_PROPOSALS: readonly string[] = [
  'aes256gcm16-x25519',
  'aes256gcm16-ecp384',
  'aes256-sha256-modp3072',
];

export interface IpsecConnSpec {
  /** Connection and CHILD_SA name in charon: the link name. */
  name: string;
  version: 'ikev1' | 'ikev2';
  /** IKEv1 aggressive mode (the caller has checked it is allowed). */
  aggressive: boolean;
  /** This side's addresses (`%any` when unset). */
  localAddrs: readonly string[];
  /** The peer's addresses or DNS names; `%any` lets any peer with the right credentials in. */
  remoteAddrs: readonly string[];
  /** The peer's IKE port when not 500. */
  remotePort?: number;
  localId?: string;
  remoteId?: string;
  auth: 'psk' | 'pubkey';
  /**
   * For `pubkey`: this side's certificate, PEM. load-conn takes certificate data in `certs` (charon
   * parses the blob); a swanctl.conf names files instead (see renderSwanctl).
   */
  localCert?: string;
  /** For `pubkey`: the CA (PEM) the remote side's certificate must chain to (`cacerts` constraint). */
  remoteCa?: string;
  /**
   * For `pubkey` with an imported certificate: the CA (PEM) our own chain ends at. As the local
   * `cacerts`, it makes charon build that chain and send the intermediates with our certificate.
   */
  localCa?: string;
  ikeProposals: readonly string[];
  espProposals: readonly string[];
  localTs: readonly string[];
  remoteTs: readonly string[];
  /** Seconds; 0 turns dead-peer detection off. */
  dpdDelay: number;
  dpdAction: 'restart' | 'clear';
  startAction: 'initiate' | 'wait';
  ikeRekeySeconds: number;
  childRekeySeconds: number;
  /** Always wrap ESP in UDP. */
  forceEncap: boolean;
}

const TOKEN = /^[\x21-\x7e]+$/;
const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Refuses values that could break out of a swanctl.conf or that charon would misread. */
export function assertConnSpec(spec: IpsecConnSpec): void {
  const bad = (field: string, why: string): never => {
    throw new InvalidArgumentError(`IPsec connection ${spec.name}: ${field} ${why}`);
  };
  if (!NAME.test(spec.name)) bad('name', 'must be 1–63 letters, digits, "_", "." or "-"');
  for (const [field, values] of [
    ['local_addrs', spec.localAddrs],
    ['remote_addrs', spec.remoteAddrs],
    ['proposals', spec.ikeProposals],
    ['esp_proposals', spec.espProposals],
    ['local_ts', spec.localTs],
    ['remote_ts', spec.remoteTs],
  ] as const) {
    if (values.length === 0) bad(field, 'is empty');
    for (const v of values)
      if (!TOKEN.test(v) || v.includes(',') || /[{}"#]/.test(v)) bad(field, `has an unusable value "${v}"`);
  }
  for (const [field, v] of [
    ['local id', spec.localId],
    ['remote id', spec.remoteId],
  ] as const) {
    if (v !== undefined && (!/^[\x20-\x7e]+$/.test(v) || /["{}#\\]/.test(v) || v.trim() !== v)) {
      bad(field, 'must be printable ASCII without quotes, braces, "#" or "\\"');
    }
  }
  for (const [field, v] of [
    ['certificate', spec.localCert],
    ['remote CA', spec.remoteCa],
    ['local CA', spec.localCa],
  ] as const) {
    if (v !== undefined && !PEM_CERT.test(v.trim())) bad(field, 'must be one PEM certificate');
  }
  if (spec.aggressive && spec.version !== 'ikev1') bad('aggressive mode', 'exists only in IKEv1');
}

/** Where certificates go in a local/remote section: their data (VICI) or file names (swanctl.conf). */
interface CertRefs {
  localCert?: string;
  remoteCa?: string;
  localCa?: string;
}

function authSection(spec: IpsecConnSpec, side: 'local' | 'remote', refs: CertRefs): ViciInput {
  const id = side === 'local' ? spec.localId : spec.remoteId;
  const pubkey = spec.auth === 'pubkey';
  return {
    auth: spec.auth,
    id,
    certs: side === 'local' && pubkey && refs.localCert ? [refs.localCert] : undefined,
    // Only certificates chaining to this CA are accepted: another CA charon trusts (another link's)
    // cannot vouch for this peer. On our side, the CA our imported certificate chains to.
    cacerts:
      pubkey && side === 'remote' && refs.remoteCa
        ? [refs.remoteCa]
        : pubkey && side === 'local' && refs.localCa
          ? [refs.localCa]
          : undefined,
  };
}

/** The `load-conn` message: `{ <name>: { …ike settings, local, remote, children: { <name>: … } } }`. */
export function loadConnMessage(spec: IpsecConnSpec): ViciInput {
  assertConnSpec(spec);
  if (spec.auth === 'pubkey' && (!spec.localCert || !spec.remoteCa)) {
    throw new InvalidArgumentError(
      `IPsec connection ${spec.name}: certificate authentication needs this side's certificate and the remote CA`,
    );
  }
  return connSections(spec, {
    ...(spec.localCert ? { localCert: spec.localCert.trim() } : {}),
    ...(spec.remoteCa ? { remoteCa: spec.remoteCa.trim() } : {}),
    ...(spec.localCa ? { localCa: spec.localCa.trim() } : {}),
  });
}

function connSections(spec: IpsecConnSpec, refs: CertRefs): ViciInput {
  return {
    [spec.name]: {
      version: spec.version === 'ikev1' ? 1 : 2,
      aggressive: spec.aggressive,
      local_addrs: [...spec.localAddrs],
      remote_addrs: [...spec.remoteAddrs],
      remote_port: spec.remotePort,
      proposals: [...spec.ikeProposals],
      encap: spec.forceEncap,
      // MOBIKE would move the SA between addresses behind Weft's back; the routing core decides paths.
      mobike: false,
      dpd_delay: `${spec.dpdDelay}s`,
      rekey_time: `${spec.ikeRekeySeconds}s`,
      // One IKE SA per peer: a new one from the same peer replaces the old (a restarted peer).
      unique: 'replace',
      local: authSection(spec, 'local', refs),
      remote: authSection(spec, 'remote', refs),
      children: {
        [spec.name]: {
          mode: 'tunnel',
          local_ts: [...spec.localTs],
          remote_ts: [...spec.remoteTs],
          esp_proposals: [...spec.espProposals],
          rekey_time: `${spec.childRekeySeconds}s`,
          dpd_action: spec.dpdAction,
          start_action: spec.startAction === 'initiate' ? 'start' : 'none',
          // A child the peer closed is brought back when we are the side that initiates.
          close_action: spec.startAction === 'initiate' ? 'start' : 'none',
        },
      },
    },
  };
}

/** The key's owners: the identities it is for, so two links' keys never stand in for each other. */
function owners(spec: IpsecConnSpec): string[] {
  const ids = [spec.localId ?? spec.localAddrs[0], spec.remoteId ?? spec.remoteAddrs[0]];
  return ids.filter((id): id is string => id !== undefined && id !== '%any');
}

/** The `load-shared` message for a PSK link. `id` names it for unload-shared. */
export function loadSharedMessage(spec: IpsecConnSpec, psk: string): ViciInput {
  return { id: sharedKeyId(spec.name), type: 'IKE', data: psk, owners: owners(spec) };
}

export function sharedKeyId(connection: string): string {
  return `weft-${connection}`;
}

/**
 * A swanctl.conf with this connection (and its PSK, when given): what a third-party strongSwan loads
 * with `swanctl --load-all`. Values were checked by assertConnSpec, so none can break the syntax. With
 * `auth: pubkey`, swanctl.conf names certificate files (relative to swanctl's x509/ and x509ca/
 * directories): `files` gives those names; the PEM data in the spec is not written inline.
 */
export function renderSwanctl(
  spec: IpsecConnSpec,
  psk?: string,
  header: readonly string[] = [],
  files: CertRefs = {},
): string {
  assertConnSpec(spec);
  for (const name of [files.localCert, files.remoteCa, files.localCa]) {
    if (name !== undefined && !/^[A-Za-z0-9_.-]+$/.test(name)) {
      throw new InvalidArgumentError(
        `IPsec connection ${spec.name}: certificate file name "${name}" is unusable`,
      );
    }
  }
  const conn = connSections(spec, files)[spec.name] as ViciInput;
  const lines: string[] = header.map((h) => `# ${h}`);
  const emit = (section: ViciInput, indent: string): void => {
    for (const [key, value] of Object.entries(section)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) lines.push(`${indent}${key} = ${value.map(String).join(', ')}`);
      else if (typeof value === 'object' && !(value instanceof Uint8Array)) {
        lines.push(`${indent}${key} {`);
        emit(value as ViciInput, `${indent}  `);
        lines.push(`${indent}}`);
      } else if (typeof value === 'boolean') lines.push(`${indent}${key} = ${value ? 'yes' : 'no'}`);
      // A distinguished name ("C=CH, O=Corp, CN=gw") is quoted, as swanctl.conf(5) writes them;
      // assertConnSpec keeps quotes out of identities.
      else if (typeof value === 'string' && /[\s,=]/.test(value)) lines.push(`${indent}${key} = "${value}"`);
      else lines.push(`${indent}${key} = ${String(value)}`);
    }
  };
  lines.push('connections {', `  ${spec.name} {`);
  emit(conn, '    ');
  lines.push('  }', '}');
  if (psk !== undefined) {
    if (!TOKEN.test(psk) || psk.includes('"')) {
      throw new InvalidArgumentError(
        `IPsec connection ${spec.name}: the pre-shared key must be printable ASCII without spaces or quotes`,
      );
    }
    lines.push('', 'secrets {', `  ike-${spec.name} {`);
    owners(spec).forEach((o, i) => lines.push(`    id-${i + 1} = ${o}`));
    lines.push(`    secret = "${psk}"`, '  }', '}');
  }
  return lines.join('\n') + '\n';
}
