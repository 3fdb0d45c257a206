// The pure renderer: a typed spec and a layout in, openvpn 2.6 config text out. Options are written in a
// fixed order (goldens stay stable), every value is validated first (openvpn.validate.ts), and the
// config names files only: PEM text and keys go to the 0600 files openvpnFiles() lists.
//
// Defaults and why (README): UDP; TLS with the appliance CA and the peer pinned by common name; tls-crypt
// always (an unauthenticated packet never reaches the TLS stack); AEAD data ciphers only, no fallback;
// no compression (VORACLE, and DCO cannot do it); keepalive → ping-restart; float; tun-mtu/mssfix from
// the underlay MTU; `disable-dco` unless the kernel has ovpn-dco; the management interface on a UNIX
// socket in the instance's private dir; foreground (never `daemon`); built-in scripts only, but for the
// tls-verify script of a hub whose spokes are bound to their CAs.
import { createHash, X509Certificate } from 'node:crypto';
import { InvalidArgumentError } from '@weft/core';
import { deriveMtu } from './mtu.js';
import {
  DEFAULT_DATA_CIPHERS,
  OPENVPN_DATA_CIPHERS,
  type OpenvpnCommonSpec,
  type OpenvpnFile,
  type OpenvpnHubClientSpec,
  type OpenvpnHubServerSpec,
  type OpenvpnHubSpokesChange,
  type OpenvpnLayout,
  type OpenvpnP2pSpec,
  type OpenvpnSpec,
  type OpenvpnSpoke,
} from './openvpn.config.types.js';
import { checkLayout } from './openvpn.layout.js';
import { tlsCryptKeyProblem } from './tls-crypt.key.js';
import {
  checkAddress,
  checkCommonName,
  checkDevice,
  checkHost,
  checkInstanceName,
  checkInteger,
  checkPem,
  checkPort,
  ipv4Contains,
  ipv4Prefix,
} from './openvpn.validate.js';

export const DEFAULT_KEEPALIVE = { intervalSeconds: 10, timeoutSeconds: 60 } as const;
export const DEFAULT_HAND_WINDOW_SECONDS = 30;
export const DEFAULT_VERBOSITY = 3;

/** Renders the config file of one instance. Throws InvalidArgumentError naming the first bad field. */
export function renderOpenvpnConfig(spec: OpenvpnSpec, layout: OpenvpnLayout): string {
  validateSpec(spec);
  checkLayout(layout);
  const out = new Lines();
  const role =
    spec.kind === 'p2p' ? `p2p, ${spec.role}` : spec.kind === 'hub-server' ? 'hub server' : 'hub client';
  out.comment(`Weft openvpn instance ${spec.name} (${role}). Rendered by Weft: edits are overwritten.`);
  switch (spec.kind) {
    case 'p2p':
      renderP2p(out, spec, layout);
      break;
    case 'hub-server':
      renderHubServer(out, spec, layout);
      break;
    case 'hub-client':
      renderHubClient(out, spec, layout);
      break;
  }
  return out.text();
}

/** The client-config-dir entry of one spoke: its fixed tunnel address and the subnets behind it. */
export function renderCcdEntry(spoke: OpenvpnSpoke, tunnelSubnet: string): string {
  const subnet = ipv4Prefix(tunnelSubnet, 'tunnel.subnet');
  checkSpoke(spoke, 'spoke', subnet);
  const out = new Lines();
  out.comment(`spoke ${spoke.commonName}. Rendered by Weft: edits are overwritten.`);
  out.option('ifconfig-push', spoke.tunnelAddress, subnet.netmask);
  for (const s of spoke.subnets) {
    const p = ipv4Prefix(s, 'spoke.subnets');
    out.option('iroute', p.network, p.netmask);
  }
  return out.text();
}

/**
 * Every file the instance needs before openvpn starts, all mode 0600: the config, the credentials, the
 * tls-crypt key and (hub server) one ccd entry per spoke, named by its common name.
 */
