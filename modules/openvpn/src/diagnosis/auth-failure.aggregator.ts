// The flood aggregator: control packets that fail the tls-crypt or tls-auth check are what a scan or a
// flood against the OpenVPN port looks like (and, at a low rate, a peer with the wrong key). openvpn logs
// two lines per such packet and does not rate-limit them (lab: 1,000 packets/s of junk with a control
// opcode → 1,000 "failed from" lines/s, ≈ 160 kB/s of log, see the README); this turns them into one event
// per source address per window (a minute by default), with the count — never one event per packet
// (CONVENTIONS 12). Pure: the clock is injected, and the caller drives flush() (e.g. from a timer) to
// collect windows that have closed.
//
// The lines (openvpn 2.6.14, captured in fixtures/flood-*.log; the detail line comes first):
//   tls-crypt unwrap error: packet authentication failed                          ← no address: absorbed
//   tls-crypt unwrap error: packet too short                                      ← no address: absorbed
//   TLS Error: tls-crypt unwrapping failed from [AF_INET]198.51.100.2:43419        ← counted, tls-crypt
//   Authenticate/Decrypt packet error: packet HMAC authentication failed          ← no address: absorbed
//   TLS Error: incoming packet authentication failed from [AF_INET]198.51.100.2:… ← counted, tls-auth
//   TLS Error: cannot locate HMAC in incoming packet from [AF_INET]198.51.100.2:… ← counted, tls-auth
//   Client wants tls-crypt-v2, but no server key present.                         ← no address: absorbed
//   TLS Error: can not extract tls-crypt-v2 client key from [AF_INET]198.51.100.2:… ← counted, tls-crypt-v2
// Junk whose first byte is no control opcode is dropped by openvpn without a line (lab: ≈ 2 % of random
// payloads were logged at all).

import { stripLogTimestamp } from './openvpn.diagnosis.js';

export interface Clock {
  /** Milliseconds, monotonic enough for windows. */
  now(): number;
}

export type AuthFailureKind = 'tls-crypt' | 'tls-auth' | 'tls-crypt-v2';

export interface AuthFailureEvent {
  /** The source IP address; `*` for sources beyond `maxSources` in one window (spoofed floods). */
  source: string;
  kind: AuthFailureKind;
  /** Packets that failed in the window. */
  count: number;
  /** Distinct source ports seen (a flood varies them; a misconfigured peer does not). */
  ports: number;
  /** First failure and window end, milliseconds of the injected clock. */
  firstAt: number;
  windowEndsAt: number;
}

export interface AuthFailureAggregatorOptions {
  /** Default 60,000 ms. */
  windowMs?: number;
  /** Sources tracked per window before the rest are counted under `*`; default 4096. */
  maxSources?: number;
}

interface Bucket {
  source: string;
  kind: AuthFailureKind;
  count: number;
  ports: Set<string>;
  firstAt: number;
}

const FAILED_FROM =
  /TLS Error: (tls-crypt unwrapping failed|incoming packet authentication failed|cannot locate HMAC in incoming packet|can not extract tls-crypt-v2 client key) from \[AF_INET6?\]([0-9a-fA-F.:]+):(\d+)/;
const KINDS: Record<string, AuthFailureKind> = {
  'tls-crypt unwrapping failed': 'tls-crypt',
  'incoming packet authentication failed': 'tls-auth',
  'cannot locate HMAC in incoming packet': 'tls-auth',
  'can not extract tls-crypt-v2 client key': 'tls-crypt-v2',
};
const DETAIL_LINE =
  /^(?:tls-crypt unwrap error: packet (?:authentication failed|too short)|Authenticate\/Decrypt packet error: packet HMAC authentication failed|Client wants tls-crypt-v2, but no server key present\.)/;
const MAX_PORTS_TRACKED = 1024;

export class AuthFailureAggregator {
  /** Open windows by `kind|source`. */
  private readonly open = new Map<string, Bucket>();
  /** Windows that closed before a flush() collected them. */
  private closed: Bucket[] = [];
  /** Open windows of named sources (not `*`), the number `maxSources` caps. */
  private named = 0;
  private readonly windowMs: number;
  private readonly maxSources: number;

  constructor(
    private readonly clock: Clock,
    options: AuthFailureAggregatorOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.maxSources = options.maxSources ?? 4096;
  }

  /**
   * Takes one log line (a `>LOG:` message or a log-file line). Returns whether it was a failure line
   * (counted or absorbed), so a caller can keep it out of the per-line log.
   */
  observe(raw: string): boolean {
    const message = stripLogTimestamp(raw);
    const m = FAILED_FROM.exec(message);
    if (!m) return DETAIL_LINE.test(message);
    const kind: AuthFailureKind = KINDS[m[1] ?? ''] ?? 'tls-crypt';
    const now = this.clock.now();
    this.closeDue(now);
    let source = m[2] ?? '?';
    let key = `${kind}|${source}`;
    if (!this.open.has(key) && this.named >= this.maxSources) {
      source = '*';
      key = `${kind}|*`;
    }
    let bucket = this.open.get(key);
    if (!bucket) {
      bucket = { source, kind, count: 0, ports: new Set(), firstAt: now };
      this.open.set(key, bucket);
      if (source !== '*') this.named++;
    }
    bucket.count++;
    if (bucket.ports.size < MAX_PORTS_TRACKED) bucket.ports.add(m[3] ?? '');
    return true;
  }

  /** Events for windows that have closed by now, oldest first; they are forgotten. */
  flush(): AuthFailureEvent[] {
    this.closeDue(this.clock.now());
    const out = this.closed.map((b) => this.event(b));
    this.closed = [];
    return sortEvents(out);
  }

  /** Events for every window, open ones too (at shutdown). */
  drain(): AuthFailureEvent[] {
    const out = [...this.closed, ...this.open.values()].map((b) => this.event(b));
    this.closed = [];
    this.open.clear();
    this.named = 0;
    return sortEvents(out);
  }

  /**
   * Moves windows that are over to `closed`, so the source's next packet opens a new one. The map keeps
   * insertion order, which is `firstAt` order with a monotonic clock: stop at the first open window.
   */
  private closeDue(now: number): void {
    for (const [key, b] of this.open) {
      if (now - b.firstAt < this.windowMs) break;
      this.open.delete(key);
      if (b.source !== '*') this.named--;
      this.closed.push(b);
    }
  }

  private event(b: Bucket): AuthFailureEvent {
    return {
      source: b.source,
      kind: b.kind,
      count: b.count,
      ports: b.ports.size,
      firstAt: b.firstAt,
      windowEndsAt: b.firstAt + this.windowMs,
    };
  }
}

function sortEvents(events: AuthFailureEvent[]): AuthFailureEvent[] {
  return events.sort((a, b) => a.firstAt - b.firstAt || a.source.localeCompare(b.source));
}
