// The tunnel doctor, OpenVPN part: reads openvpn's log lines (`>LOG:` messages or the log file) and
// names why a tunnel does not come up or carry traffic, with a fix an operator can act on. Pure: no I/O,
// no clock. Every pattern below was seen in openvpn 2.6.14's own output in the lab (fixtures/, and
// README.md beside this file for the command lines and what each misconfiguration prints on each side).
//
// Two layers:
// - classifyOpenvpnLine: one line on its own, for the causes a single line proves.
// - OpenvpnDiagnoser: one per openvpn process, fed its lines in order. It adds what needs context: a
//   handshake timeout means "unreachable" only when the peer never answered and nothing more specific was
//   seen; repeated ICMP port-unreachable turns it into "nothing listens on that port"; an answer without
//   a finished handshake points at the peer refusing our certificate;
//   the AUTH_FAILED reason is carried to the exit it causes; a common name taking over its own session
//   from the same host is a reconnect, from another host a duplicate.
//
// What 2.6.14 does not say at verb 3/4 (dev-type, tun-mtu, compression on the non-compressing side) is in
// the README with the detection that works instead (the on-demand OCC check, mtu-probe.ts).

import type { OpenvpnState } from '../management/management.types.js';

export type OpenvpnCauseCode =
  | 'cipher-mismatch'
  | 'dev-type-mismatch'
  | 'compression-mismatch'
  /** The tun device refused what the peer sent: the peer runs TAP, or compresses. */
  | 'tun-write-rejected'
  | 'tls-key-mismatch'
  | 'mtu-mismatch'
  | 'peer-unreachable'
  | 'port-unreachable'
  /** The peer answered but the TLS handshake did not finish: usually it refused our certificate. */
  | 'handshake-incomplete'
  | 'unexpected-peer-address'
  | 'ccd-refused'
  | 'auth-failed'
  /** openvpn exited after AUTH_FAILED and does not retry by itself. */
  | 'auth-failed-exit'
  | 'duplicate-common-name'
  | 'certificate-verify-failed'
  /**
   * A hub refused a spoke's certificate although its chain verifies: its issuer is not the CA bound to
   * its common name (the hub's tls-verify script, spoke `caPem`).
   */
  | 'certificate-not-bound';

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

/**
 * Whether a line carries key material: at verb 7 openvpn prints every new session's data-channel and
 * dynamic tls-crypt keys (`Outgoing Data Channel: CIPHER KEY: …`, `… HMAC KEY: …`). Such lines must be
 * dropped before anything is logged or stored (CONVENTIONS 10); see the on-demand OCC check in the README.
 */
export function isOpenvpnSecretLine(line: string): boolean {
  return /\b(?:CIPHER|HMAC) KEY: [0-9a-f]{8}/.test(line);
}

const AF_ADDRESS = /\[AF_INET6?\]([0-9a-fA-F.:]+):(\d+)/;
// Server-mode lines start with the client instance: `198.51.100.2:55951 ` or `site-b/198.51.100.2:55951 `.
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

const COMPRESSION_FIX =
  'Set the same compress/comp-lzo options on both ends; best, none at all (compression over an encrypted ' +
  'tunnel enables VORACLE-style attacks, and openvpn 2.6 refuses it unless allow-compression is set).';

const DEV_TYPE_FIX =
  'Use the same dev-type on both ends: tun for a routed site-to-site link, tap only for bridging.';

const NOT_BOUND_FIX =
  'If the spoke really has a new CA, bind the spoke to that CA on the hub (and trust it there): its next ' +
  'handshake is checked against it. If not, someone holding another CA the hub trusts made a ' +
  'certificate in its name: compare the fingerprint with the trusted CAs (openssl x509 -noout ' +
  '-fingerprint -sha256) and stop trusting that CA.';