export function openvpnFiles(spec: OpenvpnSpec, layout: OpenvpnLayout): OpenvpnFile[] {
  const file = (path: string, text: string, mode: 0o600 | 0o700 = 0o600): OpenvpnFile => ({
    path,
    text: text.endsWith('\n') ? text : `${text}\n`,
    mode,
  });
  const capath = spec.kind === 'hub-server' && spec.caPath === true;
  const files = [
    file(layout.config, renderOpenvpnConfig(spec, layout)),
    ...(capath ? caDirFiles(spec.credentials.caPem, layout) : [file(layout.ca, spec.credentials.caPem)]),
    file(layout.cert, spec.credentials.certPem),
    file(layout.key, spec.credentials.keyPem),
    file(layout.tlsCrypt, spec.tlsCrypt.key),
  ];
  if (spec.kind === 'hub-server') {
    for (const spoke of spec.spokes) {
      files.push(file(`${layout.ccdDir}/${spoke.commonName}`, renderCcdEntry(spoke, spec.tunnel.subnet)));
    }
    if (hubBindsSpokes(spec)) {
      // openvpn execs the script (it must be executable: 0700, ours alone); the list is only read.
      files.push(file(layout.tlsVerifyScript, renderTlsVerifyScript(layout), 0o700));
      files.push(file(layout.spokeCaBindings, renderSpokeCaBindings(spec)));
    }
  }
  return files;
}

// --- spokes bound to their CAs -------------------------------------------------------------------------------
//
// A hub trusts every spoke's CA and picks a spoke's ccd entry by the common name openvpn takes from its
// certificate. Any trusted CA could therefore issue a certificate with another spoke's name and get that
// spoke's tunnel address and iroutes. A `tls-verify` script closes that: at depth 0 it accepts a
// certificate only when (common name, SHA-256 fingerprint of the certificate that issued it) is in the
// allow-list. What openvpn 2.6.14 gives the script (dumped with `env` from a real server, README):
//   argv `<script> <depth> <subject>`, called once per certificate, the top of the chain first; at depth
//   0 the environment holds `common_name`, `X509_0_CN`, `tls_id_0`, `tls_digest_0`,
//   `tls_digest_sha256_0`, `tls_serial_0`, `tls_serial_hex_0` and the same `_1` (`_2`…) variables of
//   the certificates above it, set by the calls before (so `tls_digest_sha256_1` is the leaf's issuer),
//   plus `untrusted_ip`, `untrusted_port`, `script_type=tls-verify`; no PATH.
//   Fingerprints are lower-case hex pairs joined by ':' (`b5:84:ff:…`, 32 pairs).
//   A subject with two CNs (`CN=spoke-2, CN=spoke-1`) gives `X509_0_CN=spoke-2`, `X509_0_CN_1=spoke-1`
//   and `common_name=spoke-1`: openvpn names the session (ccd entry, `kill`) by the LAST CN. So the script
//   binds `common_name`, and refuses a certificate with more than one CN outright.

/** Whether a hub server checks its spokes' issuers (any spoke has caPem; validateSpec makes it all). */
export function hubBindsSpokes(spec: OpenvpnHubServerSpec): boolean {
  return spec.spokes.some((s) => s.caPem !== undefined);
}

/** The certificates of a PEM bundle, parsed; throws InvalidArgumentError naming `what`. */
function parseCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (cause) {
      throw new InvalidArgumentError(
        `${what}: certificate ${i + 1} does not parse (${(cause as Error).message})`,
        {
          cause,
        },
      );
    }
  });
}

/**
 * The CAs of a spoke's caPem that may issue its certificate: those that issued no other certificate of
 * the bundle (an intermediate, not the root above it; with two unrelated CAs, a rollover, both).
 */
function issuingCas(pem: string, what: string): X509Certificate[] {
  const certs = parseCertificates(pem, what);
  return certs.filter(
    (c) =>
      !certs.some(
        (other) => other !== c && other.fingerprint256 !== c.fingerprint256 && other.checkIssued(c),
      ),
  );
}

/** A fingerprint as openvpn 2.6.14 sets `tls_digest_sha256_<n>`: lower-case hex pairs joined by ':'. */
export function openvpnFingerprint(cert: X509Certificate): string {
  return cert.fingerprint256.toLowerCase();
}

