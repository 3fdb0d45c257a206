// Errors thrown by @weft/wireguard. They extend @weft/core's CoreError, so the appliance's one exception
// filter maps them by `kind` without knowing this package. No message ever carries a key.
import { CoreError, type CoreErrorKind } from '@weft/core';

export { CommandError, InvalidArgumentError } from '@weft/core';

/** The WireGuard implementation asked for is not installed or not usable here. */
export class WireGuardUnavailableError extends CoreError {
  readonly kind = 'unavailable';
}

/** No WireGuard device with that name (no UAPI socket answering, or no `wireguard` link). */
export class DeviceNotFoundError extends CoreError {
  readonly kind = 'not-found';
  constructor(
    readonly device: string,
    options?: ErrorOptions,
  ) {
    super(`no WireGuard device named "${device}"`, options);
  }
}

/** A name is taken by a link that is not a WireGuard device of the expected implementation. */
export class DeviceConflictError extends CoreError {
  readonly kind = 'conflict';
}

/** The UAPI peer answered with `errno=N`, N ≠ 0. `code` is the errno name (`EINVAL`, `EPROTO`…). */
export class UapiErrnoError extends CoreError {
  readonly kind: CoreErrorKind;
  constructor(
    what: string,
    readonly errno: number,
    readonly code: string,
  ) {
    super(`${what}: wireguard-go answered errno=${errno} (${code})`);
    this.kind = code === 'EINVAL' || code === 'EPROTO' ? 'invalid-argument' : 'unavailable';
  }
}

/** The UAPI reply could not be parsed (truncated, garbage, or the socket closed mid-reply). */
export class UapiProtocolError extends CoreError {
  readonly kind = 'unavailable';
}

/** The UAPI socket did not answer in time, or the caller aborted. */
export class UapiTimeoutError extends CoreError {
  readonly kind = 'unavailable';
}
