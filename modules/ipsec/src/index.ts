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
// imported certificates (the operator's PKI): checks before charon, and what load-cert/load-key get
export {
  certificateBlocks,
  importedCertificateProblems,
  importedCredentials,
  importedIdentity,
  subjectAltNames,
  subjectIdentity,
  type CharonKeyType,
  type ImportedCertificateInput,
  type ImportedCredentials,
  type ImportedField,
  type ImportedProblem,
} from './pki/ipsec.x509.js';
export {
  factsOf,
  IpsecDiagnoser,
  keepsMoreFacts,
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
// charon supervision (charon/): the appliance's own charon — strongswan.conf renderer, data plane
// detection, supervisor with restart and adoption, host adapter, clock, errors.
export * from './charon/index.js';