/** The allow-list's pairs, in spoke order (a spoke with two bound CAs has two lines). */
function spokeBindings(spec: OpenvpnHubServerSpec): { commonName: string; fingerprint: string }[] {
  return spec.spokes.flatMap((s, i) =>
    s.caPem === undefined
      ? []
      : [...new Set(issuingCas(s.caPem, `spokes[${i}].caPem`).map(openvpnFingerprint))].map(
          (fingerprint) => ({
            commonName: s.commonName,
            fingerprint,
          }),
        ),
  );
}

/** The tls-verify script's allow-list: one `<common name> <issuer sha256>` line per bound CA of a spoke. */
export function renderSpokeCaBindings(spec: OpenvpnHubServerSpec): string {
  validateSpec(spec);
  const out = new Lines();
  out.comment(
    `hub ${spec.name}: common name, SHA-256 of the CA that must issue it. Rendered by Weft: edits are overwritten.`,
  );
  for (const b of spokeBindings(spec)) out.option(b.commonName, b.fingerprint);
  return out.text();
}

/**
 * The `tls-verify` script (POSIX sh, shell built-ins only: openvpn passes no PATH). Its one input from
 * outside is the certificate, through openvpn's environment: the common name is checked against the
 * alphabet checkCommonName allows before it is used, the fingerprint against hex and ':', every
 * expansion is quoted, the list is read with `read -r` and compared with `=`, nothing is evaluated. A
 * refusal writes one line to stderr (openvpn's log file) and exits 1; openvpn then logs
 * `VERIFY SCRIPT ERROR: depth=0, <subject>` (also over management) and ends the handshake.
 */
export function renderTlsVerifyScript(layout: OpenvpnLayout): string {
  checkLayout(layout);
  // Paths come from checkPath's alphabet: no quote can end the single-quoted string early.
  return `#!/bin/sh
# Weft: a hub spoke's certificate must be issued by the CA bound to its common name. Rendered by Weft:
# edits are overwritten. openvpn runs it as: <this> <depth> <subject>, once per certificate of the chain.
allow='${layout.spokeCaBindings}'
# Above the leaf, OpenSSL has verified the chain already; the binding is about the leaf's issuer.
[ "$1" = 0 ] || exit 0
cn="\${common_name-}"
issuer="\${tls_digest_sha256_1-}"
# The alphabet of checkCommonName: what no spoke can be named is refused before it is used.
case "$cn" in
'' | [!A-Za-z0-9]* | *[!A-Za-z0-9._@-]*) cn= ;;
esac
if [ -z "$cn" ] || [ "\${#cn}" -gt 64 ]; then
  echo 'weft: refused a certificate whose common name is not a spoke name' >&2
  exit 1
fi
# openvpn names the session by the last CN; one certificate, one name.
if [ -n "\${X509_0_CN_1+set}" ] || [ "\${X509_0_CN-}" != "$cn" ]; then
  printf 'weft: CN "%s" refused: its certificate has more than one common name\\n' "$cn" >&2
  exit 1
fi
case "$issuer" in
'' | *[!0-9a-f:]*)
  printf 'weft: CN "%s" refused: openvpn gave no issuer fingerprint (tls_digest_sha256_1)\\n' "$cn" >&2
  exit 1
  ;;
esac
bound=
while read -r name fingerprint; do
  [ "$name" = "$cn" ] || continue
  [ "$fingerprint" = "$issuer" ] && exit 0
  bound=yes
done <"$allow"
if [ -n "$bound" ]; then
  printf 'weft: CN "%s" is not issued by the CA bound to it (issuer sha256 %s)\\n' "$cn" "$issuer" >&2
else
  printf 'weft: CN "%s" has no CA bound to it (issuer sha256 %s)\\n' "$cn" "$issuer" >&2
fi
exit 1
`;
}

/**
 * The capath directory's files: one per CA certificate (`openssl rehash` skips a file holding several),
 * named by its fingerprint so the same CA brought by two spokes is one file. The hash links are made by
 * `openssl rehash` after writing (the supervisor); rehash reads only `*.pem`-like names.
 */
export function caDirFiles(caPem: string, layout: OpenvpnLayout): OpenvpnFile[] {
  return [...caCertificates(caPem)].map(([fingerprint, block]) => ({
    path: `${layout.caDir}/${fingerprint}.pem`,
    text: `${block}\n`,
    mode: 0o600,
  }));
}

