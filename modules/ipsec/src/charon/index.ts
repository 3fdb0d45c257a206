// charon supervision: the appliance's own charon (strongswan.conf, data plane choice, supervisor).
export {
  CHARON_DEFAULT_RETRANSMIT,
  CHARON_LOG_SUBSYSTEMS,
  FAST_RETRANSMIT,
  charonPlugins,
  renderStrongswanConf,
  retransmitGiveUpSeconds,
  type CharonLogLevel,
  type CharonLogSubsystem,
  type CharonRetransmit,
  type CharonRouting,
  type IpsecDataplane,
  type StrongswanConfOptions,
} from './strongswan-conf.js';
export {
  DEFAULT_PLUGIN_DIR,
  detectDataplane,
  type DataplaneChoice,
  type DataplaneDetection,
  type DetectDataplaneOptions,
} from './dataplane.detect.js';
export {
  CHARON_PATHS,
  CharonSupervisor,
  type CharonEvent,
  type CharonState,
  type CharonSupervisorOptions,
} from './charon.supervisor.js';
export { CharonConflictError, CharonUnavailableError, DataplaneUnavailableError } from './charon.errors.js';
export { NodeCharonHost, type CharonHost } from './charon.host.js';
export { systemClock, type Clock } from './charon.clock.js';
