// Kernel objects as @weft/core models them. Each field names the rtnetlink field or attribute it comes
// from, so a reader can go from here to `ip monitor`, rtnetlink(7) or the kernel source directly.
import type { IpFamily } from '../common/ip.js';

export type { IpFamily };

/** Address family numbers (AF_INET, AF_INET6) as carried in rtm_family / ifa_family / frh.family. */
export const AF = { inet: 2, inet6: 10 } as const;

/** IF_OPER_* (RFC 2863 operational state) as reported in IFLA_OPERSTATE. */
export type OperState = 'unknown' | 'notpresent' | 'down' | 'lowerlayerdown' | 'testing' | 'dormant' | 'up';
export const IF_OPER: readonly OperState[] = [
  'unknown', // IF_OPER_UNKNOWN = 0
  'notpresent', // IF_OPER_NOTPRESENT = 1
  'down', // IF_OPER_DOWN = 2
  'lowerlayerdown', // IF_OPER_LOWERLAYERDOWN = 3
  'testing', // IF_OPER_TESTING = 4
  'dormant', // IF_OPER_DORMANT = 5
  'up', // IF_OPER_UP = 6
];

export interface KernelLink {
  /** ifi_index */
  index: number;
  /** IFLA_IFNAME */
  name: string;
  /** IFF_UP in ifi_flags: administratively up (`ip link set … up`). */
  up: boolean;
  /** IFF_LOWER_UP in ifi_flags: the driver reports carrier. */
  lowerUp: boolean;
  /** IFLA_OPERSTATE */
  operState: OperState;
  /** IFLA_MTU */
  mtu: number | undefined;
  /** ifi_type (ARPHRD_*), as the netlink package names it: `ETHER`, `LOOPBACK`, `NONE` (TUN)… */
  linkType: string;
  /** IFLA_LINKINFO → IFLA_INFO_KIND: `veth`, `bridge`, `tun`, `vxlan`…; absent for plain devices. */
  kind: string | undefined;
  /** IFLA_MASTER: ifindex of the bridge or bond this link is enslaved to. */
  master: number | undefined;
}

export interface KernelAddress {
  family: IpFamily;
  /** IFA_LOCAL, or IFA_ADDRESS when there is no IFA_LOCAL (IPv6). */
  address: string;
  /** ifa_prefixlen */
  prefixLength: number;
  /** `address/prefixLength`, host bits kept: `192.0.2.1/24`. */
  cidr: string;
  /** ifa_index */
  ifindex: number;
  /** ifa_scope (RT_SCOPE_*: 0 universe, 253 link, 254 host). */
  scope: number;
  /** IFA_LABEL (IPv4 only) */
  label: string | undefined;
  /** IFA_ADDRESS when it differs from IFA_LOCAL: the far end of a point-to-point address. */
  peer: string | undefined;
}

export interface AddressSpec {
  /** ifa_index */
  ifindex: number;
  /** Local address with its prefix length, host bits kept: `192.0.2.1/24`, `2001:db8::1/64`. */
  cidr: string;
  /** Far end of a point-to-point link (IFA_ADDRESS beside IFA_LOCAL). */
  peer?: string;
  /**
   * IFA_LABEL (IPv4 only): the device's name or `<device>:<tag>` (the kernel refuses any other), at
   * most 15 characters. Lets an owner find its addresses again, e.g. `lo:weft`.
   */
  label?: string;
}

/** rtm_type values (RTN_*). */
export const RTN = {
  unspec: 0, // RTN_UNSPEC
  unicast: 1, // RTN_UNICAST: gateway or direct route
  local: 2, // RTN_LOCAL
  broadcast: 3, // RTN_BROADCAST
  anycast: 4, // RTN_ANYCAST
  multicast: 5, // RTN_MULTICAST
  blackhole: 6, // RTN_BLACKHOLE: drop silently
  unreachable: 7, // RTN_UNREACHABLE: drop, ICMP destination unreachable
  prohibit: 8, // RTN_PROHIBIT: drop, ICMP administratively prohibited
  throw: 9, // RTN_THROW: continue with the next rule
  nat: 10, // RTN_NAT
  xresolve: 11, // RTN_XRESOLVE
} as const;
export type RouteType = keyof typeof RTN;

/** The route types Weft can install. */
export type InstallableRouteType = Extract<
  RouteType,
  'unicast' | 'blackhole' | 'unreachable' | 'prohibit' | 'throw'
>;

/** rtm_scope values (RT_SCOPE_*). */
export const RT_SCOPE = { universe: 0, site: 200, link: 253, host: 254, nowhere: 255 } as const;

