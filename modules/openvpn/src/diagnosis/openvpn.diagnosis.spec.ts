// The doctor against openvpn 2.6.14's own lines: every fixture is a lab capture (README.md, fixtures/),
// both sides of each misconfiguration, at verb 3 and 4 (7 for the on-demand OCC check).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixtureHeader, fixtureLines, fixtureLogHistory, fixtureManagement } from './diagnosis.fixtures.js';
import {
  OpenvpnDiagnoser,
  classifyOpenvpnLine,
  isOpenvpnSecretLine,
  stripLogTimestamp,
  type OpenvpnDiagnoserOptions,
  type OpenvpnDiagnosis,
} from './openvpn.diagnosis.js';

function diagnose(name: string, options?: OpenvpnDiagnoserOptions): OpenvpnDiagnosis[] {
  const d = new OpenvpnDiagnoser(options);
  return fixtureLines(name).flatMap((l) => d.observe(l));
}

function codes(name: string, options?: OpenvpnDiagnoserOptions): string[] {
  return diagnose(name, options).map((x) => x.code);
}

const CIPHER_FIX =
  'Give both ends at least one data cipher in common in data-ciphers (AES-256-GCM is what Weft ' +
  'renders by default); do not fall back to data-ciphers-fallback, it disables negotiation.';
const TLS_KEY_FIX =
  'Both ends need the same control-channel protection: the same tls-crypt key file on both, or the same ' +
  'tls-auth key with opposite key-direction (0 on one end, 1 on the other). Copy the key again from one ' +
  'end; do not generate one per end.';
const COMPRESSION_FIX =
  'Set the same compress/comp-lzo options on both ends; best, none at all (compression over an encrypted ' +
  'tunnel enables VORACLE-style attacks, and openvpn 2.6 refuses it unless allow-compression is set).';
const DEV_TYPE_FIX =
  'Use the same dev-type on both ends: tun for a routed site-to-site link, tap only for bridging.';
const EXIT_FIX =
  'Fix the reason the server gave (reported just before), then start the link again; restarting ' +
  'without a change only gets refused again.';