/** A certificate's subject; the fingerprint-free block itself when it does not parse (never equal). */
function subjectOf(block: string): string {
  try {
    return new X509Certificate(block).subject;
  } catch {
    return block;
  }
}

/** Each certificate of a PEM bundle, by its fingerprint (a CA brought by two spokes counts once). */
function caCertificates(caPem: string): Map<string, string> {
  const blocks = caPem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  return new Map(
    blocks.map((b) => [createHash('sha256').update(b.replace(/\s+/g, '')).digest('hex').slice(0, 32), b]),
  );
}

/**
 * The difference between the spec a hub server runs and the next one, when it can be applied to the
 * running process; undefined when a server-wide setting differs (port, subnet, our certificate and key,
 * tls-crypt, ciphers, keepalive, MTU, DCO, max-clients…): only a restart applies those. Both specs must use
 * `caPath` (a `ca` file is read once, at start).
 */
export function hubSpokesChange(
  running: OpenvpnHubServerSpec,
  next: OpenvpnHubServerSpec,
): OpenvpnHubSpokesChange | undefined {
  if (running.caPath !== true || next.caPath !== true) return undefined;
  try {
    validateSpec(running);
    validateSpec(next);
  } catch {
    // Not a spec the running openvpn could take (the restart path reports why).
    return undefined;
  }
  const serverWide = (s: OpenvpnHubServerSpec): string => {
    const { spokes: _spokes, credentials, ...rest } = s;
    // max-clients is server-wide; its caPath default does not depend on the spokes.
    return JSON.stringify({ ...rest, certPem: credentials.certPem, keyPem: credentials.keyPem });
  };
  if (serverWide(running) !== serverWide(next)) return undefined;
  // tls-verify and script-security are read at start: binding spokes, or no longer, needs a restart.
  if (hubBindsSpokes(running) !== hubBindsSpokes(next)) return undefined;
  const before = new Map(running.spokes.map((s) => [s.commonName, s]));
  const after = new Map(next.spokes.map((s) => [s.commonName, s]));
  // A new bound CA counts as a change of the spoke (its session is killed, it re-handshakes against the
  // new binding); the same CA in other PEM text (blanks, order) does not.
  const bound = (s: OpenvpnSpoke): string[] =>
    s.caPem === undefined ? [] : [...new Set(issuingCas(s.caPem, 'caPem').map(openvpnFingerprint))].sort();
  const entry = (s: OpenvpnSpoke): string => JSON.stringify([s.tunnelAddress, s.subnets, bound(s)]);
  const bindings = (s: OpenvpnHubServerSpec): string =>
    JSON.stringify(
      spokeBindings(s)
        .map((b) => `${b.commonName} ${b.fingerprint}`)
        .sort(),
    );
  const oldRoutes = new Set(running.spokes.flatMap((s) => s.subnets));
  const newRoutes = new Set(next.spokes.flatMap((s) => s.subnets));
  const cas = (s: OpenvpnHubServerSpec): string =>
    JSON.stringify([...caCertificates(s.credentials.caPem).keys()].sort());
  // OpenSSL looks a CA up in the capath dir only while its store has no CA of that subject yet (a CA it
  // found once stays cached): a new CA whose subject a running one has (a re-made CA) needs a restart.
  const runningCas = caCertificates(running.credentials.caPem);
  const runningSubjects = new Set([...runningCas.values()].map(subjectOf));
  for (const [fingerprint, block] of caCertificates(next.credentials.caPem)) {
    if (!runningCas.has(fingerprint) && runningSubjects.has(subjectOf(block))) return undefined;
  }
  return {
    added: next.spokes.filter((s) => !before.has(s.commonName)),
    removed: running.spokes.filter((s) => !after.has(s.commonName)),
    changed: next.spokes.filter((s) => {
      const old = before.get(s.commonName);
      return old !== undefined && entry(old) !== entry(s);
    }),
    routesAdded: [...newRoutes].filter((r) => !oldRoutes.has(r)),
    routesRemoved: [...oldRoutes].filter((r) => !newRoutes.has(r)),
    caChanged: cas(running) !== cas(next),
    bindingsChanged: bindings(running) !== bindings(next),
  };
}