/** `Bad LZ4 decompression header byte: 69`: what the byte says about the packet that arrived. */
function headerByteMeaning(byte: number): string {
  if (byte >> 4 === 4)
    return ` (0x${byte.toString(16)}: the first byte of a plain IPv4 packet, so the peer does not compress)`;
  if (byte >> 4 === 6)
    return ` (0x${byte.toString(16)}: the first byte of a plain IPv6 packet, so the peer does not compress)`;
  return '';
}

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
      message: `The server offers ${m[1] ?? '?'} and the client supports ${m[2] ?? '?'}: no cipher in common, the client is refused (AUTH_FAILED) and exits.`,
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
        'Control packets fail the tls-crypt check: the two ends hold different tls-crypt keys (in server ' +
        'mode the sender may also be a scanner; see the auth-failure counts).',
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
      message: 'This end expects a tls-auth HMAC but the peer sends none: tls-auth is set on this end only.',
      fix: TLS_KEY_FIX,
    }),
  },
  {
    code: 'tls-key-mismatch',
    match: /TLS Error: reading acknowledgement record from packet/,
    describe: () => ({
      message:
        "The peer's control packets do not parse here: the peer protects its control channel with tls-auth " +
        'and this end has no tls-auth key.',
      fix: TLS_KEY_FIX,
    }),
  },
  {
    code: 'certificate-verify-failed',
    match: /VERIFY ERROR: depth=(\d+), error=([^:]+): (.*)$/,
    describe: (m) => ({
      message: `The peer's certificate chain does not verify here (${m[2] ?? '?'} at depth ${m[1] ?? '?'}, ${(m[3] ?? '?').replace(/, serial=\d+$/, '')}). The peer itself only sees a handshake that never finishes.`,
      fix:
        "Install the CA that issued the peer's certificate as this end's ca (or re-issue the peer's " +
        'certificate from this CA); check both clocks if the error is about validity dates.',
    }),
  },
  // The hub's spoke-CA binding (config/openvpn.config.ts, renderTlsVerifyScript). Its script writes the
  // `weft: …` lines to openvpn's stderr: they are in the log file only, without a timestamp. openvpn
  // itself then logs `<client> VERIFY SCRIPT ERROR: depth=0, <subject>`, in the file and over management
  // (fixtures/ca-binding.*). Both name the common name, so the diagnoser reports one of them per name.
  {
    code: 'certificate-not-bound',
    match: /^weft: CN "([^"]*)" is not issued by the CA bound to it \(issuer sha256 ([0-9a-f:]+)\)/,
    describe: (m) => ({
      message: `The hub refused a certificate with the common name '${m[1] ?? '?'}': its chain verifies, but its issuer (SHA-256 ${m[2] ?? '?'}) is not the CA bound to spoke ${m[1] ?? '?'}. Either that spoke's certificate now comes from another CA the hub was not given, or another CA the hub trusts made a certificate in this spoke's name to take its tunnel address and subnets.`,
      fix: NOT_BOUND_FIX,
      peer: m[1] ?? '',
    }),
  },
  {
    code: 'certificate-not-bound',
    match: /^weft: CN "([^"]*)" has no CA bound to it \(issuer sha256 ([0-9a-f:]+)\)/,
    describe: (m) => ({
      message: `The hub refused a certificate with the common name '${m[1] ?? '?'}' (issuer SHA-256 ${m[2] ?? '?'}): no spoke of this hub has that name, so no CA is bound to it.`,
      fix:
        'If it is a new site, add its spoke to the hub (its common name and its CA); if it is not one of yours, ' +
        'nothing to do: it stays refused. A CA the hub trusts issued it, so ask who holds that CA.',
      peer: m[1] ?? '',
    }),
  },
  {
    code: 'certificate-not-bound',
    match: /^weft: (?:CN "([^"]*)" refused: (.*)|refused a certificate whose (.*))$/,
    describe: (m) => ({
      message: m[1]
        ? `The hub refused the certificate of '${m[1]}': ${m[2] ?? '?'}.`
        : `The hub refused a certificate whose ${m[3] ?? '?'}.`,
      fix: 'Issue the spoke a certificate with exactly one common name (its spoke name) from the CA bound to it.',
      ...(m[1] ? { peer: m[1] } : {}),
    }),
  },
  {
    code: 'certificate-not-bound',
    match: /VERIFY SCRIPT ERROR: depth=0, (.*)$/,
    describe: (m) => {
      const subject = m[1] ?? '?';
      // openvpn names the session by the last CN of the subject.
      const cn = [...subject.matchAll(/(?:^|, )CN=([^,]*)/g)].at(-1)?.[1];
      return {
        message: `The hub's tls-verify check refused the certificate ${subject}: Weft binds each spoke's common name to the CA that must issue it, and this certificate's issuer is not the one bound to that name (the hub's log file has a 'weft:' line with the issuer's fingerprint).`,
        fix: NOT_BOUND_FIX,
        ...(cn ? { peer: cn } : {}),
      };
    },
  },
  {
    code: 'ccd-refused',
    match: /client-config-dir authentication failed for common name '([^']*)'(?: file='([^']*)')?/,
    describe: (m) => ({
      message: `The server refused client '${m[1] ?? '?'}': ccd-exclusive is on and there is no client-config-dir file for it${m[2] ? ` (${m[2]})` : ''}. The client exits.`,
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
    code: 'auth-failed-exit',
    match: /SIGTERM\[soft,auth-failure\] received, process exiting/,
    describe: () => ({
      message:
        'openvpn exited because the server refused it (AUTH_FAILED); it does not retry by itself, so the ' +
        'link stays down.',
      fix:
        'Fix the reason the server gave (reported just before), then start the link again; restarting ' +
        'without a change only gets refused again.',
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
      message: `This end expects ${m[1] ?? '?'}-compressed packets but the peer sends something else (header byte ${m[2] ?? '?'}${headerByteMeaning(Number(m[2]))}): compression is configured on one end only, or differently.`,
      fix: COMPRESSION_FIX,
    }),
  },
  {
    code: 'tun-write-rejected',
    match: /write to TUN\/TAP : Invalid argument/,
    describe: () => ({
      message:
        'The tun device rejects what the peer sends: those are not IP packets. Either the peer runs dev tap ' +
        '(it sends Ethernet frames) or it compresses and this end does not. openvpn 2.6 does not say which; ' +
        'the on-demand OCC check tells (dev-type is compared there).',
      fix: `${DEV_TYPE_FIX} ${COMPRESSION_FIX}`,
    }),
  },
  // OCC: the options-consistency warnings. openvpn 2.6.14 prints them only at verb 7 (at verb 3-6 a
  // mismatch of dev-type, tun-mtu or compression is silent); the on-demand OCC check raises the
  // verbosity for one reconnect to get them. Any compression (comp-lzo or compress lz4) shows up as
  // 'comp-lzo'. 'link-mtu' follows from tun-mtu, dev-type and compression and is not reported itself.
  {
    code: 'compression-mismatch',
    match: /WARNING: '(comp-lzo|compress)[^']*' is (?:used inconsistently|present in (local|remote) config)/,
    describe: (m) => ({
      message:
        m[2] === 'remote'
          ? `The peer uses ${m[1] ?? '?'} and this end does not: one end compresses, the other cannot read it.`
          : m[2] === 'local'
            ? `This end uses ${m[1] ?? '?'} and the peer does not: one end compresses, the other cannot read it.`
            : `The ends disagree about compression (${m[1] ?? '?'}).`,
      fix: COMPRESSION_FIX,
    }),
  },
  {
    code: 'dev-type-mismatch',
    match: /WARNING: 'dev-type' is used inconsistently, local='dev-type ([^']*)', remote='dev-type ([^']*)'/,
    describe: (m) => ({
      message: `This end runs ${m[1] ?? '?'}, the peer ${m[2] ?? '?'}: one end sends IP packets, the other Ethernet frames; nothing gets through.`,
      fix: DEV_TYPE_FIX,
    }),
  },
  {
    code: 'mtu-mismatch',
    match: /WARNING: 'tun-mtu' is used inconsistently, local='tun-mtu (\d+)', remote='tun-mtu (\d+)'/,
    describe: (m) => ({
      message: `The ends disagree on tun-mtu (${m[1] ?? '?'} here, ${m[2] ?? '?'} on the peer): the side with the larger MTU sends packets the other would not, and their TCP MSS clamps differ; over an underlay that drops fragments, large packets vanish.`,
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
      message: `No TLS handshake with the peer within ${m[1] ?? '?'} seconds: its packets do not arrive (wrong address or port, a firewall, or the peer is down).`,
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

/** A server-mode line's client instance (`site-b/198.51.100.2:55951 …`): its address, or undefined. */
function instanceAddress(line: string): string | undefined {
  return INSTANCE_PREFIX.exec(line)?.[2];
}

function withoutPort(address: string): string {
  const i = address.lastIndexOf(':');
  return i > 0 ? address.slice(0, i) : address;
}

const SPECIFIC_BEFORE_TIMEOUT = new Set<OpenvpnCauseCode>([
  'tls-key-mismatch',
  'certificate-verify-failed',
  'certificate-not-bound',
  'unexpected-peer-address',
]);

/** Causes of the data path: a (re)connect does not cure them, so they are not reported again after one. */
const DATA_PATH_CAUSES = new Set<OpenvpnCauseCode>([
  'dev-type-mismatch',
  'compression-mismatch',
  'tun-write-rejected',
  'mtu-mismatch',
]);

/** Timeouts that only mean something when nothing more specific was seen. */
const TIMEOUT_CAUSES = new Set<OpenvpnCauseCode>([
  'peer-unreachable',
  'port-unreachable',
  'handshake-incomplete',
]);

/** A client restarting quickly takes over its own old session too: from one host, report it from this many on. */
const SAME_HOST_TAKEOVERS = 3;

/** Per connection attempt (reset when openvpn restarts or comes up). */
interface Attempt {
  refused: number;
  answered: boolean;
  specificSeen: boolean;
}

export interface OpenvpnDiagnoserOptions {
  /**
   * The control-channel protection this end is configured with. At verb 3 openvpn does not say it, and it
   * changes what a bare handshake timeout means: a server holding a different tls-crypt key drops our
   * packets without answering (lab: the client sees nothing but the timeout).
   */
  controlChannel?: 'tls-crypt' | 'tls-auth' | 'none';
}

/**
 * Feeds lines of one openvpn process in order; reports each cause once (per cause and peer) until the
 * tunnel comes up again. Also takes `>STATE:` notifications (observeState) for the exit on AUTH_FAILED.
 */
export class OpenvpnDiagnoser {
  private readonly reported = new Set<string>();
  private attempt: Attempt = { refused: 0, answered: false, specificSeen: false };
  private linkRemote: string | undefined;
  private peerCiphers: string | undefined;
  private controlChannel: 'tls-crypt' | 'tls-auth' | undefined;

  constructor(options: OpenvpnDiagnoserOptions = {}) {
    if (options.controlChannel && options.controlChannel !== 'none') {
      this.controlChannel = options.controlChannel;
    }
  }
  private authFailedReason: string | undefined;
  /** Server mode: per common name, the address of its latest connection and how often it took over its own. */
  private readonly clients = new Map<string, { address: string; previous?: string; sameHost: number }>();

  /** One line (log file or `>LOG:` message); the causes it completes, usually none. */
  observe(raw: string): OpenvpnDiagnosis[] {
    const line = stripLogTimestamp(raw);
    const out: OpenvpnDiagnosis[] = [];
    if (line.includes('Initialization Sequence Completed')) {
      // Up (again): a later handshake failure is news. (A server logs this at start, before any client.)
      for (const key of this.reported) {
        if (!DATA_PATH_CAUSES.has(key.slice(0, key.indexOf('|')) as OpenvpnCauseCode))
          this.reported.delete(key);
      }
      this.attempt = { refused: 0, answered: false, specificSeen: false };
      return out;
    }
    if (/^SIG(?:USR1|HUP)\[[^\]]*\] received, process restarting/.test(line)) {
      this.attempt = { refused: 0, answered: false, specificSeen: this.attempt.specificSeen };
      return out;
    }
    this.learn(line);

    const diagnosis = classifyOpenvpnLine(line);
    const refined = diagnosis && this.refine(diagnosis, line);
    if (refined) this.report(refined, out);
    return out;
  }

  /** A `>STATE:` notification: `EXITING,auth-failure` is the exit on AUTH_FAILED. */
  observeState(state: Pick<OpenvpnState, 'name' | 'description'>): OpenvpnDiagnosis[] {
    if (state.name !== 'EXITING' || state.description !== 'auth-failure') return [];
    const out: OpenvpnDiagnosis[] = [];
    this.report(this.exitDiagnosis(`>STATE:EXITING,auth-failure`), out);
    return out;
  }

  private learn(line: string): void {
    if (/read UDPv[46] \[ECONNREFUSED\]/.test(line) && !instanceAddress(line)) this.attempt.refused++;
    if (/^TLS: Initial packet from /.test(line)) this.attempt.answered = true;
    const remote = /link remote: \[AF_INET6?\](\S+)/.exec(line);
    if (remote?.[1]) this.linkRemote = remote[1];
    const ciphers = /^(?:\S+ )?peer info: IV_CIPHERS=(\S+)/.exec(line);
    if (ciphers?.[1]) this.peerCiphers = ciphers[1];
    if (/Control Channel Encryption: /.test(line)) this.controlChannel = 'tls-crypt';
    else if (/Control Channel Authentication: /.test(line)) this.controlChannel = 'tls-auth';
    const auth = /AUTH: Received control message: AUTH_FAILED(?:,(.*))?$/.exec(line);
    if (auth) this.authFailedReason = auth[1] ?? 'no reason given';
    const initiated = /\[([^\]]+)\] Peer Connection Initiated with \[AF_INET6?\](\S+)/.exec(line);
    if (initiated?.[1] && initiated[2] && instanceAddress(line)) {
      const known = this.clients.get(initiated[1]);
      if (!known && this.clients.size >= 1024) this.clients.clear();
      this.clients.set(initiated[1], {
        address: initiated[2],
        previous: known?.address,
        sameHost: known?.sameHost ?? 0,
      });
    }
  }

  /** Adds what the earlier lines of this process tell. */
  private refine(d: OpenvpnDiagnosis, line: string): OpenvpnDiagnosis | undefined {
    switch (d.code) {
      case 'cipher-mismatch':
        if (this.peerCiphers && /failed to negotiate cipher/.test(line)) {
          return {
            ...d,
            message: `${d.message} The peer offers ${this.peerCiphers.split(':').join(', ')}; none of them is in this end's data-ciphers.`,
          };
        }
        return d;
      case 'auth-failed-exit':
        return this.exitDiagnosis(line);
      case 'duplicate-common-name':
        return this.duplicate(d);
      case 'peer-unreachable':
        return this.timeout(d, line);
      case 'dev-type-mismatch':
      case 'compression-mismatch':
      case 'tun-write-rejected':
      case 'tls-key-mismatch':
      case 'mtu-mismatch':
      case 'port-unreachable':
      case 'handshake-incomplete':
      case 'unexpected-peer-address':
      case 'ccd-refused':
      case 'auth-failed':
      case 'certificate-verify-failed':
      case 'certificate-not-bound':
        return d;
    }
  }

  private timeout(d: OpenvpnDiagnosis, line: string): OpenvpnDiagnosis {
    const client = instanceAddress(line);
    const seconds = /within (\d+) seconds/.exec(line)?.[1] ?? '?';
    if (client) {
      // Server side: the client did reach us, so it is not unreachable.
      return {
        ...d,
        code: 'handshake-incomplete',
        peer: withoutPort(client),
        message: `The client at ${client} started a handshake but did not finish it within ${seconds} seconds: it most likely refused this server's certificate (wrong CA on the client), or it went away.`,
        fix: "Check the client's log for VERIFY ERROR; give it the CA that issued this server's certificate.",
      };
    }
    const peer = this.linkRemote;
    const at = peer ? ` at ${peer}` : '';
    const withPeer = (x: OpenvpnDiagnosis): OpenvpnDiagnosis => (peer ? { ...x, peer } : x);
    if (this.attempt.answered) {
      return withPeer({
        ...d,
        code: 'handshake-incomplete',
        message: `The peer${at} answered, but the TLS handshake did not finish within ${seconds} seconds: the peer most likely refused this end's certificate (its ca does not hold the CA that issued ours).`,
        fix: "Look for VERIFY ERROR in the peer's log; give the peer the CA that issued this end's certificate (or re-issue ours from its CA).",
      });
    }
    if (this.attempt.refused >= 2) {
      return withPeer({
        ...d,
        code: 'port-unreachable',
        message: `The host${at} answers that nothing listens on that port (ICMP port unreachable, ${this.attempt.refused} times); no TLS handshake within ${seconds} seconds.`,
        fix: "Correct the port (remote/rport) to the peer's local port, and check that openvpn runs on the peer.",
      });
    }
    if (this.controlChannel) {
      return withPeer({
        ...d,
        message: `${d.message.replace('the peer', `the peer${at}`)} With ${this.controlChannel} a peer holding a different key drops our packets without answering, which looks the same from here.`,
        fix: `${d.fix} Compare the ${this.controlChannel} key on both ends.`,
      });
    }
    return withPeer({ ...d, message: d.message.replace('the peer', `the peer${at}`) });
  }

  /**
   * `MULTI: new connection by client 'X' will cause previous active sessions…` names no address; the
   * `[X] Peer Connection Initiated with …` line just before it does. From another host it is a second site
   * with the same certificate; from the same host it is usually the client reconnecting before the server
   * timed out its old session (lab: a client's SIGUSR1 restart prints the same line), so only a repeat says
   * more.
   */
  private duplicate(d: OpenvpnDiagnosis): OpenvpnDiagnosis | undefined {
    const cn = d.peer ?? '';
    const client = this.clients.get(cn);
    if (!client?.previous) return d;
    const now = withoutPort(client.address);
    const before = withoutPort(client.previous);
    if (now !== before) {
      return {
        ...d,
        message: `Two clients use the common name '${cn}': ${client.address} took over the session of ${client.previous}. Each new connection drops the other, so both sites keep flapping.`,
      };
    }
    client.sameHost++;
    if (client.sameHost < SAME_HOST_TAKEOVERS) return undefined;
    return {
      ...d,
      message: `Client '${cn}' took over its own session from ${now} ${client.sameHost} times: either it restarts again and again, or two sites behind one NAT address share this certificate.`,
    };
  }

  private exitDiagnosis(line: string): OpenvpnDiagnosis {
    const reason = this.authFailedReason;
    return {
      code: 'auth-failed-exit',
      message:
        'openvpn exited because the server refused it (AUTH_FAILED' +
        (reason ? `: ${reason}` : '') +
        '); it does not retry by itself, so the link stays down.',
      fix:
        'Fix the reason the server gave (reported just before), then start the link again; restarting ' +
        'without a change only gets refused again.',
      line,
    };
  }

  private report(d: OpenvpnDiagnosis, out: OpenvpnDiagnosis[]): void {
    if (SPECIFIC_BEFORE_TIMEOUT.has(d.code)) this.attempt.specificSeen = true;
    if (TIMEOUT_CAUSES.has(d.code) && this.attempt.specificSeen && !instanceAddress(d.line)) return;
    if (
      d.code === 'tun-write-rejected' &&
      (this.seen('dev-type-mismatch') || this.seen('compression-mismatch'))
    ) {
      return;
    }
    // One report per cause and peer; a flood from many ports of one address is one peer.
    const peer = d.code === 'tls-key-mismatch' ? '' : withoutPort(d.peer ?? '');
    const key = `${d.code}|${peer}`;
    if (this.reported.has(key)) return;
    if (this.reported.size >= 1024) this.reported.clear();
    this.reported.add(key);
    out.push(d);
  }

  private seen(code: OpenvpnCauseCode): boolean {
    for (const key of this.reported) if (key.startsWith(`${code}|`)) return true;
    return false;
  }
}
