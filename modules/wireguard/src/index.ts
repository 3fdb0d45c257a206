// Public API of @weft/wireguard. Test doubles live in '@weft/wireguard/testing'.
export type { WgDevice, WgDeviceConfig, WgPeerConfig, WgPeerState } from './wireguard.types.js';
export type { WireGuardConfigurer, WireGuardImplementation } from './configurer.js';
export {
  WG_KEY_LENGTH,
  generateKeyPair,
  generatePresharedKey,
  generatePrivateKey,
  isValidKey,
  keyBytes,
  publicKeyOf,
  type WgKeyPair,
} from './keys.js';
export {
  diffPeers,
  peersDiffer,
  summarizeOperations,
  type ObservedPeer,
  type PeerChanges,
  type PeerDiff,
  type PeerOperation,
} from './peer.diff.js';
export { assertInterfaceName, canonicalEndpoint, normalizePeers } from './validate.js';
export {
  CommandError,
  DeviceConflictError,
  DeviceNotFoundError,
  UapiErrnoError,
  UapiProtocolError,
  UapiTimeoutError,
  WireGuardUnavailableError,
} from './errors.js';
export {
  UserspaceConfigurer,
  peerOperationsToUapi,
  type UserspaceConfigurerOptions,
  type UserspaceEvent,
} from './userspace.configurer.js';
export {
  KernelConfigurer,
  openWgGenlSocket,
  peerSetMessages,
  type KernelConfigurerOptions,
  type WgGenlSocket,
} from './kernel.configurer.js';
export {
  detectImplementation,
  type DetectOptions,
  type Detection,
  type ImplementationChoice,
} from './detect.js';
export { createWireGuardConfigurer, type CreateConfigurerOptions } from './create.js';
export {
  NodeProcessRunner,
  type ProcessExit,
  type ProcessHandle,
  type ProcessOutput,
  type ProcessRunner,
  type RunOptions,
  type SpawnOptions,
} from '@weft/core';
export { IpLinkAdapter, LinkTypeUnsupportedError, type LinkAdapter, type WgLink } from './link.adapter.js';
export { systemClock, type Clock } from './clock.js';
export {
  UapiClient,
  WIREGUARD_GO_SOCKET_DIR,
  type UapiCallOptions,
  type UapiClientOptions,
} from './uapi/uapi.client.js';
export { UnixSocketTransport, type UapiTransport } from './uapi/uapi.transport.js';
export { NodeSocketDirectory, type SocketDirectory } from './uapi/socket-dir.adapter.js';
export {
  decodeGetReply,
  decodeSetReply,
  encodeGetRequest,
  encodeSetRequest,
  errnoName,
  hexToKey,
  keyToHex,
  splitReply,
} from './uapi/uapi.codec.js';
export type { UapiDeviceState, UapiPeerSet, UapiPeerState, UapiSetRequest } from './uapi/uapi.types.js';