// --- per kind ----------------------------------------------------------------------------------------------

function renderP2p(out: Lines, spec: OpenvpnP2pSpec, layout: OpenvpnLayout): void {
  renderDevice(out, spec);
  if (spec.local?.address !== undefined) out.option('local', spec.local.address);
  if (spec.local?.port !== undefined) out.option('lport', String(spec.local.port));
  else out.option('nobind');
  if (spec.remote) out.option('remote', spec.remote.host, String(spec.remote.port));
  // A peer whose address changes (NAT rebinding, a new uplink) keeps its session: the data channel is
  // authenticated, the source address is not what identifies it.
  out.option('float');
  out.option(spec.role === 'listen' ? 'tls-server' : 'tls-client');
  if (spec.role === 'listen') out.option('dh', 'none');
  renderTls(out, spec, layout, spec.peerCommonName);
  out.option('ifconfig', spec.tunnel.local, spec.tunnel.remote);
  renderTunnelCommon(out, spec, layout);
  renderRoutes(out, spec);
  out.option('explicit-exit-notify', '1');
}

function renderHubServer(out: Lines, spec: OpenvpnHubServerSpec, layout: OpenvpnLayout): void {
  const subnet = ipv4Prefix(spec.tunnel.subnet, 'tunnel.subnet');
  out.option('mode', 'server');
  out.option('tls-server');
  out.option('dh', 'none');
  renderDevice(out, spec);
  if (spec.local.address !== undefined) out.option('local', spec.local.address);
  out.option('lport', String(spec.local.port));
  renderTls(out, spec, layout, undefined);
  // Explicit instead of the `server` helper: no address pool, so a spoke gets exactly the address its
  // ccd entry pushes, and one without an entry is refused (ccd-exclusive) rather than given one.
  out.option('topology', 'subnet');
  out.option('ifconfig', spec.tunnel.serverAddress, subnet.netmask);
  out.option('route-gateway', spec.tunnel.serverAddress);
  out.push('topology subnet');
  out.push(`route-gateway ${spec.tunnel.serverAddress}`);
  out.option('client-config-dir', layout.ccdDir);
  out.option('ccd-exclusive');
  if ((spec.spokeToSpoke ?? 'kernel') === 'client-to-client') out.option('client-to-client');
  // With caPath, spokes come and go while the server runs: room for every address of the subnet.
  const hosts = Math.min(65535, 2 ** (32 - subnet.length) - 3);
  out.option(
    'max-clients',
    String(spec.maxClients ?? (spec.caPath === true ? hosts : Math.max(1, spec.spokes.length))),
  );
  renderTunnelCommon(out, spec, layout);
  // The hub's kernel sends every spoke's subnets into the tun; openvpn picks the spoke by its iroute.
  const spokeRoutes = spec.spokes.flatMap((s) => s.subnets);
  renderRoutes(out, { ...spec, routes: [...spokeRoutes, ...(spec.routes ?? [])] });
  out.option('explicit-exit-notify', '1');
}

function renderHubClient(out: Lines, spec: OpenvpnHubClientSpec, layout: OpenvpnLayout): void {
  out.option('client');
  renderDevice(out, spec);
  out.option('nobind');
  out.option('remote', spec.remote.host, String(spec.remote.port));
  out.option('float');
  renderTls(out, spec, layout, spec.hubCommonName);
  // The hub is ours and pushes only topology, route-gateway and pings; never a default route.
  out.option('pull-filter', 'ignore', '"redirect-gateway"');
  renderTunnelCommon(out, spec, layout);
  renderRoutes(out, spec);
  out.option('explicit-exit-notify', '1');
}

// --- shared blocks -----------------------------------------------------------------------------------------

function renderDevice(out: Lines, spec: OpenvpnCommonSpec): void {
  out.option('dev', spec.device);
  out.option('dev-type', 'tun');
  out.option('proto', spec.underlayFamily === 'inet6' ? 'udp6' : 'udp4');
}

