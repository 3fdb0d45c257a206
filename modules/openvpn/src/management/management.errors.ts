// Errors thrown by the management-interface client. They extend @weft/core's CoreError, so the
// appliance's one exception filter maps them by `kind`. Messages name the command word only (never its
// arguments: `password`/`username` carry secrets) and, at most, what openvpn answered.
import { CoreError, type CoreErrorKind } from '@weft/core';

/** Base class of every management client error. */
export abstract class ManagementError extends CoreError {}

/** The socket could not be reached, died, or the session was closed while a call was pending. */
export class ManagementTransportError extends ManagementError {
  readonly kind = 'unavailable';
}

/** Bytes from openvpn that do not follow the management protocol (an overlong line, a stray reply). */
export class ManagementParseError extends ManagementError {
  readonly kind = 'unavailable';
}

/** openvpn answered `ERROR: …`; `reason` is its text after `ERROR: `, verbatim. */
export class ManagementCommandFailedError extends ManagementError {
  readonly kind: CoreErrorKind;
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`openvpn management '${command}' failed: ${reason}`);
    this.kind = /\bnot found\b/i.test(reason)
      ? 'not-found'
      : /not supported|unknown command/i.test(reason)
        ? 'unavailable'
        : 'invalid-argument';
  }
}

/** No answer in time. The connection stays usable; the late answer is read and dropped. */
export class ManagementTimeoutError extends ManagementError {
  readonly kind = 'unavailable';
}

/** The caller's AbortSignal fired (with a reason other than a timeout). */
export class ManagementAbortedError extends ManagementError {
  readonly kind = 'unavailable';
}

/** The error to throw for an aborted `signal`: a timeout reason becomes ManagementTimeoutError. */
export function abortedError(signal: AbortSignal, what: string): ManagementError {
  const reason: unknown = signal.reason;
  if (reason instanceof ManagementError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new ManagementTimeoutError(`${what}: no answer from openvpn in time`, { cause: reason });
  }
  return new ManagementAbortedError(`${what}: aborted`, { cause: reason });
}

/** The first word of a command line: what errors may name. */
export function commandWord(line: string): string {
  return line.trim().split(/\s+/, 1)[0] ?? '';
}
