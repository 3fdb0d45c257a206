import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '@weft/core';
import { deriveMtu } from './mtu.js';
import {
  caDirFiles,
  hubBindsSpokes,
  hubSpokesChange,
  openvpnFiles,
  renderCcdEntry,
  renderOpenvpnConfig,
  renderSpokeCaBindings,
  renderTlsVerifyScript,
} from './openvpn.config.js';
import type {
  OpenvpnHubClientSpec,
  OpenvpnHubServerSpec,
  OpenvpnP2pSpec,
  OpenvpnSpec,
} from './openvpn.config.types.js';
import { openvpnLayout } from './openvpn.layout.js';
import {
  CA_1,
  CA_1_SHA256,
  CA_2,
  CA_2_INTERMEDIATE,
  CA_2_INTERMEDIATE_SHA256,
  CA_2_SHA256,
  CA_3,
  CA_3_SHA256,
  SPOKE_1_CERT,
} from './spoke-ca.fixtures.js';
import { generateTlsCryptKey } from './tls-crypt.key.js';

const pem = (label: string, body: string): string =>
  `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const CREDENTIALS = {
  caPem: pem('CERTIFICATE', 'Q0E='),
  certPem: pem('CERTIFICATE', 'Q0VSVA=='),
  keyPem: pem('EC PRIVATE KEY', 'S0VZ'),
};
const KEY = generateTlsCryptKey((n) => new Uint8Array(n).map((_, i) => i));
const RUN = '/run/weft/openvpn';

const P2P_LISTEN: OpenvpnP2pSpec = {
  kind: 'p2p',
  name: 'link-7',
  device: 'ovpn7',
  role: 'listen',
  credentials: CREDENTIALS,
  tlsCrypt: { kind: 'v1', key: KEY },
  dco: false,
  local: { address: '192.0.2.1', port: 1194 },
  remote: { host: '192.0.2.2', port: 1194 },
  tunnel: { local: '10.99.0.1', remote: '10.99.0.2' },
  peerCommonName: 'site-b',
  routes: ['10.2.0.0/16'],
};
const P2P_CONNECT: OpenvpnP2pSpec = {
  ...P2P_LISTEN,
  role: 'connect',
  local: undefined,
  remote: { host: 'hub.example.net', port: 1194 },
  tunnel: { local: '10.99.0.2', remote: '10.99.0.1' },
  peerCommonName: 'site-a',
  routes: [],
  underlayMtu: 1420,
  dco: true,
};
const HUB: OpenvpnHubServerSpec = {
  kind: 'hub-server',
  name: 'hub',
  device: 'ovpn-hub',
  credentials: CREDENTIALS,
  tlsCrypt: { kind: 'v1', key: KEY },
  dco: false,
  local: { port: 1194 },
  tunnel: { subnet: '10.200.0.0/24', serverAddress: '10.200.0.1' },
  spokes: [
    { commonName: 'spoke-1', tunnelAddress: '10.200.0.11', subnets: ['10.1.0.0/16'] },
    { commonName: 'spoke-2', tunnelAddress: '10.200.0.12', subnets: ['10.2.0.0/16', '172.16.2.0/24'] },
  ],
};
const SPOKE: OpenvpnHubClientSpec = {
  kind: 'hub-client',
  name: 'spoke-1',
  device: 'ovpn-hub',
  credentials: CREDENTIALS,
  tlsCrypt: { kind: 'v1', key: KEY },
  dco: false,
  remote: { host: '198.51.100.1', port: 1194 },
  hubCommonName: 'hub',
  routes: ['10.2.0.0/16', '172.16.2.0/24'],
  keepalive: { intervalSeconds: 5, timeoutSeconds: 30 },
};

const layoutOf = (spec: OpenvpnSpec) => openvpnLayout({ runtimeDir: RUN, name: spec.name });
const render = (spec: OpenvpnSpec): string => renderOpenvpnConfig(spec, layoutOf(spec));
const refuses = (spec: unknown, field: RegExp): void =>
  assert.throws(
    () => render(spec as OpenvpnSpec),
    (err: Error) => err instanceof InvalidArgumentError && field.test(err.message),
  );

const COMMON_TAIL = (
  dir: string,
  mtu: number,
  mssfix: number,
  dco = false,
  keepalive = '10 60',
): string[] => [
  `tun-mtu ${mtu}`,
  `mssfix ${mssfix} mtu`,
  'allow-compression no',
  `keepalive ${keepalive}`,
  'persist-tun',
  'persist-key',
  ...(dco ? [] : ['disable-dco']),
  `management ${dir}/management.sock unix`,
  'script-security 1',
  'verb 3',
];
const TLS = (dir: string, peer?: string): string[] => [
  `ca ${dir}/ca.pem`,
  `cert ${dir}/cert.pem`,
  `key ${dir}/key.pem`,
  `tls-crypt ${dir}/tls-crypt.key`,
  ...(peer ? [`verify-x509-name ${peer} name`] : []),
  'tls-version-min 1.2',
  'hand-window 30',
  'data-ciphers AES-256-GCM:CHACHA20-POLY1305',
];
const lines = (...l: string[]): string => `${l.join('\n')}\n`;

void describe('renderOpenvpnConfig (goldens)', () => {
  void it('p2p, listening end: binds, tls-server with dh none, pins the peer, routes via the tun', () => {
    const dir = `${RUN}/link-7`;
    assert.equal(
      render(P2P_LISTEN),
      lines(
        '# Weft openvpn instance link-7 (p2p, listen). Rendered by Weft: edits are overwritten.',
        'dev ovpn7',
        'dev-type tun',
        'proto udp4',
        'local 192.0.2.1',
        'lport 1194',
        'remote 192.0.2.2 1194',
        'float',
        'tls-server',
        'dh none',
        ...TLS(dir, 'site-b'),
        'ifconfig 10.99.0.1 10.99.0.2',
        ...COMMON_TAIL(dir, 1448, 1500),
        'route 10.2.0.0 255.255.0.0',
        'explicit-exit-notify 1',
      ),
    );
  });

  void it('p2p, connecting end: nobind, a DNS name as remote, DCO on, MTU from a 1420 underlay', () => {
    const dir = `${RUN}/link-7`;
    assert.equal(
      render(P2P_CONNECT),
      lines(
        '# Weft openvpn instance link-7 (p2p, connect). Rendered by Weft: edits are overwritten.',
        'dev ovpn7',
        'dev-type tun',
        'proto udp4',
        'nobind',
        'remote hub.example.net 1194',
        'float',
        'tls-client',
        ...TLS(dir, 'site-a'),
        'ifconfig 10.99.0.2 10.99.0.1',
        ...COMMON_TAIL(dir, 1368, 1420, true),
        'explicit-exit-notify 1',
      ),
    );
  });

  void it('hub server: no pool, ccd-exclusive, a route per spoke subnet, spoke-to-spoke via the kernel', () => {
    const dir = `${RUN}/hub`;
    assert.equal(
      render(HUB),
      lines(
        '# Weft openvpn instance hub (hub server). Rendered by Weft: edits are overwritten.',
        'mode server',
        'tls-server',
        'dh none',
        'dev ovpn-hub',
        'dev-type tun',
        'proto udp4',
        'lport 1194',
        ...TLS(dir),
        'topology subnet',
        'ifconfig 10.200.0.1 255.255.255.0',
        'route-gateway 10.200.0.1',
        'push "topology subnet"',
        'push "route-gateway 10.200.0.1"',
        `client-config-dir ${dir}/ccd`,
        'ccd-exclusive',
        'max-clients 2',
        ...COMMON_TAIL(dir, 1448, 1500),
        'route 10.1.0.0 255.255.0.0',
        'route 10.2.0.0 255.255.0.0',
        'route 172.16.2.0 255.255.255.0',
        'explicit-exit-notify 1',
      ),
    );
    assert.match(render({ ...HUB, spokeToSpoke: 'client-to-client' }), /^ccd-exclusive\nclient-to-client\n/m);
  });

  void it('hub server with caPath: capath instead of ca, room for every subnet address, one file per CA', () => {
    const dir = `${RUN}/hub`;
    const ca2 = pem('CERTIFICATE', 'Q0Ey');
    const spec: OpenvpnHubServerSpec = {
      ...HUB,
      caPath: true,
      credentials: { ...CREDENTIALS, caPem: `${CREDENTIALS.caPem}${ca2}${CREDENTIALS.caPem}` },
    };
    const text = render(spec);
    assert.match(text, new RegExp(`^capath ${dir}/ca\\.d$`, 'm'));
    assert.doesNotMatch(text, /^ca /m);
    assert.match(text, /^max-clients 253$/m);
    assert.match(render({ ...spec, maxClients: 10 }), /^max-clients 10$/m);
    const files = openvpnFiles(spec, layoutOf(spec));
    const cas = files.filter((f) => f.path.startsWith(`${dir}/ca.d/`));
    assert.equal(cas.length, 2, 'the same CA twice is one file');
    for (const f of cas) {
      assert.match(f.path, /\/ca\.d\/[0-9a-f]{32}\.pem$/);
      assert.equal(f.mode, 0o600);
      assert.equal((f.text.match(/BEGIN CERTIFICATE/g) ?? []).length, 1, 'openssl rehash skips bundles');
    }
    assert.ok(!files.some((f) => f.path === `${dir}/ca.pem`));
    assert.deepEqual(
      caDirFiles(ca2, layoutOf(spec)).map((f) => f.text),
      [ca2],
    );
    refuses({ ...HUB, caPath: 'yes' }, /caPath/);
  });

  void it('hubSpokesChange: spokes and their CAs differ → a diff; anything server-wide → undefined', () => {
    const ca3 = pem('CERTIFICATE', 'Q0Ez');
    const running: OpenvpnHubServerSpec = { ...HUB, caPath: true };
    const spoke3 = { commonName: 'spoke-3', tunnelAddress: '10.200.0.13', subnets: ['10.3.0.0/16'] };
    const next: OpenvpnHubServerSpec = {
      ...running,
      spokes: [{ ...HUB.spokes[0]!, subnets: ['10.1.0.0/16', '10.11.0.0/16'] }, spoke3],
      credentials: { ...CREDENTIALS, caPem: `${CREDENTIALS.caPem}${ca3}` },
    };
    assert.deepEqual(hubSpokesChange(running, next), {
      added: [spoke3],
      removed: [HUB.spokes[1]],
      changed: [next.spokes[0]],
      routesAdded: ['10.11.0.0/16', '10.3.0.0/16'],
      routesRemoved: ['10.2.0.0/16', '172.16.2.0/24'],
      caChanged: true,
      bindingsChanged: false,
    });
    assert.deepEqual(hubSpokesChange(running, { ...running }), {
      added: [],
      removed: [],
      changed: [],
      routesAdded: [],
      routesRemoved: [],
      caChanged: false,
      bindingsChanged: false,
    });
    const restarts: Partial<OpenvpnHubServerSpec>[] = [
      { local: { port: 1195 } },
      { tunnel: { subnet: '10.201.0.0/24', serverAddress: '10.201.0.1' } },
      { credentials: { ...CREDENTIALS, certPem: pem('CERTIFICATE', 'TkVX') } },
      { credentials: { ...CREDENTIALS, keyPem: pem('EC PRIVATE KEY', 'TkVX') } },
      { tlsCrypt: { kind: 'v1', key: generateTlsCryptKey((n) => new Uint8Array(n).fill(9)) } },
      { dataCiphers: ['CHACHA20-POLY1305'] },
      { keepalive: { intervalSeconds: 5, timeoutSeconds: 30 } },
      { underlayMtu: 1400 },
      { maxClients: 5 },
      { caPath: false },
    ];
    for (const r of restarts) {
      assert.equal(hubSpokesChange(running, { ...next, ...r }), undefined, JSON.stringify(Object.keys(r)));
    }
    assert.equal(hubSpokesChange(HUB, { ...HUB }), undefined, 'a ca file is read once: restart');
  });

  void it('hub client: client (pull), pins the hub, refuses a pushed default route', () => {
    const dir = `${RUN}/spoke-1`;
    assert.equal(
      render(SPOKE),
      lines(
        '# Weft openvpn instance spoke-1 (hub client). Rendered by Weft: edits are overwritten.',
        'client',
        'dev ovpn-hub',
        'dev-type tun',
        'proto udp4',
        'nobind',
        'remote 198.51.100.1 1194',
        'float',
        ...TLS(dir, 'hub'),
        'pull-filter ignore "redirect-gateway"',
        ...COMMON_TAIL(dir, 1448, 1500, false, '5 30'),
        'route 10.2.0.0 255.255.0.0',
        'route 172.16.2.0 255.255.255.0',
        'explicit-exit-notify 1',
      ),
    );
  });

  void it('tls-crypt-v2 on the hub and its spokes; IPv6 underlay', () => {
    const v2 = (who: string): string => pem(`OpenVPN tls-crypt-v2 ${who} key`, 'dGxzY3J5cHR2Mg==');
    const server = render({
      ...HUB,
      tlsCrypt: { kind: 'v2-server', key: v2('server') },
      underlayFamily: 'inet6',
    });
    assert.match(server, /^tls-crypt-v2 \/run\/weft\/openvpn\/hub\/tls-crypt.key$/m);
    assert.match(server, /^proto udp6$/m);
    assert.match(server, /^tun-mtu 1428$/m);
    assert.match(render({ ...SPOKE, tlsCrypt: { kind: 'v2-client', key: v2('client') } }), /^tls-crypt-v2 /m);
    refuses(
      { ...P2P_LISTEN, tlsCrypt: { kind: 'v2-server', key: v2('server') } },
      /a v2-server key belongs to a hub-server/,
    );
    refuses({ ...SPOKE, tlsCrypt: { kind: 'v2-client', key: v2('server') } }, /tlsCrypt.key is not PEM/);
  });

  void it('ccd entries: fixed address with the subnet mask, one iroute per subnet', () => {
    assert.equal(
      renderCcdEntry(HUB.spokes[1]!, HUB.tunnel.subnet),
      lines(
        '# spoke spoke-2. Rendered by Weft: edits are overwritten.',
        'ifconfig-push 10.200.0.12 255.255.255.0',
        'iroute 10.2.0.0 255.255.0.0',
        'iroute 172.16.2.0 255.255.255.0',
      ),
    );
  });
});

void describe('openvpnFiles', () => {
  void it('lists the config, credentials, key and ccd entries, all 0600, the config naming only paths', () => {
    const files = openvpnFiles(HUB, layoutOf(HUB));
    const dir = `${RUN}/hub`;
    assert.deepEqual(
      files.map((f) => [f.path, f.mode]),
      [
        [`${dir}/openvpn.conf`, 0o600],
        [`${dir}/ca.pem`, 0o600],
        [`${dir}/cert.pem`, 0o600],
        [`${dir}/key.pem`, 0o600],
        [`${dir}/tls-crypt.key`, 0o600],
        [`${dir}/ccd/spoke-1`, 0o600],
        [`${dir}/ccd/spoke-2`, 0o600],
      ],
    );
    assert.equal(files[3]?.text, CREDENTIALS.keyPem);
    assert.equal(files[4]?.text, KEY);
    const config = files[0]?.text ?? '';
    assert.doesNotMatch(config, /BEGIN|[0-9a-f]{32}/);
    assert.equal(files[5]?.text, renderCcdEntry(HUB.spokes[0]!, HUB.tunnel.subnet));
  });

  void it('p2p and client instances have no ccd entries', () => {
    assert.equal(openvpnFiles(P2P_LISTEN, layoutOf(P2P_LISTEN)).length, 5);
    assert.equal(openvpnFiles(SPOKE, layoutOf(SPOKE)).length, 5);
  });
});

void describe('spokes bound to their CAs (tls-verify)', () => {
  const dir = `${RUN}/hub`;
  const BOUND: OpenvpnHubServerSpec = {
    ...HUB,
    caPath: true,
    credentials: { ...CREDENTIALS, caPem: `${CA_1}${CA_2}${CA_3}` },
    spokes: [
      { ...HUB.spokes[0]!, caPem: CA_1 },
      { ...HUB.spokes[1]!, caPem: CA_2 },
    ],
  };

  void it('without caPem: no script, script-security 1, no binding files', () => {
    const text = render({ ...BOUND, spokes: HUB.spokes });
    assert.doesNotMatch(text, /tls-verify/);
    assert.match(text, /^script-security 1$/m);
    assert.equal(hubBindsSpokes({ ...BOUND, spokes: HUB.spokes }), false);
    const paths = openvpnFiles({ ...BOUND, spokes: HUB.spokes }, layoutOf(BOUND)).map((f) => f.path);
    assert.ok(!paths.includes(`${dir}/tls-verify.sh`) && !paths.includes(`${dir}/spoke-ca.bindings`));
  });

  void it('with caPem: tls-verify with script-security 2, the script 0700 and the allow-list 0600', () => {
    const text = render(BOUND);
    const options = text.split('\n');
    // The check sits with the other TLS options; script-security 2 replaces 1 (never both).
    assert.equal(
      options[options.indexOf(`tls-crypt ${dir}/tls-crypt.key`) + 1],
      `tls-verify ${dir}/tls-verify.sh`,
    );
    assert.match(text, /^script-security 2$/m);
    assert.doesNotMatch(text, /^script-security 1$/m);
    assert.doesNotMatch(text, /BEGIN|[0-9a-f]{2}:[0-9a-f]{2}:/, 'the config names paths only');
    const files = openvpnFiles(BOUND, layoutOf(BOUND));
    const byPath = new Map(files.map((f) => [f.path, f]));
    assert.equal(byPath.get(`${dir}/tls-verify.sh`)?.mode, 0o700);
    assert.equal(byPath.get(`${dir}/spoke-ca.bindings`)?.mode, 0o600);
    assert.ok(files.filter((f) => f.mode === 0o700).length === 1, 'the script is the only executable');
    assert.equal(byPath.get(`${dir}/tls-verify.sh`)?.text, renderTlsVerifyScript(layoutOf(BOUND)));
    assert.equal(
      byPath.get(`${dir}/spoke-ca.bindings`)?.text,
      lines(
        '# hub hub: common name, SHA-256 of the CA that must issue it. Rendered by Weft: edits are overwritten.',
        `spoke-1 ${CA_1_SHA256}`,
        `spoke-2 ${CA_2_SHA256}`,
      ),
    );
    // A ca file instead of capath binds the same way.
    assert.match(render({ ...BOUND, caPath: false }), /^tls-verify /m);
  });

  void it('the script: POSIX sh, its list path quoted, the variables openvpn 2.6.14 sets, no eval', () => {
    const script = renderTlsVerifyScript(layoutOf(BOUND));
    assert.ok(script.startsWith('#!/bin/sh\n'));
    assert.match(script, new RegExp(`^allow='${dir}/spoke-ca\\.bindings'$`, 'm'));
    assert.match(script, /^\[ "\$1" = 0 \] \|\| exit 0$/m);
    assert.match(script, /^cn="\$\{common_name-\}"$/m);
    assert.match(script, /^issuer="\$\{tls_digest_sha256_1-\}"$/m);
    assert.match(script, /X509_0_CN_1\+set/);
    assert.match(script, /^done <"\$allow"$/m);
    assert.doesNotMatch(script, /\beval\b|`|\$\(/, 'nothing is evaluated or substituted');
    // Every expansion of the certificate's values is quoted.
    assert.doesNotMatch(script, /[^"{]\$(?:cn|issuer|common_name|tls_digest)/);
    assert.match(
      script,
      /printf 'weft: CN "%s" is not issued by the CA bound to it \(issuer sha256 %s\)\\n' "\$cn" "\$issuer" >&2/,
    );
  });

  void it('a chain binds the CA at its bottom; a bundle of two unrelated CAs (a rollover) binds both', () => {
    const chain: OpenvpnHubServerSpec = {
      ...BOUND,
      credentials: { ...CREDENTIALS, caPem: `${CA_1}${CA_2}${CA_2_INTERMEDIATE}${CA_3}` },
      spokes: [
        { ...HUB.spokes[0]!, caPem: `${CA_1}\n${CA_3}` },
        { ...HUB.spokes[1]!, caPem: `${CA_2}${CA_2_INTERMEDIATE}` },
      ],
    };
    assert.deepEqual(renderSpokeCaBindings(chain).split('\n').slice(1), [
      `spoke-1 ${CA_1_SHA256}`,
      `spoke-1 ${CA_3_SHA256}`,
      `spoke-2 ${CA_2_INTERMEDIATE_SHA256}`,
      '',
    ]);
  });

  void it('refuses a half-bound hub, a caPem that is no CA, and a bound CA the hub does not trust', () => {
    refuses(
      { ...BOUND, spokes: [BOUND.spokes[0], HUB.spokes[1]] },
      /^spokes\[1\]\.caPem: spoke spoke-2 has no CA bound to it while other spokes of this hub have one/,
    );
    refuses(
      { ...BOUND, spokes: [{ ...BOUND.spokes[0]!, caPem: 'CA' }, BOUND.spokes[1]] },
      /^spokes\[0\]\.caPem is not PEM/,
    );
    refuses(
      { ...BOUND, spokes: [{ ...BOUND.spokes[0]!, caPem: pem('CERTIFICATE', 'Q0E=') }, BOUND.spokes[1]] },
      /^spokes\[0\]\.caPem: certificate 1 does not parse/,
    );
    refuses(
      {
        ...BOUND,
        credentials: { ...BOUND.credentials, caPem: `${CA_1}${CA_2}${SPOKE_1_CERT}` },
        spokes: [{ ...BOUND.spokes[0]!, caPem: SPOKE_1_CERT }, BOUND.spokes[1]],
      },
      /^spokes\[0\]\.caPem: CN=spoke-1 is not a CA certificate/,
    );
    refuses(
      { ...BOUND, credentials: { ...BOUND.credentials, caPem: CA_1 } },
      /^spokes\[1\]\.caPem: the CA CN=weft-unit-ca-2 bound to spoke spoke-2 is not in credentials\.caPem/,
    );
    // A bound hub parses the trusted CAs too.
    refuses({ ...BOUND, credentials: CREDENTIALS }, /^credentials\.caPem: certificate 1 does not parse/);
  });

  void it('hubSpokesChange: a new CA for a spoke changes it (killed, re-checked); the same CA reformatted does not', () => {
    const next: OpenvpnHubServerSpec = {
      ...BOUND,
      spokes: [BOUND.spokes[0]!, { ...BOUND.spokes[1]!, caPem: CA_3 }],
    };
    assert.deepEqual(hubSpokesChange(BOUND, next), {
      added: [],
      removed: [],
      changed: [next.spokes[1]],
      routesAdded: [],
      routesRemoved: [],
      caChanged: false,
      bindingsChanged: true,
    });
    const reformatted: OpenvpnHubServerSpec = {
      ...BOUND,
      spokes: [{ ...BOUND.spokes[0]!, caPem: `\n${CA_1.replace(/\n/g, '\r\n')}\n` }, BOUND.spokes[1]!],
    };
    assert.deepEqual(hubSpokesChange(BOUND, reformatted)?.changed, []);
    assert.equal(hubSpokesChange(BOUND, reformatted)?.bindingsChanged, false);
    const spoke3 = { commonName: 'spoke-3', tunnelAddress: '10.200.0.13', subnets: [], caPem: CA_3 };
    const added = hubSpokesChange(BOUND, { ...BOUND, spokes: [...BOUND.spokes, spoke3] });
    assert.deepEqual([added?.added, added?.changed, added?.bindingsChanged], [[spoke3], [], true]);
    const removed = hubSpokesChange(BOUND, { ...BOUND, spokes: [BOUND.spokes[0]!] });
    assert.deepEqual([removed?.removed, removed?.bindingsChanged], [[BOUND.spokes[1]], true]);
    // tls-verify is read at start: binding or unbinding the hub is a restart.
    assert.equal(hubSpokesChange(BOUND, { ...BOUND, spokes: HUB.spokes }), undefined);
    assert.equal(hubSpokesChange({ ...BOUND, spokes: HUB.spokes }, BOUND), undefined);
    // A spec the renderer refuses is no change to apply.
    assert.equal(hubSpokesChange(BOUND, { ...BOUND, spokes: [BOUND.spokes[0]!, HUB.spokes[1]!] }), undefined);
  });
});