function renderTls(
  out: Lines,
  spec: OpenvpnSpec,
  layout: OpenvpnLayout,
  peerCommonName: string | undefined,
): void {
  // A hub with caPath looks each spoke's CA up at its handshake (a spoke can be added live).
  if (spec.kind === 'hub-server' && spec.caPath === true) out.option('capath', layout.caDir);
  else out.option('ca', layout.ca);
  out.option('cert', layout.cert);
  out.option('key', layout.key);
  out.option(spec.tlsCrypt.kind === 'v1' ? 'tls-crypt' : 'tls-crypt-v2', layout.tlsCrypt);
  // The peer is pinned by its common name: any other certificate of the same CA is refused.
  if (peerCommonName !== undefined) out.option('verify-x509-name', peerCommonName, 'name');
  // A hub's spokes are pinned by their issuer instead: the script checks (common name, issuing CA).
  if (spec.kind === 'hub-server' && hubBindsSpokes(spec)) out.option('tls-verify', layout.tlsVerifyScript);
  out.option('tls-version-min', '1.2');
  out.option('hand-window', String(spec.handWindowSeconds ?? DEFAULT_HAND_WINDOW_SECONDS));
  out.option('data-ciphers', (spec.dataCiphers ?? DEFAULT_DATA_CIPHERS).join(':'));
}

function renderTunnelCommon(out: Lines, spec: OpenvpnSpec, layout: OpenvpnLayout): void {
  const mtu = deriveMtu(spec.underlayMtu, spec.underlayFamily);
  out.option('tun-mtu', String(mtu.tunMtu));
  out.option('mssfix', String(mtu.mssfixMtu), 'mtu');
  out.option('allow-compression', 'no');
  const keepalive = spec.keepalive ?? DEFAULT_KEEPALIVE;
  out.option('keepalive', String(keepalive.intervalSeconds), String(keepalive.timeoutSeconds));
  // A ping-restart re-handshakes without closing the tun: routes into it stay.
  out.option('persist-tun');
  out.option('persist-key');
  if (!spec.dco) out.option('disable-dco');
  out.option('management', layout.managementSocket, 'unix');
  // 2 lets openvpn exec the one script Weft renders (a bound hub's tls-verify); otherwise built-ins only.
  out.option('script-security', spec.kind === 'hub-server' && hubBindsSpokes(spec) ? '2' : '1');
  out.option('verb', String(spec.verbosity ?? DEFAULT_VERBOSITY));
}

function renderRoutes(out: Lines, spec: OpenvpnCommonSpec): void {
  for (const r of spec.routes ?? []) {
    const p = ipv4Prefix(r, 'routes');
    out.option('route', p.network, p.netmask);
  }
}

// --- validation --------------------------------------------------------------------------------------------

