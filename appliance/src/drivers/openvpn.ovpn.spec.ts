import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConflictError } from '../common/errors.js';
import { normalize, type Link } from '../desired-state/document.js';
import { TEST_CA_PEM } from '../testing/certificates.js';
import { isOpenvpn, type OpenvpnLink } from './openvpn.link-spec.js';
import { openvpnOvpn, OVPN_PLACEHOLDERS } from './openvpn.ovpn.js';

const KEY = [
  '-----BEGIN OpenVPN Static key V1-----',
  ...Array.from({ length: 16 }, () => 'ab'.repeat(16)),
  '-----END OpenVPN Static key V1-----',
  '',
].join('\n');
const OWN_CA = '-----BEGIN CERTIFICATE-----\nT1dOLUNB\n-----END CERTIFICATE-----\n';

const doc = (links: Link[]) =>
  normalize({
    appliance: {
      name: 'site-a',
      public_endpoint: '203.0.113.10',
      local_subnets: ['10.1.0.0/24', '10.9.0.0/16', 'fd00:1::/64'],
    },
    links,
  });
const only = (l: Link): OpenvpnLink => {
  assert.ok(isOpenvpn(l));
  return l;
};
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

const header = (link: string, cn: string, byDefault = ''): string[] => [
  `# OpenVPN peer configuration for the link "${link}" of Weft appliance "site-a" (203.0.113.10).`,
  '# For a third-party device running openvpn 2.6: openvpn --config <this file>.',
  '#',
  '# Before use, fill in what only this device has (Weft never issues keys for other devices):',
  '#   <cert>  this device’s own certificate (PEM), issued by the CA that is the link’s remote_ca on',
  `#           site-a, with the common name (CN) "${cn}" (the link’s remote_name${byDefault});`,
  '#           intermediate CA certificates, if any, follow it in the same block.',
  '#   <key>   this device’s private key (PEM) for that certificate. It never leaves the device.',
  `# On site-a, the link "${link}" must then have remote_ca = the CA that issued the`,
  `# device’s certificate (PEM), and remote_name = the device certificate’s common name (PUT /links/${link}).`,
  '# <ca> (this appliance’s CA) and <tls-crypt> (the link’s key, secret: keep this file 0600) are filled in.',
  '# Everything else must stay as it is: both ends compare dev-type, tun-mtu and compression, and a',
  `# change on one end only breaks the tunnel (GET /links/${link}/status names it).`,
];
const tail = (mtu: number, mssfix: number, keepalive = '10 60'): string[] => [
  `tun-mtu ${mtu}`,
  `mssfix ${mssfix} mtu`,
  '# No compression, on purpose (VORACLE); the other end refuses it.',
  'allow-compression no',
  `keepalive ${keepalive}`,
  'persist-tun',
  'persist-key',
  '# Where the kernel has no ovpn-dco module, openvpn falls back by itself; to say so explicitly:',
  '# disable-dco',
  'explicit-exit-notify 1',
  'verb 3',
  '<ca>',
  OWN_CA.trim(),
  '</ca>',
  '<cert>',
  OVPN_PLACEHOLDERS.cert,
  '</cert>',
  '<key>',
  OVPN_PLACEHOLDERS.key,
  '</key>',
  '<tls-crypt>',
  KEY.trim(),
  '</tls-crypt>',
];
const routes = [
  '# site-a’s subnets, through the tunnel',
  'route 10.1.0.0 255.255.255.0',
  'route 10.9.0.0 255.255.0.0',
  '# not carried by this IPv4 tunnel: fd00:1::/64',
];

