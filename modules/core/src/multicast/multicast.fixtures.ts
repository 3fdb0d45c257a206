// Captured on this machine (Debian 12, kernel 6.18, smcroute 2.5.6, x86_64 = little-endian) in a
// private namespace: router with rs (10.0.0.1/24, sender 10.0.0.2 behind it), r1 and r2; smcroute.conf
//   phyint rs enable / phyint r1 enable / phyint r2 enable
//   mroute from rs group 239.1.1.1 to r1 r2
//   mroute from rs source 10.0.0.2 group 239.2.2.2 to r1
// `smcrouted -n -N -f smc.conf -u smc.sock -P smc.pid`, then 5 datagrams with TTL 4 from 10.0.0.2 to each
// of 239.1.1.1 and 239.2.2.2 (28 + 2 bytes each), then:
//   cat /proc/net/ip_mr_cache; cat /proc/net/ip_mr_vif; smcroutectl -p -d -u smc.sock show routes

/** cat /proc/net/ip_mr_cache */
export const IP_MR_CACHE =
  'Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n020202EF 0200000A 0          5      150        0  1:1  \n010101EF 0200000A 0          5      150        0  1:1    2:1  \n';

/** cat /proc/net/ip_mr_vif */
export const IP_MR_VIF =
  'Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n 0 rs              300      10         0       0 00008 00000003 00000000\n 1 r1                0       0       300      10 00008 00000005 00000000\n 2 r2                0       0       150       5 00008 00000007 00000000\n';

/** smcroutectl -p -d -u smc.sock show routes (the same counters, as smcrouted reports them) */
export const SMCROUTECTL_SHOW_ROUTES =
  '_______________________________________________________________________________\n(*,G) Template Rules\n===============================================================================\nROUTE (S,G)                                IIF    PACKETS      BYTES  OIFS\n===============================================================================\n(*, 239.1.1.1)                             rs           0          0  r1 r2\n_______________________________________________________________________________\n(S,G) Rules\n===============================================================================\nROUTE (S,G)                                IIF    PACKETS      BYTES  OIFS\n===============================================================================\n(10.0.0.2, 239.2.2.2)                      rs           5        150  r1\n_______________________________________________________________________________\nKernel MFC Table\n===============================================================================\nROUTE (S,G)                                IIF    PACKETS      BYTES  OIFS\n===============================================================================\n(10.0.0.2, 239.2.2.2)                      rs           5        150  r1\n(10.0.0.2, 239.1.1.1)                      rs           5        150  r1 r2\n\n';