/** Every fixture → the causes its side names, in order. Verb 3 and 4 must agree. */
const EXPECTED: Record<string, string[]> = {
  'ok-p2p.v3.a': [],
  'ok-p2p.v3.b': [],
  'cipher-p2p.a': ['cipher-mismatch'],
  'cipher-p2p.b': ['cipher-mismatch'],
  'cipher-server.a': ['cipher-mismatch'],
  'cipher-server.b': ['cipher-mismatch', 'auth-failed-exit'],
  'cipher-server-live.b': ['cipher-mismatch', 'auth-failed-exit'],
  'comp-lz4-p2p.a': ['compression-mismatch'],
  'comp-lz4-p2p.b': ['tun-write-rejected'],
  'comp-lzo-p2p.a': ['compression-mismatch'],
  'comp-lzo-p2p.b': ['tun-write-rejected'],
  // The server pushes nothing about compression and 2.6 clients announce IV_COMP_STUBv2: it works.
  'comp-server.a': [],
  'comp-server.b': [],
  // The TAP end drops the IP packets it gets without a word; the tun end rejects the frames.
  'devtype-p2p.a': [],
  'devtype-p2p.b': ['tun-write-rejected'],
  'devtype-server.a': [],
  'devtype-server.b': ['tun-write-rejected'],
  // Server tun, client tap: nothing at verb 3 or 4 on either end.
  'devtype-server-rev.a': [],
  'devtype-server-rev.b': [],
  'tlscrypt-key.a': ['tls-key-mismatch'],
  'tlscrypt-key.b': ['tls-key-mismatch'],
  'tlscrypt-key-server.a': ['tls-key-mismatch'],
  // The server drops the client's packets without answering: the client sees only the timeout.
  'tlscrypt-key-server.b': ['peer-unreachable'],
  'tlsauth-same-direction.a': ['tls-key-mismatch'],
  'tlsauth-same-direction.b': ['tls-key-mismatch'],
  'tlsauth-vs-tlscrypt.a': ['tls-key-mismatch'],
  'tlsauth-vs-tlscrypt.b': ['tls-key-mismatch'],
  'tlsauth-one-side.a': ['tls-key-mismatch'],
  'tlsauth-one-side.b': ['tls-key-mismatch'],
  // tun-mtu 1500 against 1400 is silent at verb 3 and 4, in p2p and in server mode.
  'mtu-p2p.a': [],
  'mtu-p2p.b': [],
  'mtu-server.a': [],
  'mtu-server.b': [],
  'unreachable-dropped.a': [],
  'unreachable-dropped.b': ['peer-unreachable'],
  'unreachable-refused.a': [],
  'unreachable-refused.b': ['port-unreachable'],
  'wrong-rport-p2p.a': ['peer-unreachable'],
  'wrong-rport-p2p.b': ['unexpected-peer-address'],
  'ccd-exclusive.a': ['ccd-refused'],
  'ccd-exclusive.b': ['auth-failed', 'auth-failed-exit'],
  'ccd-exclusive-live.b': ['auth-failed', 'auth-failed-exit'],
  // Two clients with one certificate from one host: one takeover looks like a reconnect.
  'duplicate-cn-same-host.a': [],
  'duplicate-cn-same-host.b': [],
  'duplicate-cn-two-hosts.a': ['duplicate-common-name'],
  'duplicate-cn-two-hosts.b': [],
  'duplicate-cn-two-hosts.c': [],
  'wrong-ca-client-cert.a': ['certificate-verify-failed'],
  'wrong-ca-client-cert.b': ['handshake-incomplete'],
  'wrong-ca-client-ca.a': ['handshake-incomplete'],
  'wrong-ca-client-ca.b': ['certificate-verify-failed'],
  'wrong-ca-p2p.a': ['certificate-verify-failed'],
  'wrong-ca-p2p.b': ['handshake-incomplete'],
  // A hub binding its spokes to their CAs (tls-verify): B is CN=site-b from site-a's CA, D a CN no spoke
  // has; both are refused by the script, named once per common name (its `weft:` line, then openvpn's
  // VERIFY SCRIPT ERROR). The clients only see an answer without a finished handshake; the real site-b
  // (C) gets in.
  'ca-binding.v3.a': ['certificate-not-bound', 'certificate-not-bound'],
  'ca-binding.v3.b': ['handshake-incomplete'],
  'ca-binding.v3.c': [],
  'ca-binding.v3.d': ['handshake-incomplete'],
};

