// Every piece of kernel state Weft owns, in one place. Cleanup after a crash and the reconciler's
// "is this ours?" checks rely on these numbers alone, so nothing else may invent its own.

/**
 * The routing table that holds every route Weft installs. Routes live in a table of their own so that
 * `cleanup()` can flush it without touching the administrator's routes in `main`.
 * 7373 is far from the ids other software on the appliance picks (main 254, local 255, default 253,
 * strongSwan 220) and from the small numbers administrators tend to use by hand.
 */
export const WEFT_TABLE = { id: 7373, name: 'weft' } as const;

/**
 * Priority of the `from all lookup weft` rule (FRA_PRIORITY), the same for IPv4 and IPv6.
 * It sits after `local` (0) and before `main` (32766), so our routes win over main's default route.
 * strongSwan's defaults (priority 220 → table 220) would be consulted before ours, so the appliance's
 * charon is given CHARON_TABLE behind CHARON_RULE_PRIORITY instead (below).
 */
export const WEFT_RULE_PRIORITY = 5300;

/**
 * The appliance's charon's own routing table (strongswan.conf `charon.routing_table`).
 * kernel-libipsec installs `<remote net> dev ipsec0 src <local addr>` there for every CHILD_SA, even
 * with `install_routes = no`. Not 220 (charon's default, which other strongSwan installs use) and not
 * 0 (charon would then write into `main`). Flushed by `weft cleanup` like Weft's own table.
 */
export const CHARON_TABLE = { id: 7374, name: 'weft-charon' } as const;

/**
 * Priority of the `from all lookup 7374` rule charon itself adds at start and removes at a clean exit
 * (`charon.routing_table_prio`; a SIGKILL leaves it behind). After WEFT_RULE_PRIORITY, so Weft's
 * routes win and charon's only fill in; charon's default 220 would let an IPsec SA silently override
 * another link's route to the same prefix.
 */
export const CHARON_RULE_PRIORITY = 5400;

/**
 * The rtm_protocol / FRA_PROTOCOL stamped on our routes and rules (`proto 87` in `ip route`). Values
 * above RTPROT_STATIC (4) are not interpreted by the kernel; 87 is not taken by any routing daemon in
 * iproute2's rt_protos list, so a route carrying it was written by us.
 */
export const WEFT_ROUTE_PROTOCOL = { id: 87, name: 'weft' } as const;

/**
 * The label (IFA_LABEL) of the IPv4 addresses Weft puts on `lo`: charon with kernel-libipsec needs a
 * local address inside a link's local traffic selector, which with NETMAP is the mapped net
 * (`netmap.local`), so the IPsec driver adds that net's first host as a /32. `weft cleanup` removes every
 * address carrying this label. The kernel accepts only `<device>:<tag>` labels, ≤ 15 characters.
 */
export const WEFT_LOOPBACK_LABEL = 'lo:weft';

/** The nftables table the NAT module will own (`table inet weft`); declared now so the name is taken. */
export const WEFT_NFT_TABLE = { family: 'inet', name: 'weft' } as const;

/**
 * The nftables table of the multicast forwarder used where the kernel has no multicast routing
 * (CONFIG_IP_MROUTE): `table ip weft_mcast`, one prerouting rule per route that `dup`s the group to
 * each outbound interface. Removed by `weft cleanup`.
 */
export const WEFT_MULTICAST_NFT_TABLE = { family: 'ip', name: 'weft_mcast' } as const;

/**
 * Packet marks Weft sets with nftables and matches with rules. None are in use yet; new ones go here
 * with the mask they occupy so two features can never collide.
 */
export const WEFT_FWMARKS = {} as const satisfies Record<string, { mark: number; mask: number }>;

/** The numbers above as one value, so RoutingCore can be given another set in tests. */
export interface OwnedKernelState {
  readonly table: { readonly id: number; readonly name: string };
  readonly rulePriority: number;
  readonly protocol: { readonly id: number; readonly name: string };
}

export const OWNED: OwnedKernelState = {
  table: WEFT_TABLE,
  rulePriority: WEFT_RULE_PRIORITY,
  protocol: WEFT_ROUTE_PROTOCOL,
};
