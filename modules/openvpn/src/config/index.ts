// OpenVPN config rendering: typed specs → config text, ccd entries, the 0600 files to write, keys.
export * from './openvpn.config.types.js';
export {
  DEFAULT_HAND_WINDOW_SECONDS,
  DEFAULT_KEEPALIVE,
  DEFAULT_VERBOSITY,
  caDirFiles,
  hubBindsSpokes,
  hubSpokesChange,
  openvpnFiles,
  openvpnFingerprint,
  renderCcdEntry,
  renderOpenvpnConfig,
  renderSpokeCaBindings,
  renderTlsVerifyScript,
  validateSpec,
} from './openvpn.config.js';
export { openvpnLayout, checkLayout, type OpenvpnLayoutOptions } from './openvpn.layout.js';
export {
  deriveMtu,
  DATA_OVERHEAD_BYTES,
  MAX_UNDERLAY_MTU,
  MIN_UNDERLAY_MTU,
  type OpenvpnMtu,
} from './mtu.js';
export { generateTlsCryptKey, tlsCryptKeyProblem, STATIC_KEY_BYTES } from './tls-crypt.key.js';
