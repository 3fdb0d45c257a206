// Public API of @weft/ipsec: the VICI client (vici/), charon supervision (charon/). Test doubles live in
// '@weft/ipsec/testing'.
// connections (load-conn / load-shared messages, swanctl.conf) and diagnosis
export {
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  assertConnSpec,
  loadConnMessage,
  loadSharedMessage,
  renderSwanctl,
  sharedKeyId,
  type IpsecConnSpec,
} from './conn/ipsec.conn.js';
// X.509 material for certificate links (strongSwan's pki tool)
export {
  caCertificateProblem,
  dnValue,
  PkiTool,
  type IssueRequest,
  type PkiToolOptions,
} from './pki/ipsec.pki.js';
export { NodePkiFiles, type PkiFiles } from './pki/pki.files.js';
export {
  IpsecDiagnoser,
  type CharonLogLine,
  type IpsecCauseCode,
  type IpsecDiagnosis,
  type IpsecFinding,
} from './diagnosis/ipsec.diagnosis.js';
// the VICI client (vici/): transport → packet → message → session → typed commands
export {
  ViciAbortedError,
  ViciCommandFailedError,
  ViciCommandUnknownError,
  ViciEncodeError,
  ViciError,
  ViciEventError,
  ViciParseError,
  ViciTimeoutError,
  ViciTransportError,
  type ViciControlLogLine,
} from './vici/vici.errors.js';
export {
  decodeMessage,
  decodeMessageRaw,
  encodeMessage,
  ViciElement,
  type ViciInput,
  type ViciRawSection,
  type ViciScalar,
  type ViciSection,
  type ViciTree,
} from './vici/vici.message.js';
export { decodePacket, encodePacket, ViciPacketType, type ViciPacket } from './vici/vici.packet.js';
export {
  encodeFrame,
  FrameDecoder,
  UnixSocketTransport,
  VICI_MAX_FRAME_BYTES,
  type UnixSocketTransportOptions,
  type ViciTransport,
  type ViciTransportHandlers,
} from './vici/vici.transport.js';
export {
  VICI_DEFAULT_SOCKET,
  ViciSession,
  ViciSubscription,
  type ViciCallOptions,
  type ViciEvent,
  type ViciSessionOptions,
  type ViciStreamedResult,
  type ViciSubscribeOptions,
} from './vici/vici.session.js';
export { ViciClient, ViciEventStream } from './vici/vici.commands.js';
export type * from './vici/vici.types.js';
// charon supervision (the appliance's own charon) and the data plane choice
export {
  renderStrongswanConf,
  pluginsFor,
  type IpsecDataplane,
  type StrongswanConfOptions,
} from './daemon/strongswan-conf.js';
export {
  detectDataplane,
  SystemDataplaneProbe,
  type DataplaneChoice,
  type DataplaneDetection,
  type DataplaneProbe,
} from './daemon/dataplane.detect.js';
export {
  CharonSupervisor,
  CHARON_PATHS,
  viciAnswers,
  type CharonEvent,
  type CharonSupervisorOptions,
} from './daemon/charon.supervisor.js';
// charon supervision (charon/): strongswan.conf renderer, data plane detection, supervisor. One namespace,
// because src/daemon/ still exports the names it replaces: `import { charon } from '@weft/ipsec'`.
export * as charon from './charon/index.js';
