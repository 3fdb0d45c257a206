// Public API of @weft/openvpn. Test doubles live in '@weft/openvpn/testing'.

// Config rendering (pure): specs → config text, ccd entries, the 0600 files to write, tls-crypt keys.
export * from './config/index.js';

// The management-interface client.
export {
  ManagementClient,
  type OpenvpnByteCount,
  type OpenvpnSignal,
} from './management/management.commands.js';
export {
  ManagementSession,
  ManagementSubscription,
  type ManagementCallOptions,
  type ManagementResult,
  type ManagementSessionOptions,
  type ManagementSubscribeOptions,
} from './management/management.session.js';
export {
  ManagementError,
  ManagementTransportError,
  ManagementParseError,
  ManagementCommandFailedError,
  ManagementTimeoutError,
  ManagementAbortedError,
} from './management/management.errors.js';
export {
  UnixSocketTransport,
  MANAGEMENT_MAX_LINE_BYTES,
  type ManagementTransport,
  type ManagementTransportHandlers,
  type UnixSocketTransportOptions,
} from './management/management.transport.js';
export { parseStatus } from './management/management.status.js';
export { parseStateRow, parseLogRow, type ReplyShape } from './management/management.message.js';
export * from './management/management.types.js';

// Process supervision.
export * from './process/index.js';

// The doctor: openvpn's log lines → named causes with fixes; the flood aggregator; the MTU probe.
export * from './diagnosis/index.js';
