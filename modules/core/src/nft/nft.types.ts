// The NAT and MSS-clamping rules Weft wants in its nftables table (desired, pure data), and the
// kernel's table as `nft -j` shows it, normalized so two listings of the same rules compare equal.

/**
 * Everything Weft puts into its nftables table. The whole table is rendered from this and replaced in
 * one transaction, so what is not in here is not in the kernel. Connections already tracked keep the
 * translation they started with: conntrack, not the rules, decides for an existing flow.
 */
export interface NftDesired {
  /**
   * Masquerade LAN traffic leaving by the underlay only: `oifname <underlay> ip saddr <sources>
   * masquerade` (and ip6 for IPv6 sources). Tunnel traffic (other oifnames) keeps its LAN source.
   */
  masquerade?: {
    underlay: string;
    sources: string[];
    /**
     * Destinations never masqueraded (the links' remote prefixes): with kernel IPsec the plaintext
     * packet passes postrouting with the underlay as its output before ESP takes it, and a masqueraded
     * source would no longer match the policy.
     */
    exceptTo?: string[];
  };
  /**
   * The underlay's input filter (absent: none). Accepts replies (ct established/related), ICMP and
   * ICMPv6 (path MTU, neighbour discovery, ping), DHCP/DHCPv6 answers, the tunnel ports, and the API's
   * TCP port from `api.from` only; everything else arriving by the underlay is counted and dropped.
   */
  input?: {
    underlay: string;
    udpPorts: number[];
    tcpPorts: number[];
    api?: { port: number; from: string[] };
  };
  /**
   * Forwarding rules for new connections, first match wins, in the given order (replies of a
   * connection let through always pass); what none matches is forwarded (policy accept). Addresses are as the packet has them between prerouting and postrouting: after a DNAT
   * (a port forward, the inbound half of NETMAP), before an SNAT.
   */
  forwardRules?: {
    name: string;
    iif?: string;
    oif?: string;
    src?: string[];
    dst?: string[];
    protocol?: 'tcp' | 'udp' | 'icmp';
    /** Destination port or range (`80`, `8000-8100`); tcp/udp only. */
    ports?: { from: number; to: number };
    action: 'accept' | 'drop' | 'reject';
  }[];
  /**
   * DNAT port forwards: `iifname <iif> <proto> dport <port> dnat ip to <to>:<toPort>` in prerouting
   * (IPv4 `to` only for now; IPv6 `to` → dnat ip6).
   */
  portForwards: {
    name: string;
    iif: string;
    protocol: 'tcp' | 'udp';
    port: number;
    to: string;
    toPort: number;
  }[];
  /**
   * NETMAP of this site's subnet on one link: outbound on `device` with daddr in `remote`:
   * `snat ip prefix to <mapped>` for saddr in `real`; inbound on `device` with saddr in `remote` and
   * daddr in `mapped`: `dnat ip prefix to <real>`. `remote` = the prefixes on the far side as they
   * appear on the wire (several links may share one device, e.g. ipsec0, so the remote match is what
   * tells them apart). `real`/`mapped` same prefix length (validated: throws a clear error otherwise).
   */
  netmaps: { link: string; device: string; real: string; mapped: string; remote: string[] }[];
  /**
   * TCP MSS clamping on a tunnel device, both directions: `oifname <device> tcp flags syn tcp option
   * maxseg size set rt mtu`, and the same for iifname with `set <mss>` when `mss` is given (the path MTU
   * of the link minus 40 for IPv4 / 60 for IPv6; the one value applies to both families, so a link
   * carrying IPv6 passes the IPv6 one). Without `mss`, `rt mtu` for oifname only. The iifname rule only
   * ever lowers an MSS (`maxseg size > <mss>`): a peer announcing less keeps its own value.
   */
  mssClamp: { device: string; mss?: number }[];
  /**
   * The multicast TTL lift: packets arriving on `iif` for one of `groups` (IPv4 groups or ranges in
   * 224.0.0.0/4) with `ip ttl < ttl` get `ip ttl set <ttl>`, in a prerouting chain at mangle priority
   * (before the multicast forwarding decision), so applications sending with TTL 1 or 2 still cross
   * this router and the remote one.
   */
  multicastTtl?: { iif: string; groups: string[]; ttl: number }[];
}

/** No NAT, no forwards, no clamping: applied, it leaves our table with its chains and no rules. */
export function emptyNftDesired(): NftDesired {
  return { portForwards: [], netmaps: [], mssClamp: [] };
}

/** An nftables table, as `nft` names it (`inet weft`). */
export interface NftTableName {
  readonly family: string;
  readonly name: string;
}

/** One rule as `nft -j` lists it, without its handle and with counters zeroed. */
export interface NftObservedRule {
  comment?: string;
  /** nft's JSON statements (libnftables-json(5)), in order. */
  expr: unknown[];
}

export interface NftObservedChain {
  name: string;
  /** Set for base chains only: `nat`/`filter`, the hook, its priority as a number, the policy. */
  type?: string;
  hook?: string;
  prio?: number;
  policy?: string;
  rules: NftObservedRule[];
}

/** A set, map, flowtable, counter… in the table (Weft renders none; someone else may add one). */
export interface NftObservedObject {
  /** The JSON key: `set`, `map`, `counter`, `flowtable`… */
  kind: string;
  name: string;
  /** Everything nft lists for it but the handle (elements included). */
  body: Record<string, unknown>;
}

/** Our table in the kernel, normalized: chains and objects sorted by name, rules in kernel order. */
export interface NftObservedTable {
  family: string;
  name: string;
  chains: NftObservedChain[];
  objects: NftObservedObject[];
}

export interface NftDrift {
  drifted: boolean;
  /** What differs, one line each ('rule added in chain postrouting: …', 'table inet weft missing'). */
  differences: string[];
}
