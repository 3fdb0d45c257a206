// The flood aggregator: control packets that fail the tls-crypt or tls-auth check are what a scan or a
// flood against the OpenVPN port looks like (and, at a low rate, a peer with the wrong key). openvpn logs
// two lines per packet; this turns them into one event per source address per window (a minute by
// default), with the count — never one event per packet (CONVENTIONS 12). Pure: the clock is injected,
// and the caller drives flush() (e.g. from a timer) to collect windows that have closed.
//
// The lines (openvpn 2.6.14, captured):
//   tls-crypt unwrap error: packet authentication failed          ← no address: absorbed
//   TLS Error: tls-crypt unwrapping failed from [AF_INET]127.0.0.1:1195          ← counted
//   Authenticate/Decrypt packet error: packet HMAC authentication failed        ← no address: absorbed
//   TLS Error: incoming packet authentication failed from [AF_INET]127.0.0.1:1195 ← counted

export interface Clock {
  /** Milliseconds, monotonic enough for windows. */
  now(): number;
}

export type AuthFailureKind = 'tls-crypt' | 'tls-auth';

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
  /TLS Error: (tls-crypt unwrapping|incoming packet authentication) failed from \[AF_INET6?\]([0-9a-fA-F.:]+?):(\d+)/;
const DETAIL_LINE =
  /^(?:tls-crypt unwrap error: packet (?:authentication failed|too short)|Authenticate\/Decrypt packet error: packet HMAC authentication failed)/;
const MAX_PORTS_TRACKED = 1024;

export class AuthFailureAggregator {
  private readonly buckets = new Map<string, Bucket>();
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
   * Takes one log line (timestamp-free message). Returns whether it was a failure line (counted or
   * absorbed), so a caller can keep it out of the per-line log.
   */
  observe(message: string): boolean {
    const m = FAILED_FROM.exec(message);
    if (!m) return DETAIL_LINE.test(message);
    const kind: AuthFailureKind = m[1] === 'tls-crypt unwrapping' ? 'tls-crypt' : 'tls-auth';
    const now = this.clock.now();
    let source = m[2] ?? '?';
    let key = `${kind}|${source}`;
    if (!this.buckets.has(key) && this.buckets.size >= this.maxSources) {
      source = '*';
      key = `${kind}|*`;
    }
    let bucket = this.buckets.get(key);
    if (bucket && now - bucket.firstAt >= this.windowMs) {
      // Its window closed without a flush(): it is reported by the next flush, and this packet opens a
      // new one. Kept apart under a unique key so no count is lost.
      this.buckets.delete(key);
      this.buckets.set(`${key}|${bucket.firstAt}`, bucket);
      bucket = undefined;
    }
    if (!bucket) {
      bucket = { source, kind, count: 0, ports: new Set(), firstAt: now };
      this.buckets.set(key, bucket);
    }
    bucket.count++;
    if (bucket.ports.size < MAX_PORTS_TRACKED) bucket.ports.add(m[3] ?? '');
    return true;
  }

  /** Events for windows that have closed by now, oldest first; they are forgotten. */
  flush(): AuthFailureEvent[] {
    const now = this.clock.now();
    return this.take((b) => now - b.firstAt >= this.windowMs);
  }

  /** Events for every open window too (at shutdown). */
  drain(): AuthFailureEvent[] {
    return this.take(() => true);
  }

  private take(due: (bucket: Bucket) => boolean): AuthFailureEvent[] {
    const out: AuthFailureEvent[] = [];
    for (const [key, b] of this.buckets) {
      if (!due(b)) continue;
      this.buckets.delete(key);
      out.push({
        source: b.source,
        kind: b.kind,
        count: b.count,
        ports: b.ports.size,
        firstAt: b.firstAt,
        windowEndsAt: b.firstAt + this.windowMs,
      });
    }
    return out.sort((a, b) => a.firstAt - b.firstAt || a.source.localeCompare(b.source));
  }
}