describe('OpenvpnDiagnoser on every lab capture', () => {
  for (const [key, expected] of Object.entries(EXPECTED)) {
    const [name, side] = [key.slice(0, key.lastIndexOf('.')), key.slice(key.lastIndexOf('.') + 1)];
    const files = name.endsWith('.v3')
      ? [`${name}.${side}.log`]
      : [3, 4].map((v) => `${name}.v${v}.${side}.log`);
    for (const file of files) {
      it(`${file} → ${expected.join(', ') || 'nothing'}`, () => {
        assert.match(fixtureHeader(file)[1] ?? '', /^# A: openvpn /);
        assert.deepEqual(codes(file), expected);
      });
    }
  }
});

describe('messages and fixes', () => {
  it('cipher mismatch, p2p: names what the peer offers', () => {
    const [d] = diagnose('cipher-p2p.v3.a.log');
    assert.deepEqual(d, {
      code: 'cipher-mismatch',
      message:
        'The two ends share no data-channel cipher; openvpn restarts the connection in a loop (p2p mode). ' +
        "The peer offers CHACHA20-POLY1305; none of them is in this end's data-ciphers.",
      fix: CIPHER_FIX,
      line: 'ERROR: failed to negotiate cipher with peer and --data-ciphers-fallback not enabled. No usable data channel cipher',
    });
  });

  it('cipher mismatch, server mode: both lists, the client by name', () => {
    const [d] = diagnose('cipher-server.v3.a.log');
    assert.equal(d?.code, 'cipher-mismatch');
    assert.equal(
      d?.message,
      'The server offers AES-256-GCM and the client supports CHACHA20-POLY1305: no cipher in common, the client is refused (AUTH_FAILED) and exits.',
    );
    assert.equal(d?.fix, CIPHER_FIX);
    assert.equal(d?.peer, 'site-b');
  });

  it('the client that exits on AUTH_FAILED: the reason is carried to the exit', () => {
    const [cipher, exit] = diagnose('cipher-server.v3.b.log');
    assert.equal(cipher?.code, 'cipher-mismatch');
    assert.deepEqual(exit, {
      code: 'auth-failed-exit',
      message:
        'openvpn exited because the server refused it (AUTH_FAILED: Data channel cipher negotiation failed ' +
        '(no shared cipher)); it does not retry by itself, so the link stays down.',
      fix: EXIT_FIX,
      line: 'SIGTERM[soft,auth-failure] received, process exiting',
    });
  });

  it('ccd-exclusive: the server names the client and the missing file; the client gets a bare AUTH_FAILED', () => {
    const [server] = diagnose('ccd-exclusive.v3.a.log');
    assert.deepEqual(
      { code: server?.code, message: server?.message, fix: server?.fix, peer: server?.peer },
      {
        code: 'ccd-refused',
        message:
          "The server refused client 'site-b': ccd-exclusive is on and there is no client-config-dir file for it (ccd/site-b). The client exits.",
        fix: "Add a client-config-dir file named exactly after the client's common name, or drop ccd-exclusive.",
        peer: 'site-b',
      },
    );
    const [auth, exit] = diagnose('ccd-exclusive.v3.b.log');
    assert.equal(auth?.code, 'auth-failed');
    assert.equal(
      auth?.message,
      'The server refused this client without saying why. The client process then exits and does not retry by itself.',
    );
    assert.match(auth?.fix ?? '', /client-config-dir file named after this client's common name/);
    assert.equal(
      exit?.message,
      'openvpn exited because the server refused it (AUTH_FAILED: no reason given); it does not retry by itself, so the link stays down.',
    );
  });

  it('tls-crypt with different keys', () => {
    const [d] = diagnose('tlscrypt-key.v3.a.log');
    assert.deepEqual(d, {
      code: 'tls-key-mismatch',
      message:
        'Control packets fail the tls-crypt check: the two ends hold different tls-crypt keys (in server ' +
        'mode the sender may also be a scanner; see the auth-failure counts).',
      fix: TLS_KEY_FIX,
      line: 'tls-crypt unwrap error: packet authentication failed',
    });
  });

  it('tls-auth with the same key-direction on both ends', () => {
    const [d] = diagnose('tlsauth-same-direction.v4.b.log');
    assert.equal(d?.line, 'Authenticate/Decrypt packet error: packet HMAC authentication failed');
    assert.equal(
      d?.message,
      'Control packets from the peer fail the tls-auth HMAC check: a different key, the same key-direction on both ends, or tls-crypt on the peer.',
    );
    assert.equal(d?.fix, TLS_KEY_FIX);
  });

  it('tls-auth on one end, tls-crypt on the other: each side says it its way', () => {
    assert.equal(
      diagnose('tlsauth-vs-tlscrypt.v3.a.log')[0]?.line,
      'Authenticate/Decrypt packet error: packet HMAC authentication failed',
    );
    const [b] = diagnose('tlsauth-vs-tlscrypt.v3.b.log');
    assert.equal(b?.line, 'tls-crypt unwrap error: packet too short');
    assert.match(b?.message ?? '', /the peer most likely uses tls-auth/);
  });

  it('tls-auth on one end only', () => {
    const [a] = diagnose('tlsauth-one-side.v3.a.log');
    assert.equal(
      a?.message,
      'This end expects a tls-auth HMAC but the peer sends none: tls-auth is set on this end only.',
    );
    assert.equal(a?.peer, '198.51.100.2:1194');
    const [b] = diagnose('tlsauth-one-side.v3.b.log');
    assert.equal(b?.line, 'TLS Error: reading acknowledgement record from packet');
    assert.match(
      b?.message ?? '',
      /the peer protects its control channel with tls-auth and this end has no tls-auth key/,
    );
  });

  it('compression on one end: the compressing end reads a plain IPv4 header byte', () => {
    const [d] = diagnose('comp-lz4-p2p.v3.a.log');
    assert.deepEqual(d, {
      code: 'compression-mismatch',
      message:
        'This end expects LZ4-compressed packets but the peer sends something else (header byte 69 (0x45: the ' +
        'first byte of a plain IPv4 packet, so the peer does not compress)): compression is configured on one end only, or differently.',
      fix: COMPRESSION_FIX,
      line: 'Bad LZ4 decompression header byte: 69',
    });
  });

  it('the tun end of a TAP peer or a compressing peer: the same EINVAL, both fixes', () => {
    for (const file of ['devtype-p2p.v3.b.log', 'comp-lzo-p2p.v4.b.log']) {
      const [d] = diagnose(file);
      assert.equal(d?.code, 'tun-write-rejected');
      assert.equal(d?.line, 'write to TUN/TAP : Invalid argument (fd=-1,code=22)');
      assert.match(d?.message ?? '', /the peer runs dev tap .* or it compresses and this end does not/);
      assert.equal(d?.fix, `${DEV_TYPE_FIX} ${COMPRESSION_FIX}`);
    }
  });

  it('peer unreachable (packets dropped): the address from "link remote"', () => {
    const [d] = diagnose('unreachable-dropped.v3.b.log');
    assert.deepEqual(d, {
      code: 'peer-unreachable',
      message:
        'No TLS handshake with the peer at 198.51.100.1:1194 within 10 seconds: its packets do not arrive (wrong address or port, a firewall, or the peer is down).',
      fix: "Check remote and port against the peer's local/lport, that UDP reaches it (firewall, NAT), and the peer's own log.",
      peer: '198.51.100.1:1194',
      line: 'TLS Error: TLS key negotiation failed to occur within 10 seconds (check your network connectivity)',
    });
  });

  it('with tls-crypt configured, a bare timeout may be a key mismatch on a server', () => {
    const [d] = diagnose('tlscrypt-key-server.v3.b.log', { controlChannel: 'tls-crypt' });
    assert.equal(d?.code, 'peer-unreachable');
    assert.match(
      d?.message ?? '',
      /With tls-crypt a peer holding a different key drops our packets without answering/,
    );
    assert.match(d?.fix ?? '', /Compare the tls-crypt key on both ends\.$/);
  });

  it('port unreachable: repeated ICMP port unreachable before the timeout', () => {
    const [d] = diagnose('unreachable-refused.v4.b.log');
    assert.equal(d?.code, 'port-unreachable');
    assert.match(
      d?.message ?? '',
      /^The host at 198\.51\.100\.1:1195 answers that nothing listens on that port \(ICMP port unreachable, \d+ times\); no TLS handshake within 10 seconds\.$/,
    );
    assert.equal(
      d?.fix,
      "Correct the port (remote/rport) to the peer's local port, and check that openvpn runs on the peer.",
    );
  });

  it('a single ECONNREFUSED at start (peer not up yet) is no diagnosis', () => {
    assert.ok(fixtureLines('ok-p2p.v3.b.log').some((l) => l.includes('[ECONNREFUSED]')));
    assert.deepEqual(codes('ok-p2p.v3.b.log'), []);
  });

  it('wrong remote port in p2p: the peer answers from another port', () => {
    const [d] = diagnose('wrong-rport-p2p.v3.b.log');
    assert.equal(
      d?.message,
      'Packets arrive from 198.51.100.1:1194 but this end expects its peer at 198.51.100.1:1195: the configured remote address or port is wrong.',
    );
    assert.equal(d?.peer, '198.51.100.1:1194');
  });

  it('wrong CA: the verifying side says why, the other side sees an answer without a finished handshake', () => {
    const [verify] = diagnose('wrong-ca-client-cert.v3.a.log');
    assert.equal(verify?.code, 'certificate-verify-failed');
    assert.equal(
      verify?.message,
      "The peer's certificate chain does not verify here (unable to get local issuer certificate at depth 0, CN=rogue). The peer itself only sees a handshake that never finishes.",
    );
    assert.match(verify?.fix ?? '', /^Install the CA that issued the peer's certificate/);
    const [client] = diagnose('wrong-ca-client-cert.v3.b.log');
    assert.equal(
      client?.message,
      "The peer at 198.51.100.1:1194 answered, but the TLS handshake did not finish within 10 seconds: the peer most likely refused this end's certificate (its ca does not hold the CA that issued ours).",
    );
    const [server] = diagnose('wrong-ca-client-ca.v3.a.log');
    assert.equal(server?.code, 'handshake-incomplete');
    assert.equal(server?.peer, '198.51.100.2');
    assert.match(
      server?.message ?? '',
      /^The client at 198\.51\.100\.2:\d+ started a handshake but did not finish it within 10 seconds/,
    );
    const [clientVerify] = diagnose('wrong-ca-client-ca.v3.b.log');
    assert.match(
      clientVerify?.message ?? '',
      /self-signed certificate in certificate chain at depth 1, CN=ca1/,
    );
  });

  it('spoke bound to another CA: the script names the issuer, openvpn the subject; one report per name', () => {
    const [rogue, unknown] = diagnose('ca-binding.v3.a.log');
    assert.deepEqual(rogue, {
      code: 'certificate-not-bound',
      message:
        "The hub refused a certificate with the common name 'site-b': its chain verifies, but its issuer (SHA-256 58:e3:81:e4:b8:99:f6:f8:1b:ed:1f:b5:9c:47:2a:7b:65:49:bb:dd:be:60:6a:19:e3:27:f5:e5:1a:10:5d:69) is not the CA bound to spoke site-b. Either that spoke's certificate now comes from another CA the hub was not given, or another CA the hub trusts made a certificate in this spoke's name to take its tunnel address and subnets.",
      fix:
        'If the spoke really has a new CA, bind the spoke to that CA on the hub (and trust it there): its next ' +
        'handshake is checked against it. If not, someone holding another CA the hub trusts made a ' +
        'certificate in its name: compare the fingerprint with the trusted CAs (openssl x509 -noout ' +
        '-fingerprint -sha256) and stop trusting that CA.',
      peer: 'site-b',
      line: 'weft: CN "site-b" is not issued by the CA bound to it (issuer sha256 58:e3:81:e4:b8:99:f6:f8:1b:ed:1f:b5:9c:47:2a:7b:65:49:bb:dd:be:60:6a:19:e3:27:f5:e5:1a:10:5d:69)',
    });
    assert.equal(unknown?.peer, 'site-c');
    assert.match(unknown?.message ?? '', /no spoke of this hub has that name, so no CA is bound to it\.$/);
    // Over management only openvpn's own line arrives (the script's stderr goes to the file): same cause.
    const d = new OpenvpnDiagnoser();
    const fromHistory = fixtureLogHistory('ca-binding.v3.a.mgmt').flatMap((m) => d.observe(m));
    assert.deepEqual(
      fromHistory.map((x) => [x.code, x.peer]),
      [
        ['certificate-not-bound', 'site-b'],
        ['certificate-not-bound', 'site-c'],
      ],
    );
    assert.equal(fromHistory[0]?.line, '198.51.100.2:40167 VERIFY SCRIPT ERROR: depth=0, CN=site-b');
    assert.equal(fromHistory[0]?.fix, rogue?.fix);
    // The session is named by the last CN of the subject, as openvpn does.
    assert.equal(
      classifyOpenvpnLine('198.51.100.2:1 VERIFY SCRIPT ERROR: depth=0, C=DE, CN=spoke-2, CN=spoke-1')?.peer,
      'spoke-1',
    );
    assert.equal(
      classifyOpenvpnLine('weft: CN "spoke-1" refused: its certificate has more than one common name')
        ?.message,
      "The hub refused the certificate of 'spoke-1': its certificate has more than one common name.",
    );
    assert.equal(
      classifyOpenvpnLine('weft: refused a certificate whose common name is not a spoke name')?.code,
      'certificate-not-bound',
    );
    assert.equal(classifyOpenvpnLine('198.51.100.3:46815 VERIFY SCRIPT OK: depth=0, CN=site-b'), undefined);
  });

  it('duplicate common name from two hosts: both addresses', () => {
    const [d] = diagnose('duplicate-cn-two-hosts.v3.a.log');
    assert.equal(d?.peer, 'site-b');
    assert.match(
      d?.message ?? '',
      /^Two clients use the common name 'site-b': 198\.51\.100\.3:11940 took over the session of 198\.51\.100\.2:\d+\. Each new connection drops the other/,
    );
    assert.equal(
      d?.fix,
      'Give every site its own certificate (its own common name). duplicate-cn only hides the problem.',
    );
  });

  it('a client restarting (SIGUSR1) takes over its own session: not a duplicate', () => {
    const lines = fixtureLines('devtype-server-verb7-on-demand.v3.a.log');
    assert.ok(lines.some((l) => l.includes('MULTI: new connection by client')));
    assert.deepEqual(codes('devtype-server-verb7-on-demand.v3.a.log'), []);
  });

  it('the same host taking over its session again and again is reported from the third time', () => {
    const d = new OpenvpnDiagnoser();
    const out: OpenvpnDiagnosis[] = [];
    d.observe('198.51.100.9:39999 [site-c] Peer Connection Initiated with [AF_INET]198.51.100.9:39999');
    for (let port = 40000; port < 40004; port++) {
      out.push(
        ...d.observe(
          `198.51.100.9:${port} [site-c] Peer Connection Initiated with [AF_INET]198.51.100.9:${port}`,
        ),
      );
      out.push(
        ...d.observe(
          "MULTI: new connection by client 'site-c' will cause previous active sessions by this client to be dropped.",
        ),
      );
    }
    assert.deepEqual(
      out.map((x) => x.message),
      [
        "Client 'site-c' took over its own session from 198.51.100.9 3 times: either it restarts again and again, or two sites behind one NAT address share this certificate.",
      ],
    );
  });
});

describe('the on-demand OCC check (verb 7 for one reconnect)', () => {
  it('tun-mtu and dev-type mismatches are named from the OCC warnings', () => {
    const all = diagnose('devtype-and-mtu-p2p.v7.a.log');
    assert.deepEqual(
      all.map((d) => [d.code, d.message, d.fix]),
      [
        [
          'dev-type-mismatch',
          'This end runs tap, the peer tun: one end sends IP packets, the other Ethernet frames; nothing gets through.',
          DEV_TYPE_FIX,
        ],
        [
          'mtu-mismatch',
          'The ends disagree on tun-mtu (1400 here, 1500 on the peer): the side with the larger MTU sends packets the other would not, and their TCP MSS clamps differ; over an underlay that drops fragments, large packets vanish.',
          'Set the same tun-mtu (and mssfix) on both ends.',
        ],
      ],
    );
  });

  it('raised over the management interface: `verb 7` then `signal SIGUSR1`', () => {
    assert.deepEqual(codes('mtu-p2p-verb7-on-demand.v3.a.log'), ['mtu-mismatch']);
    // Server mode: the client compares, and the EINVAL it saw before is explained by it.
    assert.deepEqual(codes('devtype-server-verb7-on-demand.v3.b.log'), [
      'tun-write-rejected',
      'dev-type-mismatch',
    ]);
  });

  it('compression is compared as comp-lzo, whether comp-lzo or compress lz4 was set', () => {
    for (const file of ['comp-lzo-p2p-verb7-on-demand.v3.b.log', 'comp-lz4-p2p-verb7-on-demand.v3.b.log']) {
      const found = diagnose(file).filter((d) => d.code === 'compression-mismatch');
      assert.deepEqual(
        found.map((d) => [d.message, d.fix, d.line]),
        [
          [
            'The peer uses comp-lzo and this end does not: one end compresses, the other cannot read it.',
            COMPRESSION_FIX,
            "WARNING: 'comp-lzo' is present in remote config but missing in local config, remote='comp-lzo'",
          ],
        ],
        file,
      );
    }
  });

  it('the key lines verb 7 prints are recognised (they are redacted in the fixtures)', () => {
    const redacted = fixtureLines('devtype-and-mtu-p2p.v7.a.log').filter((l) =>
      l.includes('KEY: [redacted]'),
    );
    assert.ok(redacted.length >= 4);
    assert.equal(isOpenvpnSecretLine('Outgoing Data Channel: CIPHER KEY: 0a1b2c3d 4e5f6071 8293a4b5'), true);
    assert.equal(
      isOpenvpnSecretLine('Incoming dynamic tls-crypt: HMAC KEY: 664225b1 c4417ab7 2c1ff8d1'),
      true,
    );
    assert.equal(
      isOpenvpnSecretLine("Outgoing Data Channel: Cipher 'AES-256-GCM' initialized with 256 bit key"),
      false,
    );
  });
});

describe('management interface input', () => {
  it('>LOG: messages and >STATE: of a client refused by ccd-exclusive', () => {
    const d = new OpenvpnDiagnoser();
    const out = fixtureManagement('ccd-exclusive-live.v3.b.mgmt').flatMap((item) =>
      item.kind === 'log' ? d.observe(item.message) : d.observeState(item.state),
    );
    // The EXITING,auth-failure state repeats the exit the log line already reported.
    assert.deepEqual(
      out.map((x) => x.code),
      ['auth-failed', 'auth-failed-exit'],
    );
  });

  it('>STATE:EXITING,auth-failure alone reports the exit', () => {
    const d = new OpenvpnDiagnoser();
    const [exit] = d.observeState({ name: 'EXITING', description: 'auth-failure' });
    assert.equal(exit?.code, 'auth-failed-exit');
    assert.deepEqual(d.observeState({ name: 'EXITING', description: 'SIGTERM' }), []);
  });

  it('the `log all` history names the same causes as the log file', () => {
    for (const name of ['tlscrypt-key.v3', 'wrong-ca-p2p.v3', 'duplicate-cn-two-hosts.v3']) {
      const fromFile = codes(`${name}.a.log`);
      const d = new OpenvpnDiagnoser();
      const fromHistory = fixtureLogHistory(`${name}.a.mgmt`).flatMap((m) => d.observe(m));
      assert.deepEqual(
        fromHistory.map((x) => x.code),
        fromFile,
        name,
      );
    }
  });
});

describe('classifyOpenvpnLine', () => {
  it('strips the log-file timestamps of verb 3 and verb 4', () => {
    assert.equal(stripLogTimestamp('2026-12-03 14:53:56 TLS Error: x'), 'TLS Error: x');
    assert.equal(stripLogTimestamp('2026-12-03 14:50:13 us=539242 WARNING: y'), 'WARNING: y');
    assert.equal(
      classifyOpenvpnLine('2026-12-03 14:53:56 Bad LZO decompression header byte: 96')?.message,
      'This end expects LZO-compressed packets but the peer sends something else (header byte 96 (0x60: the first byte of a plain IPv6 packet, so the peer does not compress)): compression is configured on one end only, or differently.',
    );
  });

  it('no line of a healthy p2p pair is a cause', () => {
    for (const file of [
      'ok-p2p.v3.a.log',
      'ok-p2p.v3.b.log',
      'mtu-server.v4.a.log',
      'comp-server.v4.b.log',
    ]) {
      assert.deepEqual(fixtureLines(file).map(classifyOpenvpnLine).filter(Boolean), [], file);
    }
  });
});