void describe('validation: nothing unchecked reaches the config', () => {
  const injections = ['x\nup /bin/sh', 'x y', 'x"', "x'", 'x#', 'x;y', 'x\\y', ''];

  void it('refuses injection in every text field', () => {
    for (const bad of injections) {
      refuses({ ...P2P_LISTEN, name: bad }, /^name:/);
      refuses({ ...P2P_LISTEN, device: bad }, /^device:/);
      refuses({ ...P2P_LISTEN, peerCommonName: bad }, /^peerCommonName:/);
      refuses({ ...P2P_CONNECT, remote: { host: bad, port: 1194 } }, /^remote.host:/);
      refuses({ ...SPOKE, hubCommonName: bad }, /^hubCommonName:/);
      refuses({ ...P2P_LISTEN, local: { address: bad, port: 1 } }, /^local.address:/);
      refuses({ ...P2P_LISTEN, tunnel: { local: bad, remote: '10.99.0.2' } }, /^tunnel.local:/);
      refuses({ ...P2P_LISTEN, routes: [bad] }, /^routes:/);
      refuses(
        { ...HUB, spokes: [{ commonName: bad, tunnelAddress: '10.200.0.5', subnets: [] }] },
        /commonName/,
      );
      refuses(
        { ...HUB, spokes: [{ commonName: 'a', tunnelAddress: '10.200.0.5', subnets: [bad] }] },
        /subnets/,
      );
    }
  });

  void it('refuses a common name that would climb out of the ccd dir', () => {
    refuses(
      { ...HUB, spokes: [{ commonName: '../x', tunnelAddress: '10.200.0.5', subnets: [] }] },
      /commonName/,
    );
    refuses(
      { ...HUB, spokes: [{ commonName: '.x', tunnelAddress: '10.200.0.5', subnets: [] }] },
      /commonName/,
    );
  });

  void it('paths come from the safe set; a management socket path fits sun_path', () => {
    assert.throws(() => openvpnLayout({ runtimeDir: '/run/a b', name: 'x' }), /runtimeDir/);
    assert.throws(() => openvpnLayout({ runtimeDir: 'relative', name: 'x' }), /runtimeDir/);
    assert.throws(() => openvpnLayout({ runtimeDir: '/run/../etc', name: 'x' }), /runtimeDir/);
    assert.throws(() => openvpnLayout({ runtimeDir: `/run/${'d'.repeat(100)}`, name: 'x' }), /UNIX socket/);
    assert.throws(
      () => renderOpenvpnConfig(P2P_LISTEN, { ...layoutOf(P2P_LISTEN), key: '/run/x\nup /bin/sh' }),
      /layout.key/,
    );
  });

  void it('ports, MTU, keepalive, hand-window and verbosity in range', () => {
    for (const port of [0, 65536, 1.5, Number.NaN]) {
      refuses({ ...P2P_LISTEN, local: { port } }, /^local.port:/);
      refuses({ ...SPOKE, remote: { host: '192.0.2.1', port } }, /^remote.port:/);
    }
    for (const underlayMtu of [1279, 9001, 1400.5]) refuses({ ...P2P_LISTEN, underlayMtu }, /^underlayMtu:/);
    refuses({ ...P2P_LISTEN, keepalive: { intervalSeconds: 10, timeoutSeconds: 15 } }, /twice/);
    refuses({ ...P2P_LISTEN, keepalive: { intervalSeconds: 0, timeoutSeconds: 15 } }, /intervalSeconds/);
    refuses({ ...P2P_LISTEN, handWindowSeconds: 1 }, /handWindowSeconds/);
    refuses({ ...P2P_LISTEN, verbosity: 7 }, /verbosity/);
  });

  void it('refuses what openvpn would refuse or misroute', () => {
    refuses({ ...P2P_LISTEN, local: {} }, /a listening end needs a port/);
    refuses({ ...P2P_CONNECT, remote: undefined }, /needs the address of its peer/);
    refuses({ ...P2P_LISTEN, tunnel: { local: '10.99.0.1', remote: '10.99.0.1' } }, /different addresses/);
    refuses({ ...P2P_LISTEN, tunnel: { local: '2001:db8::1', remote: '10.99.0.1' } }, /not an IPv4/);
    refuses({ ...P2P_LISTEN, routes: ['10.2.0.1/16'] }, /host bits/);
    refuses({ ...P2P_LISTEN, routes: ['2001:db8::/32'] }, /not an IPv4 prefix/);
    refuses({ ...P2P_LISTEN, dataCiphers: ['BF-CBC'] }, /dataCiphers: BF-CBC/);
    refuses({ ...P2P_LISTEN, dataCiphers: [] }, /at least one/);
    refuses({ ...HUB, tunnel: { subnet: '10.200.0.0/24', serverAddress: '10.201.0.1' } }, /outside/);
    refuses({ ...HUB, tunnel: { subnet: '10.200.0.0/31', serverAddress: '10.200.0.1' } }, /at least a \/30/);
    const s = HUB.spokes[0]!;
    refuses({ ...HUB, spokes: [s, { ...s, tunnelAddress: '10.200.0.99', subnets: [] }] }, /used twice/);
    refuses({ ...HUB, spokes: [s, { ...s, commonName: 'x', subnets: [] }] }, /is taken/);
    refuses({ ...HUB, spokes: [{ ...s, tunnelAddress: '10.200.0.1' }] }, /is taken/);
    refuses({ ...HUB, spokes: [s, { ...s, commonName: 'x', tunnelAddress: '10.200.0.99' }] }, /two spokes/);
    refuses({ ...HUB, spokes: [{ ...s, tunnelAddress: '10.9.0.1' }] }, /outside the tunnel subnet/);
    refuses({ ...HUB, spokeToSpoke: 'bridge' }, /spokeToSpoke/);
  });

  void it('refuses credentials and keys that are not what they claim', () => {
    refuses({ ...P2P_LISTEN, credentials: { ...CREDENTIALS, caPem: 'hello' } }, /credentials.caPem/);
    refuses(
      { ...P2P_LISTEN, credentials: { ...CREDENTIALS, certPem: CREDENTIALS.keyPem } },
      /credentials.certPem/,
    );
    refuses(
      { ...P2P_LISTEN, credentials: { ...CREDENTIALS, keyPem: `${CREDENTIALS.keyPem}\nremote evil 1` } },
      /credentials.keyPem/,
    );
    refuses({ ...P2P_LISTEN, tlsCrypt: { kind: 'v1', key: KEY.replace(/[0-9a-f]{32}\n/, '') } }, /240 bytes/);
  });
});

void describe('deriveMtu', () => {
  void it('fills the underlay exactly: outer IP + UDP + 24 bytes of AEAD data framing', () => {
    assert.deepEqual(deriveMtu(), { tunMtu: 1448, mssfixMtu: 1500 });
    assert.deepEqual(deriveMtu(1500, 'inet6'), { tunMtu: 1428, mssfixMtu: 1500 });
    assert.deepEqual(deriveMtu(9000), { tunMtu: 8948, mssfixMtu: 9000 });
  });
});