/** Validates a spec as the renderer does; throws InvalidArgumentError naming the field. */
export function validateSpec(spec: OpenvpnSpec): void {
  checkInstanceName(spec.name);
  checkDevice(spec.device);
  checkPem(spec.credentials.caPem, ['CERTIFICATE'], 'credentials.caPem');
  checkPem(spec.credentials.certPem, ['CERTIFICATE'], 'credentials.certPem');
  checkPem(
    spec.credentials.keyPem,
    ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY'],
    'credentials.keyPem',
  );
  checkTlsCrypt(spec);
  deriveMtu(spec.underlayMtu, spec.underlayFamily);
  if (
    spec.underlayFamily !== undefined &&
    spec.underlayFamily !== 'inet' &&
    spec.underlayFamily !== 'inet6'
  ) {
    throw new InvalidArgumentError(`underlayFamily: ${String(spec.underlayFamily)} is not inet or inet6`);
  }
  for (const c of spec.dataCiphers ?? DEFAULT_DATA_CIPHERS) {
    if (!(OPENVPN_DATA_CIPHERS as readonly string[]).includes(c)) {
      throw new InvalidArgumentError(`dataCiphers: ${c} is not one of ${OPENVPN_DATA_CIPHERS.join(', ')}`);
    }
  }
  if (spec.dataCiphers?.length === 0) throw new InvalidArgumentError('dataCiphers: name at least one cipher');
  if (spec.keepalive) {
    checkInteger(spec.keepalive.intervalSeconds, 1, 3600, 'keepalive.intervalSeconds');
    checkInteger(spec.keepalive.timeoutSeconds, 2, 86400, 'keepalive.timeoutSeconds');
    if (spec.keepalive.timeoutSeconds < 2 * spec.keepalive.intervalSeconds) {
      throw new InvalidArgumentError(
        'keepalive.timeoutSeconds must be at least twice intervalSeconds (openvpn would restart between pings)',
      );
    }
  }
  if (spec.handWindowSeconds !== undefined) checkInteger(spec.handWindowSeconds, 5, 600, 'handWindowSeconds');
  if (spec.verbosity !== undefined) checkInteger(spec.verbosity, 0, 6, 'verbosity');
  for (const r of spec.routes ?? []) ipv4Prefix(r, 'routes');
  switch (spec.kind) {
    case 'p2p':
      if (spec.role !== 'listen' && spec.role !== 'connect') {
        throw new InvalidArgumentError(`role: ${String(spec.role)} is not listen or connect`);
      }
      if (spec.local?.address !== undefined) checkAddress(spec.local.address, 'local.address');
      if (spec.local?.port !== undefined) checkPort(spec.local.port, 'local.port');
      if (spec.role === 'listen' && spec.local?.port === undefined) {
        throw new InvalidArgumentError('local.port: a listening end needs a port');
      }
      if (spec.role === 'connect' && !spec.remote) {
        throw new InvalidArgumentError('remote: a connecting end needs the address of its peer');
      }
      if (spec.remote) {
        checkHost(spec.remote.host, 'remote.host');
        checkPort(spec.remote.port, 'remote.port');
      }
      checkAddress(spec.tunnel.local, 'tunnel.local', 'inet');
      checkAddress(spec.tunnel.remote, 'tunnel.remote', 'inet');
      if (spec.tunnel.local === spec.tunnel.remote) {
        throw new InvalidArgumentError('tunnel: the two ends need different addresses');
      }
      checkCommonName(spec.peerCommonName, 'peerCommonName');
      break;
    case 'hub-server': {
      if (spec.local.address !== undefined) checkAddress(spec.local.address, 'local.address');
      checkPort(spec.local.port, 'local.port');
      const subnet = ipv4Prefix(spec.tunnel.subnet, 'tunnel.subnet');
      if (subnet.length > 30) throw new InvalidArgumentError('tunnel.subnet: a hub needs at least a /30');
      checkAddress(spec.tunnel.serverAddress, 'tunnel.serverAddress', 'inet');
      if (!ipv4Contains(subnet, spec.tunnel.serverAddress)) {
        throw new InvalidArgumentError(
          `tunnel.serverAddress: ${spec.tunnel.serverAddress} is outside ${spec.tunnel.subnet}`,
        );
      }
      const names = new Set<string>();
      const addresses = new Set<string>([spec.tunnel.serverAddress]);
      const subnets = new Set<string>();
      spec.spokes.forEach((spoke, i) => {
        const what = `spokes[${i}]`;
        checkSpoke(spoke, what, subnet);
        if (names.has(spoke.commonName)) {
          throw new InvalidArgumentError(`${what}.commonName: ${spoke.commonName} is used twice`);
        }
        names.add(spoke.commonName);
        if (addresses.has(spoke.tunnelAddress)) {
          throw new InvalidArgumentError(`${what}.tunnelAddress: ${spoke.tunnelAddress} is taken`);
        }
        addresses.add(spoke.tunnelAddress);
        for (const s of spoke.subnets) {
          if (subnets.has(s)) throw new InvalidArgumentError(`${what}.subnets: ${s} belongs to two spokes`);
          subnets.add(s);
        }
      });
      checkSpokeCas(spec);
      const mode = spec.spokeToSpoke ?? 'kernel';
      if (mode !== 'kernel' && mode !== 'client-to-client') {
        throw new InvalidArgumentError(`spokeToSpoke: ${String(mode)} is not kernel or client-to-client`);
      }
      if (spec.maxClients !== undefined) checkInteger(spec.maxClients, 1, 65535, 'maxClients');
      if (spec.caPath !== undefined && typeof spec.caPath !== 'boolean') {
        throw new InvalidArgumentError('caPath: true or false');
      }
      break;
    }
    case 'hub-client':
      checkHost(spec.remote.host, 'remote.host');
      checkPort(spec.remote.port, 'remote.port');
      checkCommonName(spec.hubCommonName, 'hubCommonName');
      break;
    default: {
      const never: never = spec;
      throw new InvalidArgumentError(
        `kind: ${String((never as { kind: unknown }).kind)} is not p2p, hub-server or hub-client`,
      );
    }
  }
}

