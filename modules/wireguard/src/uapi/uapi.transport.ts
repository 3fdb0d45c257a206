// The transport under the UAPI client: one UNIX stream connection per request, as `wg` does it. The
// reply ends at the first empty line; wireguard-go then waits for the next request on the same
// connection, so we close it ourselves.
import { connect } from 'node:net';
import { DeviceNotFoundError, UapiProtocolError, UapiTimeoutError } from '../errors.js';

export interface UapiTransport {
  /**
   * Sends `message` to the socket at `path` and resolves with the reply, up to and including its
   * terminating empty line. Rejects with DeviceNotFoundError when nobody listens there.
   */
  exchange(path: string, message: string, options: { signal: AbortSignal; device: string }): Promise<string>;
}

/** A reply larger than this is not a WireGuard device talking (1,000 peers ≈ 0.4 MB). */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export class UnixSocketTransport implements UapiTransport {
  exchange(path: string, message: string, options: { signal: AbortSignal; device: string }): Promise<string> {
    const { signal, device } = options;
    return new Promise<string>((resolve, reject) => {
      if (signal.aborted) {
        reject(abortError(signal, device));
        return;
      }
      const socket = connect(path);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (err: Error | undefined, reply?: string): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        if (err) reject(err);
        else resolve(reply ?? '');
      };
      const onAbort = (): void => finish(abortError(signal, device));
      signal.addEventListener('abort', onAbort, { once: true });
      socket.on('connect', () => socket.write(message));
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        size += chunk.length;
        if (size > MAX_REPLY_BYTES) {
          finish(new UapiProtocolError(`${device}: the UAPI reply exceeds ${MAX_REPLY_BYTES} bytes`));
          return;
        }
        // The terminator can straddle two chunks, so look at the whole tail.
        const text = Buffer.concat(chunks).toString('utf8');
        const end = text.indexOf('\n\n');
        if (end >= 0) {
          if (end + 2 !== text.length) {
            finish(new UapiProtocolError(`${device}: the UAPI reply goes on after its empty line`));
          } else finish(undefined, text);
        }
      });
      socket.on('end', () =>
        finish(
          new UapiProtocolError(
            size === 0
              ? `${device}: the UAPI socket closed without a reply (the request was refused)`
              : `${device}: the UAPI socket closed in the middle of a reply`,
          ),
        ),
      );
      socket.on('close', () =>
        finish(new UapiProtocolError(`${device}: the UAPI socket closed in the middle of a reply`)),
      );
      socket.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
          finish(new DeviceNotFoundError(device, { cause: err }));
        } else finish(new Error(`${device}: UAPI socket ${path}`, { cause: err }));
      });
    });
  }
}

function abortError(signal: AbortSignal, device: string): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new UapiTimeoutError(`${device}: no UAPI reply in time`, { cause: reason });
  }
  return new UapiTimeoutError(`${device}: the UAPI request was aborted`, { cause: reason });
}
