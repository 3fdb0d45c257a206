// The message layer: whole lines in, command replies and real-time notifications out.
//
// openvpn's rule: a line starting with `>` is a notification, anything else belongs to the reply of the
// command in flight. Notifications may arrive at any point, also between the rows of a multi-line reply
// (a `>LOG:` or `>BYTECOUNT:` inside `status 3`'s block). The protocol does not say which shape a reply
// has; the command does, so the session tells the parser what it expects before it sends:
//   single      `SUCCESS: …` or `ERROR: …`                       (state on, bytecount N, hold release, kill…)
//   list        rows up to `END`, or one `ERROR: …`               (state, status 3, log all, version)
//   single+list `SUCCESS: …`, then rows up to `END`; or `ERROR:`  (state on all, log on all)
import { ManagementParseError } from './management.errors.js';
import {
  OPENVPN_STATE_NAMES,
  type ManagementNotification,
  type OpenvpnLogLevel,
  type OpenvpnLogLine,
  type OpenvpnState,
  type OpenvpnStateName,
} from './management.types.js';

export type ReplyShape = 'single' | 'list' | 'single-then-list';

export type ManagementReply =
  /** `message` is the text after `SUCCESS: `; `rows` the lines before `END` for list shapes. */
  { ok: true; message: string; rows: string[] } | { ok: false; message: string };

export type ParsedLine =
  { kind: 'reply'; reply: ManagementReply } | { kind: 'notification'; notification: ManagementNotification };

interface Pending {
  shape: ReplyShape;
  /** For single-then-list: the SUCCESS line was read, rows follow. */
  listing: boolean;
  message: string;
  rows: string[];
}

interface ClientBlock {
  event: string;
  args: string[];
  env: Record<string, string>;
}

/** Stateful: one per connection. */
export class ManagementParser {
  private pending: Pending | undefined;
  private client: ClientBlock | undefined;

  /** The next non-notification lines answer a command whose reply has `shape`. */
  expect(shape: ReplyShape): void {
    if (this.pending) throw new Error('ManagementParser.expect: a reply is still pending');
    this.pending = { shape, listing: shape === 'list', message: '', rows: [] };
  }

  get awaitingReply(): boolean {
    return this.pending !== undefined;
  }

  /** Feeds one line (without its ending); returns what it completes. Throws ManagementParseError. */
  push(line: string): ParsedLine[] {
    if (line.startsWith('>')) return this.notificationLine(line);
    const out = this.flushClient();
    const pending = this.pending;
    if (!pending) {
      throw new ManagementParseError(`openvpn sent a reply line while no command was pending: ${clip(line)}`);
    }
    if (!pending.listing) {
      const error = /^ERROR:\s?(.*)$/.exec(line);
      if (error) {
        this.pending = undefined;
        out.push({ kind: 'reply', reply: { ok: false, message: error[1] ?? '' } });
        return out;
      }
      const success = /^SUCCESS:\s?(.*)$/.exec(line);
      if (!success) {
        throw new ManagementParseError(`expected SUCCESS: or ERROR: from openvpn, got: ${clip(line)}`);
      }
      if (pending.shape === 'single') {
        this.pending = undefined;
        out.push({ kind: 'reply', reply: { ok: true, message: success[1] ?? '', rows: [] } });
      } else {
        pending.listing = true;
        pending.message = success[1] ?? '';
      }
      return out;
    }
    // A list command openvpn refuses (`status 9`, `kill` in p2p mode) answers with one ERROR line.
    const error = /^ERROR:\s?(.*)$/.exec(line);
    if (error && pending.shape === 'list' && pending.rows.length === 0) {
      this.pending = undefined;
      out.push({ kind: 'reply', reply: { ok: false, message: error[1] ?? '' } });
      return out;
    }
    if (line === 'END') {
      this.pending = undefined;
      out.push({ kind: 'reply', reply: { ok: true, message: pending.message, rows: pending.rows } });
      return out;
    }
    pending.rows.push(line);
    return out;
  }

  private notificationLine(line: string): ParsedLine[] {
    const colon = line.indexOf(':');
    if (colon < 0) throw new ManagementParseError(`malformed openvpn notification: ${clip(line)}`);
    const source = line.slice(1, colon);
    const payload = line.slice(colon + 1);
    if (source === 'CLIENT') return this.clientLine(payload);
    const out = this.flushClient();
    out.push({ kind: 'notification', notification: parseNotification(source, payload) });
    return out;
  }

  private clientLine(payload: string): ParsedLine[] {
    if (payload.startsWith('ENV,')) {
      const block = this.client;
      if (!block) throw new ManagementParseError('openvpn sent >CLIENT:ENV outside a >CLIENT: block');
      const pair = payload.slice(4);
      if (pair === 'END') return this.flushClient();
      const eq = pair.indexOf('=');
      if (eq < 0) block.env[pair] = '';
      else block.env[pair.slice(0, eq)] = pair.slice(eq + 1);
      return [];
    }
    const out = this.flushClient();
    const [event = '', ...args] = payload.split(',');
    const block: ClientBlock = { event, args, env: {} };
    if (event === 'ADDRESS') out.push(clientNotification(block));
    else this.client = block;
    return out;
  }

