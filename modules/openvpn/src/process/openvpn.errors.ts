// Errors of openvpn supervision. They extend core's CoreError, so the appliance's one exception filter
// maps them by `kind` without knowing this module.
import { CoreError } from '@weft/core';

/** openvpn cannot be started, exited at start, or its management interface did not answer in time. */
export class OpenvpnUnavailableError extends CoreError {
  readonly kind = 'unavailable';
}
