// tun-mtu and mssfix from the underlay MTU, so an encapsulated packet of a full tun-mtu fills the underlay
// exactly and is never fragmented on the outside. OpenVPN 2.6's per-packet overhead with an AEAD cipher
// (AES-GCM and ChaCha20-Poly1305 both) and no compression framing:
//   outer IPv4 20 / IPv6 40 + UDP 8 + opcode/peer-id 4 (P_DATA_V2) + packet id 4 + AEAD tag 16.
// tls-crypt wraps the control channel only; it adds nothing to data packets.
import { checkInteger } from './openvpn.validate.js';

export const DATA_OVERHEAD_BYTES = 4 + 4 + 16;
const OUTER_HEADER_BYTES = { inet: 20 + 8, inet6: 40 + 8 } as const;
export const MIN_UNDERLAY_MTU = 1280;
export const MAX_UNDERLAY_MTU = 9000;

export interface OpenvpnMtu {
  /** `tun-mtu`: the TUN device's MTU. */
  tunMtu: number;
  /** `mssfix <n> mtu`: TCP MSS clamped so that whole encapsulated IP packets stay ≤ n. */
  mssfixMtu: number;
}

export function deriveMtu(underlayMtu = 1500, family: 'inet' | 'inet6' = 'inet'): OpenvpnMtu {
  checkInteger(underlayMtu, MIN_UNDERLAY_MTU, MAX_UNDERLAY_MTU, 'underlayMtu');
  return {
    tunMtu: underlayMtu - OUTER_HEADER_BYTES[family] - DATA_OVERHEAD_BYTES,
    mssfixMtu: underlayMtu,
  };
}
