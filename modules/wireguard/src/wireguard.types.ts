// WireGuard devices and peers as Weft configures (desired) and reads (observed) them. Keys are base64,
// as `wg` prints them; the UAPI (hex) and genetlink (bytes) encodings stay inside their configurers.

/** What Weft wants a device to be. */
export interface WgDeviceConfig {
  /** base64, 32 bytes. Never logged, never returned by readDevice. */
  privateKey: string;
  /** UDP port; left out, the device keeps the port it has (a random one when new). */
  listenPort?: number;
  /** SO_MARK on the device's UDP packets; left out or 0, none. */
  fwmark?: number;
}

/** What Weft wants one peer to be. */
export interface WgPeerConfig {
  /** base64, 32 bytes: the peer's identity. */
  publicKey: string;
  /** base64, 32 bytes; left out, the peer has none (an existing one is removed). */
  presharedKey?: string;
  /**
   * `ip:port` or `[v6]:port`, already resolved (no DNS here). Left out, whatever the device learned
   * from the peer's packets is kept: a roaming peer is never pinned back.
   */
  endpoint?: string;
  /** Canonical prefixes (`10.1.0.0/16`, `2001:db8::/64`); host bits must be clear. */
  allowedIps: string[];
  /** Seconds, 1–65535; left out or 0, off. */
  persistentKeepalive?: number;
}

/** A device as the implementation reports it. */
export interface WgDevice {
  name: string;
  /** base64; '' when the device has no private key yet. */
  publicKey: string;
  listenPort: number;
  fwmark?: number;
  peers: WgPeerState[];
}

/** A peer as the implementation reports it. */
export interface WgPeerState {
  publicKey: string;
  /** Configured or learned from the peer's last authenticated packet. */
  endpoint?: string;
  /** Canonical prefixes, sorted. */
  allowedIps: string[];
  /** Seconds; 0 is off. */
  persistentKeepalive: number;
  /** null until the first handshake completes. */
  lastHandshake: Date | null;
  rxBytes: bigint | number;
  txBytes: bigint | number;
  /** Whether a preshared key is set; the key itself is never returned. */
  hasPresharedKey: boolean;
}
