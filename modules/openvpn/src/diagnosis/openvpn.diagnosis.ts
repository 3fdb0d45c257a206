// The tunnel doctor, OpenVPN part: reads openvpn's log lines (`>LOG:` notifications or the log file) and
// names why a tunnel does not come up, with a fix an operator can act on. Pure: no I/O, no clock.
//
// What openvpn 2.6.14 can and cannot tell us (lab, see the README for which lines were captured):
// - Option mismatches that older versions reported through OCC (`WARNING: 'dev-type' is used
//   inconsistently…`, `'link-mtu'`, `'tun-mtu'`, `'comp-lzo'`) are silent in 2.6.14, in TLS and in
//   static-key mode alike: those patterns are kept for older peers and documentation, not because 2.6
//   prints them. In particular tun-mtu 1500 against 1400 logs nothing at all: this classifier cannot see
//   it; it needs a probe with large DF packets. TUN against TAP is silent too.
// - A compression mismatch shows only once data flows: the side that decompresses logs `Bad LZ4 (LZO)
//   decompression header byte`.
// - A wrong CA is explained only by the verifying side (`VERIFY ERROR`); the other side merely times out
//   (`TLS key negotiation failed to occur within N seconds`), as it does when the peer is unreachable. So
//   a timeout is reported as "unreachable" only when no more specific cause was seen for that peer.

export type OpenvpnCauseCode =
  | 'cipher-mismatch'
  | 'dev-type-mismatch'
  | 'compression-mismatch'
  | 'tls-key-mismatch'
  | 'mtu-mismatch'
  | 'peer-unreachable'
  | 'unexpected-peer-address'
  | 'ccd-refused'
  | 'auth-failed'
  | 'duplicate-common-name'
  | 'certificate-verify-failed';

export interface OpenvpnDiagnosis {
  code: OpenvpnCauseCode;
  /** What happened, in plain language, with the facts the line gave. */
  message: string;
  /** What to change. */
  fix: string;
  /** The peer's address (`ip:port`) or common name when the line named it. */
  peer?: string;
  /** The line it was read from (timestamp removed). */
  line: string;
}

/** Drops a log file's `2026-11-22 11:00:42 ` (and `us=291021 ` at verb ≥ 4) prefix. */
export function stripLogTimestamp(line: string): string {
  return line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (?:us=\d+ )?/, '');
}

const AF_ADDRESS = /\[AF_INET6?\]([0-9a-fA-F.:]+?):(\d+)/;
// Server-mode lines start with the client instance: `127.0.0.1:44469 ` or `site-b/127.0.0.1:58875 `.
const INSTANCE_PREFIX = /^(?:([^\s/]+)\/)?(\d{1,3}(?:\.\d{1,3}){3}:\d+|[0-9a-fA-F:]+:\d+) /;

interface Rule {
  code: OpenvpnCauseCode;
  match: RegExp;
  describe(m: RegExpExecArray): { message: string; fix: string; peer?: string };
}

const CIPHER_FIX =
  'Give both ends at least one data cipher in common in data-ciphers (AES-256-GCM is what Weft ' +
  'renders by default); do not fall back to data-ciphers-fallback, it disables negotiation.';

const TLS_KEY_FIX =
  'Both ends need the same control-channel protection: the same tls-crypt key file on both, or the same ' +
  'tls-auth key with opposite key-direction (0 on one end, 1 on the other). Copy the key again from one ' +
  'end; do not generate one per end.';

