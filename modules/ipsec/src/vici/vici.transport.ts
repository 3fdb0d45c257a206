// The VICI transport: a stream of frames, each a 32-bit big-endian length and that many bytes of packet,
// on a UNIX stream socket. The session sees whole frame payloads only; this layer reassembles frames
// split across reads and splits reads holding several frames.
import { connect, type Socket } from 'node:net';
import { abortedError, ViciEncodeError, ViciParseError, ViciTransportError } from './vici.errors.js';

/** charon's own limit (VICI_MESSAGE_SIZE_MAX, 512 KiB); a longer frame is not charon talking. */
export const VICI_MAX_FRAME_BYTES = 512 * 1024;

export interface ViciTransportHandlers {
  /** One whole frame payload (without its length header). */
  frame(payload: Buffer): void;
  /** The connection is gone; `error` says why unless close() was called. Called once. */
  closed(error: Error | undefined): void;
}

/** What the session needs from a connection; tests inject their own. */
export interface ViciTransport {
  /** Starts delivering frames to `handlers`. Called once, right after the session takes the transport. */
  start(handlers: ViciTransportHandlers): void;
  /** Queues one frame payload for sending; a failure to write shows up as `closed(error)`. */
  send(payload: Buffer): void;
  /** Closes the connection; `closed` is then called with `undefined`. */
  close(): void;
}

/** Reassembles frames from a byte stream. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes = VICI_MAX_FRAME_BYTES) {}

  /** Feeds a chunk; returns the payloads it completes. Throws ViciParseError on an oversized frame. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: Buffer[] = [];
    let pos = 0;
    while (this.pending.length - pos >= 4) {
      const len = this.pending.readUInt32BE(pos);
      if (len > this.maxFrameBytes) {
        throw new ViciParseError(`VICI frame of ${len} bytes announced, at most ${this.maxFrameBytes}`);
      }
      if (this.pending.length - pos - 4 < len) break;
      frames.push(Buffer.from(this.pending.subarray(pos + 4, pos + 4 + len)));
      pos += 4 + len;
    }
    this.pending = pos === 0 ? this.pending : Buffer.from(this.pending.subarray(pos));
    return frames;
  }

  /** Bytes of an incomplete frame held back. */
  get buffered(): number {
    return this.pending.length;
  }
}

export function encodeFrame(payload: Buffer, maxFrameBytes = VICI_MAX_FRAME_BYTES): Buffer {
  if (payload.length > maxFrameBytes) {
    throw new ViciEncodeError(`VICI frame of ${payload.length} bytes, at most ${maxFrameBytes}`);
  }
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.length);
  return Buffer.concat([head, payload]);
}

export interface UnixSocketTransportOptions {
  signal?: AbortSignal;
  /** For connecting; default 5000 ms. */
  timeoutMs?: number;
  maxFrameBytes?: number;
}

export class UnixSocketTransport implements ViciTransport {
  private handlers: ViciTransportHandlers | undefined;
  private readonly decoder: FrameDecoder;
  private closing = false;
  private error: Error | undefined;
  private done = false;

  private constructor(
    private readonly socket: Socket,
    readonly path: string,
    private readonly maxFrameBytes: number,
  ) {
    this.decoder = new FrameDecoder(maxFrameBytes);
  }

  /** Connects to the VICI socket at `path` (e.g. /var/run/charon.vici). */
  static connect(path: string, options: UnixSocketTransportOptions = {}): Promise<UnixSocketTransport> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? 5000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const what = `connect to the VICI socket ${path}`;
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
        reject(new ViciTransportError(`${what}: ${err.code ?? err.message}`, { cause: err }));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('error', onError);
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.removeListener('error', onError);
        resolve(new UnixSocketTransport(socket, path, options.maxFrameBytes ?? VICI_MAX_FRAME_BYTES));
      });
    });
  }

  start(handlers: ViciTransportHandlers): void {
    if (this.handlers) throw new Error('UnixSocketTransport.start called twice');
    this.handlers = handlers;
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.error ??= new ViciTransportError(`VICI socket ${this.path}: ${err.code ?? err.message}`, {
        cause: err,
      });
    });
    this.socket.on('close', () => this.finish());
    this.socket.on('end', () => this.socket.end());
    this.socket.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.decoder.push(chunk);
      } catch (err) {
        this.error ??= err as Error;
        this.socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (this.done) return;
        handlers.frame(frame);
      }
    });
    if (this.socket.destroyed) this.finish();
  }

  send(payload: Buffer): void {
    this.socket.write(encodeFrame(payload, this.maxFrameBytes));
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
      : (this.error ?? new ViciTransportError(`VICI socket ${this.path}: charon closed the connection`));
    this.handlers?.closed(error);
  }
}
