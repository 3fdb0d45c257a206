// Errors thrown by the VICI client. They extend @weft/core's CoreError, so the appliance's one exception
// filter maps them by `kind`. No message carries a request's values: load-shared and load-key requests
// hold secrets, so errors name the command and, at most, what charon answered.
import { CoreError, type CoreErrorKind } from '@weft/core';

/** Base class of every VICI client error. */
export abstract class ViciError extends CoreError {}

/** The socket could not be reached, died, or the session was closed while a call was pending. */
export class ViciTransportError extends ViciError {
  readonly kind = 'unavailable';
}

/** Bytes from charon that do not follow the VICI format (framing, packet or message layer). */
export class ViciParseError extends ViciError {
  readonly kind = 'unavailable';
}

/** A request we were about to send cannot be encoded (a name over 255 bytes, a value over 65535…). */
export class ViciEncodeError extends ViciError {
  readonly kind = 'invalid-argument';
}

/** charon answered a command with a bare CMD_UNKNOWN: it has no handler for it (older version, plugin). */
export class ViciCommandUnknownError extends ViciError {
  readonly kind = 'unavailable';
  constructor(
    readonly command: string,
    options?: ErrorOptions,
  ) {
    super(`charon does not know the VICI command '${command}'`, options);
  }
}

/** One `control-log` line streamed during initiate/terminate (see ViciClient.initiate). */
export interface ViciControlLogLine {
  group: string;
  level: number;
  ikeSaName: string | undefined;
  ikeSaUniqueId: number | undefined;
  message: string;
}

/**
 * charon answered `success=no`. `errmsg` is charon's reason, verbatim. For initiate and terminate, `log`
 * holds the control-log lines streamed before the answer: that is where IKE failure causes show up
 * (AUTHENTICATION_FAILED, NO_PROPOSAL_CHOSEN, retransmit timeouts…).
 */
export class ViciCommandFailedError extends ViciError {
  readonly kind: CoreErrorKind;
  constructor(
    readonly command: string,
    readonly errmsg: string | undefined,
    readonly log: readonly ViciControlLogLine[] = [],
    kind?: CoreErrorKind,
  ) {
    super(`VICI ${command} failed: ${errmsg ?? 'charon gave no reason'}`);
    this.kind = kind ?? failedKind(errmsg);
  }
}

function failedKind(errmsg: string | undefined): CoreErrorKind {
  if (errmsg !== undefined && /\bnot found\b|\bno matching\b/i.test(errmsg)) return 'not-found';
  return 'invalid-argument';
}

/** charon answered an event (un)registration with EVENT_UNKNOWN: it has no such event. */
export class ViciEventError extends ViciError {
  readonly kind = 'unavailable';
}

/** No answer in time. The connection stays usable; the late answer is read and dropped. */
export class ViciTimeoutError extends ViciError {
  readonly kind = 'unavailable';
}

/** The caller's AbortSignal fired (with a reason other than a timeout). */
export class ViciAbortedError extends ViciError {
  readonly kind = 'unavailable';
}

/** The error to throw for an aborted `signal`: a timeout reason becomes ViciTimeoutError. */
export function abortedError(signal: AbortSignal, what: string): ViciError {
  const reason: unknown = signal.reason;
  if (reason instanceof ViciError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') {
    return new ViciTimeoutError(`${what}: no answer from charon in time`, { cause: reason });
  }
  return new ViciAbortedError(`${what}: aborted`, { cause: reason });
}