  /** A >CLIENT: block cut short by another line is delivered as far as it got. */
  private flushClient(): ParsedLine[] {
    const block = this.client;
    if (!block) return [];
    this.client = undefined;
    return [clientNotification(block)];
  }
}

function clientNotification(block: ClientBlock): ParsedLine {
  const notification: ManagementNotification = {
    type: 'client',
    event: block.event,
    args: block.args,
    env: block.env,
  };
  const cid = optionalInt(block.args[0]);
  if (cid !== undefined) notification.clientId = cid;
  // ADDRESS's second field is an address, not a key id.
  const kid = block.event === 'ADDRESS' ? undefined : optionalInt(block.args[1]);
  if (kid !== undefined) notification.keyId = kid;
  return { kind: 'notification', notification };
}

/** Parses one real-time message (`>SOURCE:payload`, without the `>` and colon). */
export function parseNotification(source: string, payload: string): ManagementNotification {
  switch (source) {
    case 'STATE':
      return { type: 'state', state: parseStateRow(payload) };
    case 'LOG':
      return { type: 'log', log: parseLogRow(payload) };
    case 'BYTECOUNT': {
      const [bytesIn, bytesOut] = ints(payload, 2, 'BYTECOUNT');
      return { type: 'bytecount', bytesIn, bytesOut };
    }
    case 'BYTECOUNT_CLI': {
      const [clientId, bytesIn, bytesOut] = ints(payload, 3, 'BYTECOUNT_CLI');
      return { type: 'bytecount-cli', clientId, bytesIn, bytesOut };
    }
    case 'HOLD': {
      const wait = /:(\d+)$/.exec(payload);
      return wait?.[1] !== undefined
        ? { type: 'hold', message: payload, waitSeconds: Number(wait[1]) }
        : { type: 'hold', message: payload };
    }
    case 'INFO':
      return { type: 'info', message: payload };
    case 'FATAL':
      return { type: 'fatal', message: payload };
    default:
      return { type: 'other', source, payload };
  }
}

/** `time,name,description,tunIpv4,remoteAddr,remotePort,localAddr,localPort,tunIpv6`. */
export function parseStateRow(row: string): OpenvpnState {
  const f = row.split(',');
  const time = Number(f[0]);
  const rawName = f[1] ?? '';
  if (!Number.isSafeInteger(time) || f[0] === '' || rawName === '') {
    throw new ManagementParseError(`malformed openvpn state row: ${clip(row)}`);
  }
  const state: OpenvpnState = {
    time,
    name: (OPENVPN_STATE_NAMES as readonly string[]).includes(rawName)
      ? (rawName as OpenvpnStateName)
      : 'UNKNOWN',
    rawName,
    description: f[2] ?? '',
  };
  if (f[3]) state.tunIpv4 = f[3];
  if (f[4]) state.remoteAddress = f[4];
  const remotePort = optionalInt(f[5]);
  if (remotePort !== undefined) state.remotePort = remotePort;
  if (f[6]) state.localAddress = f[6];
  const localPort = optionalInt(f[7]);
  if (localPort !== undefined) state.localPort = localPort;
  if (f[8]) state.tunIpv6 = f[8];
  return state;
}

const LOG_LEVELS: Record<string, OpenvpnLogLevel> = {
  F: 'fatal',
  N: 'error',
  W: 'warning',
  I: 'info',
  D: 'debug',
};

/** `time,flags,message` — the message may hold commas. */
export function parseLogRow(row: string): OpenvpnLogLine {
  const first = row.indexOf(',');
  const second = first < 0 ? -1 : row.indexOf(',', first + 1);
  const time = Number(row.slice(0, first));
  if (second < 0 || first === 0 || !Number.isSafeInteger(time)) {
    throw new ManagementParseError(`malformed openvpn log row: ${clip(row)}`);
  }
  const flags = row.slice(first + 1, second);
  let level: OpenvpnLogLevel = 'none';
  for (const letter of ['F', 'N', 'W', 'I', 'D']) {
    if (flags.includes(letter)) {
      level = LOG_LEVELS[letter] ?? 'none';
      break;
    }
  }
  return { time, flags, level, message: row.slice(second + 1) };
}

function ints(payload: string, count: 2, what: string): [number, number];
function ints(payload: string, count: 3, what: string): [number, number, number];
function ints(payload: string, count: number, what: string): number[] {
  const parts = payload.split(',');
  const values = parts.map((p) => (/^\d+$/.test(p) ? Number(p) : NaN));
  if (parts.length !== count || values.some((v) => !Number.isSafeInteger(v))) {
    throw new ManagementParseError(`malformed openvpn ${what} notification: ${clip(payload)}`);
  }
  return values;
}

function optionalInt(text: string | undefined): number | undefined {
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined;
}

function clip(line: string): string {
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}
