// The UAPI client: `get=1` and `set=1` on /var/run/wireguard/<ifname>.sock, one connection per
// request, each bounded by a timeout and an optional AbortSignal.
import { join } from 'node:path';
import { UapiErrnoError } from '../errors.js';
import {
  decodeGetReply,
  decodeSetReply,
  encodeGetRequest,
  encodeSetRequest,
  errnoName,
  splitReply,
} from './uapi.codec.js';
import { UnixSocketTransport, type UapiTransport } from './uapi.transport.js';
import type { UapiDeviceState, UapiSetRequest } from './uapi.types.js';

/** Where wireguard-go creates its sockets (compiled in; not per network namespace). */
export const WIREGUARD_GO_SOCKET_DIR = '/var/run/wireguard';

export interface UapiClientOptions {
  /** Default WIREGUARD_GO_SOCKET_DIR; tests point it at a temporary directory. */
  socketDir?: string;
  /** Per request, default 5000 ms. */
  timeoutMs?: number;
  transport?: UapiTransport;
}

export interface UapiCallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export class UapiClient {
  readonly socketDir: string;
  private readonly timeoutMs: number;
  private readonly transport: UapiTransport;

  constructor(options: UapiClientOptions = {}) {
    this.socketDir = options.socketDir ?? WIREGUARD_GO_SOCKET_DIR;
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.transport = options.transport ?? new UnixSocketTransport();
  }

  socketPath(device: string): string {
    return join(this.socketDir, `${device}.sock`);
  }

  /** The device's state. Rejects with DeviceNotFoundError when no socket answers for it. */
  async get(device: string, options: UapiCallOptions = {}): Promise<UapiDeviceState> {
    const reply = await this.exchange(device, encodeGetRequest(), options);
    const { pairs, errno } = splitReply(reply);
    if (errno !== 0) throw new UapiErrnoError(`${device}: get`, errno, errnoName(errno));
    return decodeGetReply(pairs);
  }

  /** Applies one `set=1` message; rejects with UapiErrnoError naming the errno when it is refused. */
  async set(device: string, request: UapiSetRequest, options: UapiCallOptions = {}): Promise<void> {
    const reply = await this.exchange(device, encodeSetRequest(request), options);
    const errno = decodeSetReply(reply);
    if (errno !== 0) throw new UapiErrnoError(`${device}: set`, errno, errnoName(errno));
  }

  private exchange(device: string, message: string, options: UapiCallOptions): Promise<string> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    return this.transport.exchange(this.socketPath(device), message, { signal, device });
  }
}
