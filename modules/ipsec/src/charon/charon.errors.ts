// Errors of charon supervision and data plane detection. They extend core's CoreError, so the
// appliance's one exception filter maps them by `kind` without knowing this module.
import { CoreError } from '@weft/core';

/** charon cannot be started, did not become ready, or a data plane is missing. */
export class CharonUnavailableError extends CoreError {
  readonly kind = 'unavailable';
}

/**
 * Another charon holds the compiled-in pid file (/run/charon.pid) — a second charon on the same /run
 * refuses to start. Each appliance needs its own /run (a private mount namespace).
 */
export class CharonConflictError extends CoreError {
  readonly kind = 'conflict';
}

/** The data plane asked for (or, with `auto`, every data plane) is not available on this machine. */
export class DataplaneUnavailableError extends CoreError {
  readonly kind = 'unavailable';
}
