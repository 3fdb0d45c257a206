// The cross-platform userspace API (https://www.wireguard.com/xplatform/) as data. Keys are base64 here,
// as everywhere in Weft; the codec turns them into the lowercase hex the protocol carries.

/** One peer in a `set=1` message, in the order its keys go on the wire. */
export interface UapiPeerSet {
  /** `public_key=`: selects (and, without update_only, creates) the peer. */
  publicKey: string;
  /** `remove=true`: the peer must not exist afterwards. Nothing else is sent for it. */
  remove?: boolean;
  /** `update_only=true`: change the peer only if it already exists. */
  updateOnly?: boolean;
  /** `preshared_key=`; null sends all zeros, which removes it. */
  presharedKey?: string | null;
  /** `endpoint=` `ip:port` or `[v6]:port`. */
  endpoint?: string;
  /** `persistent_keepalive_interval=` seconds; 0 turns it off. */
  persistentKeepalive?: number;
  /** `replace_allowed_ips=true`: drop the peer's allowed IPs before adding `allowedIps`. */
  replaceAllowedIps?: boolean;
  /** One `allowed_ip=` line each. */
  allowedIps?: readonly string[];
  /** `protocol_version=`; only 1 exists. */
  protocolVersion?: number;
}

/** A `set=1` message. */
export interface UapiSetRequest {
  /** `private_key=`; null sends all zeros, which removes it. */
  privateKey?: string | null;
  /** `listen_port=` */
  listenPort?: number;
  /** `fwmark=`; 0 removes it. */
  fwmark?: number;
  /** `replace_peers=true`: the peers below replace every existing one. syncPeers never sends it. */
  replacePeers?: boolean;
  peers?: readonly UapiPeerSet[];
}

/** One peer of a `get=1` reply. */
export interface UapiPeerState {
  publicKey: string;
  /** undefined when the reply carries all zeros (no key). */
  presharedKey: string | undefined;
  protocolVersion: number;
  endpoint: string | undefined;
  /** last_handshake_time_sec / _nsec; null when both are 0 (never). */
  lastHandshake: Date | null;
  /** The raw pair, for callers that need nanoseconds. */
  lastHandshakeTime: { sec: bigint; nsec: number };
  txBytes: bigint;
  rxBytes: bigint;
  persistentKeepalive: number;
  allowedIps: string[];
}

/** A `get=1` reply. */
export interface UapiDeviceState {
  /** undefined when the device has no private key. */
  privateKey: string | undefined;
  listenPort: number;
  /** 0 when unset (wireguard-go then leaves the line out). */
  fwmark: number;
  peers: UapiPeerState[];
}
