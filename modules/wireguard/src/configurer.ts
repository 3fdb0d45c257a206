// One interface, two implementations: the kernel's WireGuard (genetlink) and wireguard-go (UAPI). The
// appliance picks one with detectImplementation() and never needs to know which it got.
import type { PeerDiff } from './peer.diff.js';
import type { WgDevice, WgDeviceConfig, WgPeerConfig } from './wireguard.types.js';

export type WireGuardImplementation = 'kernel' | 'userspace';

export interface WireGuardConfigurer {
  readonly kind: WireGuardImplementation;
  /**
   * Creates the device if it is missing, sets its private key, port and fwmark where they differ, its
   * MTU, and brings it up. An existing device is never re-created: its peers and sessions survive.
   */
  ensureDevice(name: string, device: WgDeviceConfig, mtu: number): Promise<void>;
  /**
   * Makes the device's peers exactly `desired`, as a diff (like `wg syncconf`): peers not desired are
   * removed, new ones added, changed ones updated in place. Unchanged peers are not touched.
   * Rejects with DeviceNotFoundError when the device does not exist.
   */
  syncPeers(name: string, desired: readonly WgPeerConfig[]): Promise<PeerDiff>;
  /** undefined when there is no such device. Never returns a private or preshared key. */
  readDevice(name: string): Promise<WgDevice | undefined>;
  /** Removes the device (and, userspace, its process); no error when it is already gone. */
  removeDevice(name: string): Promise<void>;
  /**
   * The host's addresses changed (one was removed): make the device forget the source address it pinned
   * for each peer, so replies and keepalives leave from an address that still exists and the remote
   * side follows us (roaming). Returns the public keys of the peers touched. wireguard-go keeps sending
   * from a vanished address until its endpoint is set again; the kernel notices by itself.
   */
  forgetSourceAddresses(name: string): Promise<string[]>;
  /** Names of the WireGuard devices of this implementation, ours or not. */
  listDevices(): Promise<string[]>;
  /** Releases sockets and timers. Devices keep running (see each implementation). */
  close(): Promise<void>;
}
