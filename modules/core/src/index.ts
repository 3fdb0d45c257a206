// Public API of @weft/core. Test doubles live in '@weft/core/testing'.
export * from './owned.js';
export {
  CoreError,
  InvalidArgumentError,
  InterfaceNotFoundError,
  AdapterClosedError,
  KernelError,
  CommandError,
  findKernelError,
  type CoreErrorKind,
} from './errors.js';
export {
  parseIp,
  formatIp,
  parsePrefix,
  formatPrefix,
  canonicalPrefix,
  type IpFamily,
  type IpPrefix,
} from './common/ip.js';
export {
  RtNetlinkAdapter,
  type NetlinkAdapter,
  type RtNetlinkAdapterOptions,
  type WatchOptions,
} from './netlink/netlink.adapter.js';
export * from './netlink/netlink.types.js';
export { ProcSysctl, FORWARDING_SYSCTLS, type Sysctl } from './system/sysctl.js';
export { NodeFileAdapter, type FileAdapter } from './system/file.adapter.js';
export {
  NodeProcessRunner,
  type ProcessExit,
  type ProcessHandle,
  type ProcessOutput,
  type ProcessRunner,
  type RunOptions,
  type SpawnOptions,
} from './system/process.adapter.js';
export {
  normalizeRoute,
  routeKey,
  describeRoute,
  IPV6_DEFAULT_METRIC,
  type OwnedRoute,
  type OwnedRouteKind,
} from './routing/route.types.js';
export { PrefixRefCount } from './routing/prefix-refcount.js';
export { planRoutes, sameRoute, inverseOf, type RouteAction } from './routing/route.plan.js';
export {
  RoutingCore,
  RouteApplyError,
  type RoutingCoreDeps,
  type CleanupReport,
} from './routing/routing.service.js';
export {
  emptyNftDesired,
  type NftDesired,
  type NftDrift,
  type NftObservedChain,
  type NftObservedObject,
  type NftObservedRule,
  type NftObservedTable,
  type NftTableName,
} from './nft/nft.types.js';
export { renderNftScript, renderNftCleanup, validateNftDesired } from './nft/nft.render.js';
export { normalizeNftJson, describeNftRule, diffNftTables } from './nft/nft.observe.js';
export { NftService, NftError, NftUnavailableError, type NftServiceOptions } from './nft/nft.service.js';
export { systemClock, waitFor, type Clock } from './common/clock.js';
export * from './multicast/multicast.types.js';
export {
  validateMulticastDesired,
  assertValidMulticastDesired,
  renderSmcrouteConf,
  multicastInterfaces,
  routeKey as multicastRouteKey,
  parseIpv4,
  formatIpv4,
} from './multicast/smcroute.render.js';
export { parseIpMrCache, parseIpMrVif, mapMulticastCounters } from './multicast/multicast.counters.js';
export { parseSmcrouteRoutes, parseProcNetDev } from './multicast/smcroute.observe.js';
export { NodeMulticastHost, type MulticastHost } from './multicast/multicast.host.js';
export {
  MulticastRouter,
  MulticastUnavailableError,
  presentRoutes,
  routeFixes,
  type MulticastApplyResult,
  type MulticastObserved,
  type MulticastRouterEvent,
  type MulticastRouterOptions,
  type MulticastWaiting,
} from './multicast/multicast.router.js';
export {
  renderMulticastNft,
  renderMulticastNftCleanup,
  parseMulticastNft,
  multicastRuleOrder,
  multicastCounterId,
  type MulticastNftObserved,
} from './multicast/nft-dup.render.js';
export {
  NftMulticastForwarder,
  MulticastNftError,
  type NftMulticastForwarderOptions,
} from './multicast/nft-dup.forwarder.js';
export {
  L2Service,
  L2Error,
  renderL2Nft,
  validateL2Desired,
  VXLAN_OVERHEAD,
  WEFT_L2_DEVICE,
  WEFT_L2_TABLE,
  type L2Desired,
  type L2ServiceOptions,
} from './multicast/l2.js';
