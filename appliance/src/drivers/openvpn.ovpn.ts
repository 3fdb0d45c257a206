// What a third-party OpenVPN device needs for one p2p link: a stock `.ovpn` (openvpn 2.6, inline files).
// Pure. It is the other end of the same tunnel the driver runs (tunnelOf), so every option openvpn
// compares between the ends (dev-type, tun-mtu, compression, ciphers, the tls-crypt key) is the value
// this appliance uses. The device's certificate and private key are never made here: Weft does not
// issue keys for other devices, so the file names what to put in <cert> and <key>.
import { deriveMtu } from '@weft/openvpn';
import { formatIp, parsePrefix } from '../common/cidr.js';
import { ConflictError } from '../common/errors.js';
import type { NormalizedDocument } from '../desired-state/document.js';
import { thirdPartyNetmapNote } from '../desired-state/netmap.js';
import { topologyOf, tunnelOf, type OpenvpnLink } from './openvpn.link-spec.js';

export interface OvpnInput {
  doc: NormalizedDocument;
  link: OpenvpnLink;
  /** This appliance's CA (PEM): it issued the certificate this side proves itself with. */
  caCertificate: string | undefined;
  /** The UDP port this side listens on when it is the TLS server (chosen when applied). */
  listenPort: number | undefined;
  /** The underlay MTU this side derives its tun-mtu from; undefined: 1500. */
  underlayMtu: number | undefined;
}

const CERT_PLACEHOLDER = '# REPLACE: this device’s own certificate (PEM), see the top of this file';
const KEY_PLACEHOLDER = '# REPLACE: this device’s own private key (PEM), see the top of this file';

/** Where the device's own certificate and key go: the test and the operator replace these lines. */
export const OVPN_PLACEHOLDERS = { cert: CERT_PLACEHOLDER, key: KEY_PLACEHOLDER } as const;

function netmask(len: number): string {
  return formatIp(4, len === 0 ? 0n : ((1n << 32n) - 1n) ^ ((1n << BigInt(32 - len)) - 1n));
}

/** The `.ovpn` of the third-party end of `link`. Throws ConflictError when it cannot be made yet. */
export function openvpnOvpn(input: OvpnInput): string {
  const { doc, link } = input;
  if (topologyOf(link) !== 'p2p') {
    throw new ConflictError(
      `format ovpn is for p2p links; link ${link.name} is a ${topologyOf(link)} link: use format weft`,
    );
  }
  if (!input.caCertificate) {
    throw new ConflictError(
      'this appliance has no CA certificate yet (made when the appliance starts; see its log): the link cannot be exported before',
    );
  }
  const host = doc.appliance.public_endpoint;
  if (!host) {
    throw new ConflictError(
      'the appliance has no public_endpoint: set it (PUT /appliance); the device verifies this appliance’s certificate by that name',
    );
  }
  const t = tunnelOf(link, {
    doc,
    ...(input.listenPort !== undefined ? { listenPort: input.listenPort } : {}),
    ...(input.underlayMtu !== undefined ? { underlayMtu: input.underlayMtu } : {}),
  });
  if (!t.tunnel) throw new Error(`OpenVPN link ${link.name} has no tunnel addresses`);
  const mtu = deriveMtu(t.underlayMtu, t.underlayFamily);
  const note = thirdPartyNetmapNote(link);
  // The device routes this site's subnets as the tunnel carries them (mapped with netmap.local).
  const routes: string[] = [];
  const skipped: string[] = [];
  for (const text of t.localSubnets) {
    const p = parsePrefix(text);
    if (p?.family === 4) routes.push(`route ${formatIp(4, p.addr)} ${netmask(p.len)}`);
    else skipped.push(text);
  }

  const out: string[] = [
    `# OpenVPN peer configuration for the link "${link.name}" of Weft appliance "${doc.appliance.name}" (${host}).`,
    '# For a third-party device running openvpn 2.6: openvpn --config <this file>.',
    '#',
    '# Before use, fill in what only this device has (Weft never issues keys for other devices):',
    '#   <cert>  this device’s own certificate (PEM), issued by the CA that is the link’s remote_ca on',
    `#           ${doc.appliance.name}, with the common name (CN) "${t.remoteName}" (the link’s remote_name${link.openvpn.remote_name ? '' : ', by default its remote_endpoint host'});`,
    '#           intermediate CA certificates, if any, follow it in the same block.',
    '#   <key>   this device’s private key (PEM) for that certificate. It never leaves the device.',
    `# On ${doc.appliance.name}, the link "${link.name}" must then have remote_ca = the CA that issued the`,
    '# device’s certificate (PEM), and remote_name = the device certificate’s common name (PUT /links/' +
      `${link.name}).`,
    '# <ca> (this appliance’s CA) and <tls-crypt> (the link’s key, secret: keep this file 0600) are filled in.',
    '# Everything else must stay as it is: both ends compare dev-type, tun-mtu and compression, and a',
    '# change on one end only breaks the tunnel (GET /links/' + `${link.name}/status names it).`,
    ...(note ? [`# ${note}`] : []),
    'dev tun',
    `proto ${t.underlayFamily === 'inet6' ? 'udp6' : 'udp4'}`,
  ];
  if (t.role === 'server') {
    // This side listens: the device dials it.
    if (t.listenPort === undefined) {
      throw new ConflictError(
        `link ${link.name} has no UDP port yet (it gets one when applied): export it after the commit`,
      );
    }
    out.push(
      '# A fixed source port: openvpn 2.6 in p2p mode answers a restarted peer at its old address, so the',
      '# device must come back from the same one (use another port if this one is taken on the device).',
      `lport ${t.listenPort}`,
      `remote ${host.replace(/^\[|\]$/g, '')} ${t.listenPort}`,
      'float',
      'tls-client',
    );
  } else {
    // This side dials the device at its remote_endpoint: the device listens on that port.
    if (!t.remote) throw new Error(`OpenVPN link ${link.name} dials no remote_endpoint`);
    out.push(`lport ${t.remote.port}`, 'float', 'tls-server', 'dh none');
  }
  out.push(
    `verify-x509-name ${host.replace(/^\[|\]$/g, '')} name`,
    'tls-version-min 1.2',
    `data-ciphers ${t.dataCiphers.join(':')}`,
    `ifconfig ${t.tunnel.remote} ${t.tunnel.local}`,
    ...(routes.length > 0 ? [`# ${doc.appliance.name}’s subnets, through the tunnel`, ...routes] : []),
    ...(skipped.length > 0 ? [`# not carried by this IPv4 tunnel: ${skipped.join(', ')}`] : []),
    `tun-mtu ${mtu.tunMtu}`,
    `mssfix ${mtu.mssfixMtu} mtu`,
    '# No compression, on purpose (VORACLE); the other end refuses it.',
    'allow-compression no',
    `keepalive ${t.keepalive.interval} ${t.keepalive.timeout}`,
    'persist-tun',
    'persist-key',
    '# Where the kernel has no ovpn-dco module, openvpn falls back by itself; to say so explicitly:',
    '# disable-dco',
    'explicit-exit-notify 1',
    'verb 3',
    '<ca>',
    input.caCertificate.trim(),
    '</ca>',
    '<cert>',
    CERT_PLACEHOLDER,
    '</cert>',
    '<key>',
    KEY_PLACEHOLDER,
    '</key>',
    '<tls-crypt>',
    t.tlsCryptKey.trim(),
    '</tls-crypt>',
    '',
  );
  return out.join('\n');
}
