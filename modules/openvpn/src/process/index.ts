// openvpn process supervision: one supervised openvpn per instance, DCO detection, the host adapter.
export {
  OPENVPN_PATHS,
  OpenvpnSupervisor,
  exitReason,
  type OpenvpnEvent,
  type OpenvpnExitReason,
  type OpenvpnSupervisorOptions,
  type OpenvpnSupervisorState,
} from './openvpn.supervisor.js';
export {
  detectDco,
  DCO_MODULE_PATHS,
  type DcoChoice,
  type DcoDetection,
  type DcoProbe,
} from './dco.detect.js';
export { NodeOpenvpnHost, type OpenvpnHost } from './openvpn.host.js';
export { OpenvpnUnavailableError } from './openvpn.errors.js';
export { systemClock, waitFor, type Clock } from './openvpn.clock.js';
