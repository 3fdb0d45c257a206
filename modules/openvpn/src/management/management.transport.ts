// The management transport: CRLF-terminated text lines on a UNIX stream socket (`--management <path>
// unix`). The layers above see whole lines only; this one reassembles lines split across reads and splits
// reads holding several. It never half-closes: openvpn 2.6 drops the session when the client shuts down
// its writing side, and notifications would stop (LAB-NOTES).
import { connect, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { abortedError, ManagementParseError, ManagementTransportError } from './management.errors.js';

/** Longest line accepted. openvpn's own buffers hold lines of a few KiB; status rows stay well below. */
export const MANAGEMENT_MAX_LINE_BYTES = 64 * 1024;

export interface ManagementTransportHandlers {
  /** One line, without its line ending. */
  line(line: string): void;
  /** The connection is gone; `error` says why unless close() was called. Called once. */
  closed(error: Error | undefined): void;
}

/** What the session needs from a connection; tests inject their own. */
export interface ManagementTransport {
  /** Starts delivering lines to `handlers`. Called once, right after the session takes the transport. */
  start(handlers: ManagementTransportHandlers): void;
  /** Sends one command line (the line ending is added here); a failure shows up as `closed(error)`. */
  send(line: string): void;
  /** Closes the connection; `closed` is then called with `undefined`. */
  close(): void;
}

/** Splits a byte stream into lines ending in LF (a CR before it is dropped). UTF-8 safe across reads. */
export class LineDecoder {
  private pending = '';
  private readonly text = new StringDecoder('utf8');

  constructor(private readonly maxLineBytes = MANAGEMENT_MAX_LINE_BYTES) {}

  /** Feeds a chunk; returns the lines it completes. Throws ManagementParseError on an overlong line. */
  push(chunk: Buffer): string[] {
    this.pending += this.text.write(chunk);
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    if (Buffer.byteLength(this.pending) > this.maxLineBytes) {
      throw new ManagementParseError(`management line longer than ${this.maxLineBytes} bytes`);
    }
    return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  }

  /** Characters of an incomplete line held back. */
  get buffered(): number {
    return this.pending.length;
  }
}

/**
 * A command line as openvpn reads it: one line, so a CR or LF inside would smuggle in a second command.
 */
export function encodeCommandLine(line: string): string {
  if (/[\r\n\0]/.test(line)) {
    throw new ManagementParseError('a management command must not contain CR, LF or NUL');
  }
  return `${line}\r\n`;
}

export interface UnixSocketTransportOptions {
  signal?: AbortSignal;
  /** For connecting; default 5000 ms. */
  timeoutMs?: number;
  maxLineBytes?: number;
}

export class UnixSocketTransport implements ManagementTransport {
  private handlers: ManagementTransportHandlers | undefined;
  private readonly decoder: LineDecoder;
  private closing = false;
  private error: Error | undefined;
  private done = false;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    maxLineBytes: number,
  ) {
    this.decoder = new LineDecoder(maxLineBytes);
  }

  /** Connects to the management socket at `path`. */
  static connect(path: string, options: UnixSocketTransportOptions = {}): Promise<UnixSocketTransport> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 5000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const what = `connect to the openvpn management socket ${path}`;
    return new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(abortedError(signal, what));
        return;
      }
      const socket = connect(path);
      const onAbort = (): void => {
        socket.destroy();
        reject(abortedError(signal, what));
      };
      const onError = (err: NodeJS.ErrnoException): void => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(new ManagementTransportError(`${what}: ${err.code ?? err.message}`, { cause: err }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        resolve(new UnixSocketTransport(socket, path, options.maxLineBytes ?? MANAGEMENT_MAX_LINE_BYTES));
      });
    });
  }

  start(handlers: ManagementTransportHandlers): void {
    if (this.handlers) throw new Error('UnixSocketTransport.start called twice');
    this.handlers = handlers;
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= new ManagementTransportError(
        `openvpn management socket ${this.path}: ${err.code ?? err.message}`,
        { cause: err },
      );
    });
    this.socket.on('close', () => this.finish());
    // openvpn hung up its side: finish ours too (the session is over either way).
    this.socket.on('end', () => this.socket.destroy());
    this.socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = this.decoder.push(chunk);
      } catch (err) {
        this.error ??= err as Error;
        this.socket.destroy();
        return;
      }
      for (const line of lines) {
        if (this.done) return;
        handlers.line(line);
      }
    });
    if (this.socket.destroyed) this.finish();
  }

  send(line: string): void {
    this.socket.write(encodeCommandLine(line));
  }

  close(): void {
    this.closing = true;
    this.socket.destroy();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    const error = this.closing
      ? undefined
      : (this.error ??
        new ManagementTransportError(
          `openvpn management socket ${this.path}: openvpn closed the connection`,
        ));
    this.handlers?.closed(error);
  }
}
