export {
  OpenvpnDiagnoser,
  classifyOpenvpnLine,
  isOpenvpnSecretLine,
  stripLogTimestamp,
  type OpenvpnCauseCode,
  type OpenvpnDiagnoserOptions,
  type OpenvpnDiagnosis,
} from './openvpn.diagnosis.js';
export {
  AuthFailureAggregator,
  type AuthFailureAggregatorOptions,
  type AuthFailureEvent,
  type AuthFailureKind,
  type Clock as AuthFailureClock,
} from './auth-failure.aggregator.js';
export {
  ICMP_IPV4_OVERHEAD,
  classifyMtuProbe,
  parsePingSummary,
  planMtuProbe,
  type MtuProbeInput,
  type MtuProbeResult,
  type MtuProbeVerdict,
} from './mtu-probe.js';