describe('openvpnOvpn (goldens)', () => {
  it('this side is the TLS server: the device dials its public_endpoint and port, and takes the second address', () => {
    const link = only({
      name: 'dev-b',
      type: 'openvpn',
      remote_subnets: ['10.2.0.0/24'],
      openvpn: {
        remote_ca: TEST_CA_PEM,
        remote_name: 'device-b',
        tls_crypt_key: KEY,
        tunnel_network: '169.254.192.4/30',
        keepalive_interval: 2,
        keepalive_timeout: 10,
      },
    });
    assert.equal(
      openvpnOvpn({ doc: doc([link]), link, caCertificate: OWN_CA, listenPort: 1195, underlayMtu: 1500 }),
      lines(
        ...header('dev-b', 'device-b'),
        'dev tun',
        'proto udp4',
        '# A fixed source port: openvpn 2.6 in p2p mode answers a restarted peer at its old address, so the',
        '# device must come back from the same one (use another port if this one is taken on the device).',
        'lport 1195',
        'remote 203.0.113.10 1195',
        'float',
        'tls-client',
        'verify-x509-name 203.0.113.10 name',
        'tls-version-min 1.2',
        'data-ciphers AES-256-GCM:CHACHA20-POLY1305',
        'ifconfig 169.254.192.6 169.254.192.5',
        ...routes,
        ...tail(1448, 1500, '2 10'),
      ),
    );
  });

  it('this side dials the device: the device listens on the port dialled, with the first address; MTU from a 1420 underlay', () => {
    const link = only({
      name: 'to-dev',
      type: 'openvpn',
      remote_endpoint: '198.51.100.7:11940',
      remote_subnets: ['10.2.0.0/24'],
      openvpn: {
        remote_ca: TEST_CA_PEM,
        tls_crypt_key: KEY,
        tunnel_network: '169.254.192.0/30',
        data_ciphers: ['CHACHA20-POLY1305'],
      },
    });
    assert.equal(
      openvpnOvpn({
        doc: doc([link]),
        link,
        caCertificate: OWN_CA,
        listenPort: undefined,
        underlayMtu: 1420,
      }),
      lines(
        ...header('to-dev', '198.51.100.7', ', by default its remote_endpoint host'),
        'dev tun',
        'proto udp4',
        'lport 11940',
        'float',
        'tls-server',
        'dh none',
        'verify-x509-name 203.0.113.10 name',
        'tls-version-min 1.2',
        'data-ciphers CHACHA20-POLY1305',
        'ifconfig 169.254.192.1 169.254.192.2',
        ...routes,
        ...tail(1368, 1420),
      ),
    );
  });

  it('NETMAP: the device routes this site’s mapped net and is told to present its LAN as netmap.remote', () => {
    const link = only({
      name: 'dev-b',
      type: 'openvpn',
      remote_subnets: ['10.1.0.0/24'],
      local_subnets: ['10.1.0.0/24'],
      netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
      openvpn: {
        remote_ca: TEST_CA_PEM,
        remote_name: 'device-b',
        tls_crypt_key: KEY,
        tunnel_network: '169.254.192.4/30',
      },
    });
    const text = openvpnOvpn({
      doc: doc([link]),
      link,
      caCertificate: OWN_CA,
      listenPort: 1195,
      underlayMtu: 1500,
    });
    assert.match(text, /# site-a’s subnets, through the tunnel\nroute 10\.11\.0\.0 255\.255\.255\.0\n/);
    assert.doesNotMatch(text, /route 10\.1\.0\.0/);
    assert.match(
      text,
      /\n# NETMAP: this device must present its LAN \(10\.1\.0\.0\/24\) as 10\.12\.0\.0\/24/,
    );
  });

  it('refuses what cannot be exported yet, and hub links', () => {
    const server = only({
      name: 'dev-b',
      type: 'openvpn',
      remote_subnets: ['10.2.0.0/24'],
      openvpn: {
        remote_ca: TEST_CA_PEM,
        remote_name: 'device-b',
        tls_crypt_key: KEY,
        tunnel_network: '169.254.192.4/30',
      },
    });
    const d = doc([server]);
    const input = { doc: d, link: server, caCertificate: OWN_CA, listenPort: 1195, underlayMtu: 1500 };
    assert.throws(() => openvpnOvpn({ ...input, listenPort: undefined }), ConflictError);
    assert.throws(() => openvpnOvpn({ ...input, caCertificate: undefined }), ConflictError);
    const hub = only({ ...server, openvpn: { ...server.openvpn, topology: 'hub' } });
    assert.throws(() => openvpnOvpn({ ...input, link: hub }), /p2p links/);
  });
});