function checkSpoke(spoke: OpenvpnSpoke, what: string, subnet: { network: string; length: number }): void {
  checkCommonName(spoke.commonName, `${what}.commonName`);
  checkAddress(spoke.tunnelAddress, `${what}.tunnelAddress`, 'inet');
  if (!ipv4Contains(subnet, spoke.tunnelAddress)) {
    throw new InvalidArgumentError(
      `${what}.tunnelAddress: ${spoke.tunnelAddress} is outside the tunnel subnet`,
    );
  }
  for (const s of spoke.subnets) ipv4Prefix(s, `${what}.subnets`);
}

/**
 * Bound spokes: all or none; each caPem is CERTIFICATE blocks that parse, its issuing CAs are CA
 * certificates, and the hub trusts them (a bound CA the hub does not trust admits nobody).
 */
function checkSpokeCas(spec: OpenvpnHubServerSpec): void {
  if (!hubBindsSpokes(spec)) return;
  const trusted = new Set(
    parseCertificates(spec.credentials.caPem, 'credentials.caPem').map((c) => c.fingerprint256),
  );
  spec.spokes.forEach((spoke, i) => {
    const what = `spokes[${i}].caPem`;
    if (spoke.caPem === undefined) {
      throw new InvalidArgumentError(
        `${what}: spoke ${spoke.commonName} has no CA bound to it while other spokes of this hub have one: bind every spoke (an unbound spoke's name could be taken by any CA the hub trusts)`,
      );
    }
    checkPem(spoke.caPem, ['CERTIFICATE'], what);
    for (const ca of issuingCas(spoke.caPem, what)) {
      if (!ca.ca) {
        throw new InvalidArgumentError(
          `${what}: ${ca.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints CA:FALSE or missing): bind the CA that issued spoke ${spoke.commonName}'s certificate, not the certificate itself`,
        );
      }
      if (!trusted.has(ca.fingerprint256)) {
        throw new InvalidArgumentError(
          `${what}: the CA ${ca.subject.replace(/\n/g, ', ')} bound to spoke ${spoke.commonName} is not in credentials.caPem: the hub must trust it too`,
        );
      }
    }
  });
}

function checkTlsCrypt(spec: OpenvpnSpec): void {
  const t = spec.tlsCrypt;
  switch (t.kind) {
    case 'v1': {
      const problem = tlsCryptKeyProblem(t.key);
      if (problem) throw new InvalidArgumentError(`tlsCrypt.key ${problem}`);
      return;
    }
    case 'v2-server':
    case 'v2-client': {
      const want = t.kind === 'v2-server' ? 'hub-server' : 'hub-client';
      if (spec.kind !== want) {
        throw new InvalidArgumentError(`tlsCrypt: a ${t.kind} key belongs to a ${want}, not a ${spec.kind}`);
      }
      const label = `OpenVPN tls-crypt-v2 ${t.kind === 'v2-server' ? 'server' : 'client'} key`;
      checkPem(t.key, [label], 'tlsCrypt.key');
      return;
    }
    default: {
      const never: never = t;
      throw new InvalidArgumentError(
        `tlsCrypt.kind: ${String((never as { kind: unknown }).kind)} is unknown`,
      );
    }
  }
}

/** Config lines; every word was validated before it gets here, quoting is never needed. */
class Lines {
  private readonly lines: string[] = [];

  comment(text: string): void {
    this.lines.push(`# ${text}`);
  }

  option(name: string, ...values: string[]): void {
    this.lines.push([name, ...values].join(' '));
  }

  push(option: string): void {
    this.lines.push(`push "${option}"`);
  }

  text(): string {
    return `${this.lines.join('\n')}\n`;
  }
}