/** Ordered: the first match wins (a server's `SENT CONTROL … AUTH_FAILED,Data channel cipher…` line is a cipher problem). */
const RULES: readonly Rule[] = [
  {
    code: 'cipher-mismatch',
    match: /failed to negotiate cipher with peer/,
    describe: () => ({
      message:
        'The two ends share no data-channel cipher; openvpn restarts the connection in a loop (p2p mode).',
      fix: CIPHER_FIX,
    }),
  },
  {
    code: 'cipher-mismatch',
    match:
      /No common cipher between server and client\. Server data-ciphers: '([^']*)', client supported ciphers '([^']*)'/,
    describe: (m) => ({
      message: `The server offers ${m[1] ?? '?'} and the client supports ${m[2] ?? '?'}: no cipher in common, the client is refused.`,
      fix: CIPHER_FIX,
    }),
  },
  {
    code: 'cipher-mismatch',
    match: /AUTH_FAILED,Data channel cipher negotiation failed/,
    describe: () => ({
      message:
        'The server refused this client because they share no data-channel cipher. The client process then ' +
        'exits (SIGTERM[soft,auth-failure]) and does not retry by itself.',
      fix: CIPHER_FIX,
    }),
  },
  {
    code: 'tls-key-mismatch',
    match: /tls-crypt unwrap error: packet authentication failed/,
    describe: () => ({
      message:
        'Control packets from the peer fail the tls-crypt check: the two ends hold different tls-crypt keys.',
      fix: TLS_KEY_FIX,
    }),
  },
  {
    code: 'tls-key-mismatch',
    match: /tls-crypt unwrap error: packet too short/,
    describe: () => ({
      message:
        'This end uses tls-crypt but the peer sends packets too short for it: the peer most likely uses ' +
        'tls-auth (or no control-channel key) instead.',
      fix: TLS_KEY_FIX,
    }),
  },
  {
    code: 'tls-key-mismatch',
    match: /packet HMAC authentication failed/,
    describe: () => ({
      message:
        'Control packets from the peer fail the tls-auth HMAC check: a different key, the same ' +
        'key-direction on both ends, or tls-crypt on the peer.',
      fix: TLS_KEY_FIX,
    }),
  },
  {
    code: 'tls-key-mismatch',
    match: /cannot locate HMAC in incoming packet/,
    describe: () => ({
      message: 'This end expects a tls-auth HMAC but the peer sends none: tls-auth is set on one end only.',
      fix: TLS_KEY_FIX,
    }),
  },
  {
    code: 'certificate-verify-failed',
    match: /VERIFY ERROR: depth=(\d+), error=([^:]+): (.*)$/,
    describe: (m) => ({
      message: `The peer's certificate chain does not verify (${m[2] ?? '?'} at depth ${m[1] ?? '?'}, ${m[3] ?? '?'}). The peer itself only sees a handshake timeout.`,
      fix:
        "Install the CA that issued the peer's certificate as this end's ca (or re-issue the peer's " +
        'certificate from this CA); check both clocks if the error is about validity dates.',
    }),
  },
  {
    code: 'ccd-refused',
    match: /client-config-dir authentication failed for common name '([^']*)'(?: file='([^']*)')?/,
    describe: (m) => ({
      message: `The server refused client '${m[1] ?? '?'}': ccd-exclusive is on and there is no client-config-dir file for it${m[2] ? ` (${m[2]})` : ''}.`,
      fix: "Add a client-config-dir file named exactly after the client's common name, or drop ccd-exclusive.",
      peer: m[1] ?? '',
    }),
  },
  {
    code: 'auth-failed',
    match: /AUTH: Received control message: AUTH_FAILED(?:,(.*))?$/,
    describe: (m) => ({
      message: `The server refused this client${m[1] ? `: ${m[1]}` : ' without saying why'}. The client process then exits and does not retry by itself.`,
      fix:
        "Look at the server's log for the reason. With ccd-exclusive the server needs a client-config-dir " +
        "file named after this client's common name; with an auth script or plugin, check its credentials.",
    }),
  },
  {
    code: 'duplicate-common-name',
    match: /MULTI: new connection by client '([^']*)' will cause previous active sessions/,
    describe: (m) => ({
      message: `A second client connected with the common name '${m[1] ?? '?'}'; the first one is dropped. Two sites sharing one certificate keep knocking each other off.`,
      fix: 'Give every site its own certificate (its own common name). duplicate-cn only hides the problem.',
      peer: m[1] ?? '',
    }),
  },
  {
    code: 'compression-mismatch',
    match: /Bad (LZO|LZ4|[A-Za-z0-9]+) decompression header byte: (\d+)/,
    describe: (m) => ({
      message: `This end expects ${m[1] ?? '?'}-compressed packets but the peer sends something else (header byte ${m[2] ?? '?'}): compression is configured on one end only, or differently.`,
      fix: 'Set the same compress/comp-lzo options on both ends; best, none at all (compression enables VORACLE-style attacks).',
    }),
  },
  {
    code: 'compression-mismatch',
    match:
      /'(comp-lzo|compress)[^']*' is (?:used inconsistently|present in (?:local|remote) config but missing in (?:local|remote) config)/,
    describe: (m) => ({
      message: `The ends disagree about compression (${m[1] ?? '?'}).`,
      fix: 'Set the same compress/comp-lzo options on both ends; best, none at all.',
    }),
  },
  {
    code: 'dev-type-mismatch',
    match: /'dev-type' is used inconsistently, local='([^']*)', remote='([^']*)'/,
    describe: (m) => ({
      message: `This end runs ${m[1] ?? '?'}, the peer ${m[2] ?? '?'}: one end sees IP packets, the other Ethernet frames.`,
      fix: 'Use the same dev-type (tun for routed site-to-site) on both ends.',
    }),
  },
  {
    code: 'mtu-mismatch',
    match: /'(link-mtu|tun-mtu)' is used inconsistently, local='([^']*)', remote='([^']*)'/,
    describe: (m) => ({
      message: `The ends disagree on ${m[1] ?? 'the MTU'} (${m[2] ?? '?'} here, ${m[3] ?? '?'} on the peer): large packets are dropped or fragmented.`,
      fix: 'Set the same tun-mtu (and mssfix) on both ends.',
    }),
  },
  {
    code: 'unexpected-peer-address',
    match:
      /Incoming packet rejected from \[AF_INET6?\]([^\s[]+?)(?:\[\d+\])?, expected peer address: \[AF_INET6?\](\S+)/,
    describe: (m) => ({
      message: `Packets arrive from ${m[1] ?? '?'} but this end expects its peer at ${m[2] ?? '?'}: the configured remote address or port is wrong.`,
      fix: "Correct remote/rport to the peer's real address and port (or add float if the peer's address changes).",
      peer: m[1] ?? '',
    }),
  },
  {
    code: 'peer-unreachable',
    match: /TLS key negotiation failed to occur within (\d+) seconds/,
    describe: (m) => ({
      message: `No TLS handshake with the peer within ${m[1] ?? '?'} seconds: its packets do not arrive (wrong address or port, a firewall, or the peer is down). A wrong CA on the peer looks the same from here.`,
      fix: "Check remote and port against the peer's local/lport, that UDP reaches it (firewall, NAT), and the peer's own log.",
    }),
  },
];

/** Classifies one line on its own. Most lines are not about a misconfiguration: undefined. */
export function classifyOpenvpnLine(raw: string): OpenvpnDiagnosis | undefined {
  const line = stripLogTimestamp(raw);
  for (const rule of RULES) {
    const m = rule.match.exec(line);
    if (!m) continue;
    const described = rule.describe(m);
    const diagnosis: OpenvpnDiagnosis = {
      code: rule.code,
      message: described.message,
      fix: described.fix,
      line,
    };
    const peer = described.peer || peerOf(line);
    if (peer) diagnosis.peer = peer;
    return diagnosis;
  }
  return undefined;
}

function peerOf(line: string): string | undefined {
  const instance = INSTANCE_PREFIX.exec(line);
  if (instance) return instance[1] ?? instance[2];
  const af = AF_ADDRESS.exec(line);
  return af ? `${af[1]}:${af[2]}` : undefined;
}

const SPECIFIC_BEFORE_TIMEOUT = new Set<OpenvpnCauseCode>([
  'tls-key-mismatch',
  'certificate-verify-failed',
  'unexpected-peer-address',
]);

/**
 * Feeds lines of one openvpn process in order; reports each cause once (per cause and peer) until the
 * tunnel comes up again. A handshake timeout is reported only when nothing more specific was seen: a
 * tls-crypt mismatch or a wrong CA always ends in one.
 */
export class OpenvpnDiagnoser {
  private readonly reported = new Set<string>();
  private specificSeen = false;

  observe(raw: string): OpenvpnDiagnosis | undefined {
    const line = stripLogTimestamp(raw);
    if (line.includes('Initialization Sequence Completed')) {
      // Up (again): a later failure is news.
      this.reported.clear();
      this.specificSeen = false;
      return undefined;
    }
    const diagnosis = classifyOpenvpnLine(line);
    if (!diagnosis) return undefined;
    if (SPECIFIC_BEFORE_TIMEOUT.has(diagnosis.code)) this.specificSeen = true;
    if (diagnosis.code === 'peer-unreachable' && this.specificSeen) return undefined;
    const key = `${diagnosis.code}|${diagnosis.code === 'tls-key-mismatch' ? '' : (diagnosis.peer ?? '')}`;
    if (this.reported.has(key)) return undefined;
    if (this.reported.size >= 1024) this.reported.clear();
    this.reported.add(key);
    return diagnosis;
  }
}
