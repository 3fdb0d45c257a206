// The MTU probe, pure part. openvpn 2.6.14 does not log a tun-mtu mismatch below verb 7, and an underlay
// that cannot carry the encapsulated size (fragments dropped, a smaller path MTU) is invisible to it
// altogether. What can be seen is the data path itself: ICMP echo with DF set (`ping -M do -s <size>`)
// across the tunnel, small and large. The driver runs the pings (an adapter, with argv arrays); this file
// plans the sizes, reads ping's summary line and names the result.
//
// Lab (README, fixtures/*.probe.txt), tun-mtu 1500 on both ends, 1500-byte veth underlay:
// - all sizes up to 1472 (= 1500 - 28) pass; 1473 fails locally (`+2 errors`: EMSGSIZE on our tun).
// - the peer's underlay drops IP fragments: 1400 passes, 1472 gets no answer and no error. The encrypted
//   packet of a 1500-byte inner packet is larger than the underlay MTU, is fragmented and lost.
// - tun-mtu 1500 against 1400 (p2p): from the 1400 side sizes above 1372 fail locally; from the 1500 side
//   every size up to 1472 passes (the receiving tun accepts packets above its MTU). So the probe alone
//   does not see that mismatch: give the classifier the peer's tun-mtu when it is known (the remote
//   site's desired state, or the OCC check).

import type { OpenvpnDiagnosis } from './openvpn.diagnosis.js';

/** IPv4 + ICMP headers: a ping payload of `size` makes an IP packet of `size + 28` bytes. */
export const ICMP_IPV4_OVERHEAD = 28;

export interface MtuProbeResult {
  /** ICMP payload bytes (`ping -s`). */
  size: number;
  transmitted: number;
  received: number;
  /** Errors ping reported (`+2 errors`): with DF, EMSGSIZE from a local interface MTU. */
  errors: number;
}

export interface MtuProbeInput {
  /** The tun-mtu this end is configured with. */
  tunMtu: number;
  /** The peer's configured tun-mtu, when known. */
  peerTunMtu?: number;
  results: readonly MtuProbeResult[];
}

export type MtuProbeVerdict =
  /** Every size up to this end's tun-mtu got through. */
  | { status: 'ok'; largestPassing: number }
  /** Not even the smallest probe got an answer: the data path is down, not an MTU question. */
  | { status: 'no-traffic' }
  /** Passes and failures interleave (loss): probe again. */
  | { status: 'inconclusive' }
  | { status: 'mtu-mismatch'; largestPassing: number; smallestFailing?: number; diagnosis: OpenvpnDiagnosis };

/**
 * ICMP payload sizes to probe for a tun-mtu, smallest first: a small one (is there a data path at all),
 * steps of 100 below the top, and the largest that fits the tun-mtu.
 */
export function planMtuProbe(tunMtu: number): number[] {
  const top = tunMtu - ICMP_IPV4_OVERHEAD;
  const sizes = new Set<number>([56]);
  for (let s = top - 300; s < top; s += 100) if (s > 56) sizes.add(s);
  if (top > 56) sizes.add(top);
  return [...sizes].sort((a, b) => a - b);
}

/** `2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 202ms` (iputils ping). */
export function parsePingSummary(size: number, output: string): MtuProbeResult | undefined {
  const m = /(\d+) packets transmitted, (\d+) received(?:, \+(\d+) errors)?/.exec(output);
  if (!m) return undefined;
  return { size, transmitted: Number(m[1]), received: Number(m[2]), errors: Number(m[3] ?? 0) };
}

/** Names what the DF probe saw, against the configured tun-mtu of this end (and of the peer, if known). */
export function classifyMtuProbe(input: MtuProbeInput): MtuProbeVerdict {
  const top = input.tunMtu - ICMP_IPV4_OVERHEAD;
  const results = [...input.results].filter((r) => r.size <= top).sort((a, b) => a.size - b.size);
  const passed = (r: MtuProbeResult): boolean => r.received > 0;
  const first = results[0];
  if (!first || !passed(first)) return { status: 'no-traffic' };
  const firstFail = results.findIndex((r) => !passed(r));
  if (firstFail < 0) {
    const largestPassing = results[results.length - 1]?.size ?? first.size;
    if (input.peerTunMtu !== undefined && input.peerTunMtu !== input.tunMtu) {
      return {
        status: 'mtu-mismatch',
        largestPassing,
        diagnosis: {
          code: 'mtu-mismatch',
          message: `tun-mtu is ${input.tunMtu} here and ${input.peerTunMtu} on the peer. Large packets from this end still arrive (a tun device takes packets above its MTU), but the two directions clamp TCP differently and the ${Math.min(input.tunMtu, input.peerTunMtu)} end cannot send what the other can.`,
          fix: 'Set the same tun-mtu (and mssfix) on both ends.',
          line: `probe: DF ping payloads up to ${largestPassing} passed; tun-mtu ${input.tunMtu}, peer ${input.peerTunMtu}`,
        },
      };
    }
    return { status: 'ok', largestPassing };
  }
  if (results.slice(firstFail).some(passed)) return { status: 'inconclusive' };
  const largestPassing = results[firstFail - 1]?.size ?? first.size;
  const failing = results[firstFail];
  const smallestFailing = failing?.size ?? top;
  const local = results.slice(firstFail).some((r) => r.errors > 0);
  const fits = largestPassing + ICMP_IPV4_OVERHEAD;
  const diagnosis: OpenvpnDiagnosis = local
    ? {
        code: 'mtu-mismatch',
        message: `This end's tun device does not take packets of ${smallestFailing + ICMP_IPV4_OVERHEAD} bytes although tun-mtu is ${input.tunMtu}: its MTU is smaller than configured (a server may have pushed another tun-mtu).`,
        fix: `Set the same tun-mtu on both ends (server mode pushes the server's); packets up to ${fits} bytes work now.`,
        line: `probe: DF ping payload ${largestPassing} passed, ${smallestFailing} failed locally; tun-mtu ${input.tunMtu}`,
      }
    : {
        code: 'mtu-mismatch',
        message: `Packets up to ${fits} bytes cross the tunnel, ${smallestFailing + ICMP_IPV4_OVERHEAD} bytes and more vanish without an error, although tun-mtu is ${input.tunMtu}: the path between the sites cannot carry the encapsulated size (a smaller underlay MTU, or fragments dropped on the way), or the peer's tun-mtu is smaller.`,
        fix: `Lower tun-mtu to at most ${fits} on both ends (or set mssfix for TCP), or let the underlay carry fragments / raise its MTU.`,
        line: `probe: DF ping payload ${largestPassing} passed, ${smallestFailing} got no answer; tun-mtu ${input.tunMtu}`,
      };
  return { status: 'mtu-mismatch', largestPassing, smallestFailing, diagnosis };
}
