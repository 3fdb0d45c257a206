// The lab harness: network-namespace labs with one appliance per gateway, for e2e scenarios and the demo.
export { ApiClient, type ApiPath, type ApiRequestOptions, type ApiResponse } from './api-client.js';
export {
  defaultAppliance,
  describeAppliance,
  realAppliance,
  standInAppliance,
  type ApplianceCommand,
  type ApplianceLaunch,
} from './appliance-command.js';
export { captureIn, captureUnderlay } from './capture.js';
export { DEMO_GROUP, demoMulticast, linkDemoSites, type DemoLink } from './demo-setup.js';
export { ExecError, formatArgv, inNetns, run, type ExecOptions, type ExecResult } from './exec.js';
export { listNetns, listRootLinks, mgmtNetsInUse } from './host.js';
export { Lab, sweepStale, type LabOptions, type SweepOptions, type SweepReport } from './lab.js';
export { defaultLabRoot, repoRoot } from './paths.js';
export { caOf, diagnosisOf, linkStatus, ping, type DiagnosisSeen, type Json } from './probes.js';
export { describeExit, Site, type ExitInfo, type StartOptions } from './site.js';
export {
  API_BASE_PATH,
  API_PORT,
  buildSteps,
  INTERNET_SERVER,
  namePrefix,
  planTopology,
  type SitePlan,
  type SiteSpec,
  type Topology,
  type TopologyOptions,
} from './topology.js';
export { giveUp, GiveUpError, waitFor, WaitTimeoutError, type WaitOptions } from './wait-for.js';
export {
  applySiteSettings,
  importPeerConfig,
  linkIpsec,
  linkWireGuard,
  wireguardPublicKey,
  type LinkedPair,
} from './weft.js';
