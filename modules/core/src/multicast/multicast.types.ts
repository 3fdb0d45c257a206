// The desired multicast routing of one appliance: static routes only. Weft's config already says where
// every group's senders and receivers are (which site, which link), so the routes are computed, not
// negotiated: no PIM between sites (see README.md).

export interface MulticastRoute {
  /** A group (`239.1.1.1`) or a range of groups (`239.1.0.0/16`), inside 224.0.0.0/4, not 224.0.0.0/24. */
  group: string;
  /** The sender, for an (S,G) route; absent for (*,G) (smcrouted learns each sender's (S,G) on its first packet). */
  source?: string;
  /** The interface the group arrives on (kernel name, ≤ 15 characters). */
  inbound: string;
  /** The interfaces it is sent out of. */
  outbound: string[];
}

/**
 * A link with NETMAP (netmap.local): this site's LAN `from` appears to the far end as `to`, host part
 * kept. Multicast leaving by `outbound` from inside `from` must carry the mapped source, or the far end
 * drops it (WireGuard allowed-ips, IPsec traffic selectors). The kernel's multicast routing gets this
 * from the NAT table (its copies are tracked); the nftables forwarder rewrites its own copies.
 */
export interface MulticastSourceMap {
  outbound: string;
  /** The real LAN prefix (IPv4). */
  from: string;
  /** The prefix it appears as on the link, of the same length. */
  to: string;
}

export interface MulticastDesired {
  routes: MulticastRoute[];
  /** One per outbound interface at most. */
  sourceMaps?: MulticastSourceMap[];
}

export const emptyMulticastDesired = (): MulticastDesired => ({ routes: [] });

/** Counters of one desired route: the sum over the kernel's (S,G) cache entries it produced. */
export interface MulticastRouteCounters {
  route: MulticastRoute;
  packets: number;
  bytes: number;
  /** Packets of these flows that arrived on another interface than `inbound` (the kernel's "Wrong"). */
  wrongInterface: number;
  flows: MulticastFlowCounters[];
}

/** One kernel multicast forwarding cache entry (a line of /proc/net/ip_mr_cache), interfaces by name. */
export interface MulticastFlowCounters {
  source: string;
  group: string;
  /** undefined for an unresolved entry. */
  inbound: string | undefined;
  outbound: string[];
  packets: number;
  bytes: number;
  wrongInterface: number;
}