export interface KernelRoute {
  family: IpFamily;
  /** RTA_DST / rtm_dst_len as a canonical prefix; `0.0.0.0/0` or `::/0` for a default route. */
  destination: string;
  /** rtm_type */
  type: RouteType;
  /** RTA_TABLE, falling back to rtm_table (which holds only 8 bits: RT_TABLE_COMPAT for ours). */
  table: number;
  /** rtm_protocol (RTPROT_*): who installed it; ours carry WEFT_ROUTE_PROTOCOL. */
  protocol: number;
  /** rtm_scope */
  scope: number;
  /** RTA_PRIORITY; IPv6 routes added with 0 read back as 1024 (IP6_RT_PRIO_USER). */
  metric: number;
  /** RTA_OIF. The kernel reports one for gateway routes, and `lo` for IPv6 blackhole/unreachable. */
  ifindex: number | undefined;
  /** RTA_GATEWAY */
  gateway: string | undefined;
  /** RTA_PREFSRC */
  prefsrc: string | undefined;
  /** RTA_MULTIPATH present: several nexthops, which this model does not describe. */
  multipath: boolean;
}

export interface RouteSpec {
  /** RTA_DST / rtm_dst_len; host bits must be clear. */
  destination: string;
  /** rtm_type */
  type: InstallableRouteType;
  /** RTA_TABLE */
  table: number;
  /** RTA_PRIORITY */
  metric: number;
  /** rtm_protocol */
  protocol: number;
  /** RTA_OIF: required for unicast without a gateway. */
  ifindex?: number;
  /** RTA_GATEWAY */
  gateway?: string;
  /** RTA_PREFSRC */
  prefsrc?: string;
}

/** What identifies a route for RTM_DELROUTE. Fields left out match any value. */
export interface RouteSelector {
  destination: string;
  table: number;
  metric: number;
  /** rtm_protocol: only a route installed with this protocol is deleted. */
  protocol?: number;
  /** rtm_type */
  type?: InstallableRouteType;
}

/** FR_ACT_* (fib_rule_hdr.action); `lookup` is FR_ACT_TO_TBL. */
export const FR_ACT = {
  unspec: 0, // FR_ACT_UNSPEC
  lookup: 1, // FR_ACT_TO_TBL
  goto: 2, // FR_ACT_GOTO
  nop: 3, // FR_ACT_NOP
  blackhole: 6, // FR_ACT_BLACKHOLE
  unreachable: 7, // FR_ACT_UNREACHABLE
  prohibit: 8, // FR_ACT_PROHIBIT
} as const;
export type RuleAction = keyof typeof FR_ACT;

export interface KernelRule {
  family: IpFamily;
  /** FRA_PRIORITY (`ip rule` preference); absent means 0. */
  priority: number;
  /** FRA_TABLE, falling back to the 8-bit table of fib_rule_hdr. */
  table: number;
  /** fib_rule_hdr.action */
  action: RuleAction;
  /** FRA_PROTOCOL (RTPROT_*) */
  protocol: number;
  /** FRA_SRC / src_len */
  src: string | undefined;
  /** FRA_DST / dst_len */
  dst: string | undefined;
  /** FRA_FWMARK */
  fwmark: number | undefined;
  /** FRA_FWMASK */
  fwmask: number | undefined;
  /** FRA_IIFNAME */
  iifname: string | undefined;
  /** FRA_OIFNAME */
  oifname: string | undefined;
  /** FIB_RULE_INVERT ("not") */
  invert: boolean;
  /** True when nothing narrows the rule: `from all lookup <table>`. */
  fromAll: boolean;
}

/** `[not] from <src> to <dst> fwmark <m>/<mask> iif <i> oif <o> lookup <table> priority <p> proto <n>` */
export interface RuleSpec {
  family: IpFamily;
  /** FRA_TABLE; the action is always FR_ACT_TO_TBL. */
  table: number;
  /** FRA_PRIORITY */
  priority: number;
  /** FRA_PROTOCOL */
  protocol?: number;
  src?: string;
  dst?: string;
  fwmark?: number;
  fwmask?: number;
  iifname?: string;
  oifname?: string;
}

/** One rtnetlink notification: RTM_NEW* is `new`, RTM_DEL* is `del`. */
export type KernelChange =
  | {
      kind: 'link';
      action: 'new' | 'del';
      /** RTM_NEWLINK / RTM_DELLINK */ nlmsgType: number;
      link: KernelLink;
    }
  | {
      kind: 'address';
      action: 'new' | 'del';
      /** RTM_NEWADDR / RTM_DELADDR */ nlmsgType: number;
      address: KernelAddress;
    }
  | {
      kind: 'route';
      action: 'new' | 'del';
      /** RTM_NEWROUTE / RTM_DELROUTE */ nlmsgType: number;
      route: KernelRoute;
    }
  | {
      kind: 'rule';
      action: 'new' | 'del';
      /** RTM_NEWRULE / RTM_DELRULE */ nlmsgType: number;
      rule: KernelRule;
    }
  /**
   * Notifications were lost (the socket overflowed with ENOBUFS, or this consumer fell behind and its
   * backlog was dropped). Whatever was cached is stale: read the state again.
   */
  | { kind: 'overrun'; reason: string };

/** rtnetlink message types (RTM_*) this module sends or receives. */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  NEWADDR: 20,
  DELADDR: 21,
  NEWROUTE: 24,
  DELROUTE: 25,
  NEWRULE: 32,
  DELRULE: 33,
} as const;
