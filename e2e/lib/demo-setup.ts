// What `make demo` builds on a three-site lab, through the APIs alone: the three tunnel types between
// the three sites and one multicast group across two of them.
//
//   a ══ WireGuard ══ b        LAN a → 239.1.1.1 (TTL 1, lifted on gw a) → LANs b and c
//   a ══ IPsec     ══ c
//   b ══ OpenVPN   ══ c
//
// e2e/scenarios/demo/demo.e2e.ts runs the same set-up and checks every path carries packets.
import type { Site } from './site.js';
import { caOf } from './probes.js';
import { importPeerConfig, linkIpsec, linkWireGuard } from './weft.js';

export const DEMO_GROUP = '239.1.1.1';

export interface DemoLink {
  from: Site;
  to: Site;
  type: 'wireguard' | 'ipsec' | 'openvpn';
  /** The link's name on `from` and on `to`. */
  onFrom: string;
  onTo: string;
}

function expectStatus(ok: boolean, what: string, body: unknown): void {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(body)}`);
}

/** Links a–b (WireGuard), a–c (IPsec), b–c (OpenVPN). Each site needs its settings applied first. */
export async function linkDemoSites(a: Site, b: Site, c: Site): Promise<DemoLink[]> {
  const ab = await linkWireGuard(a, b);
  const ac = await linkIpsec(a, c, `demo-${a.name}-${c.name}-psk-0123456789abcdef`);
  const made = await b.api.post('/links', {
    name: `to-${c.name}`,
    type: 'openvpn',
    remote_endpoint: `${c.wanAddress}:1194`,
    remote_subnets: [c.lanPrefix],
    openvpn: { remote_ca: await caOf(c) },
  });
  expectStatus(
    made.status === 201,
    `site ${b.name}: POST /links (openvpn) answered ${made.status}`,
    made.body,
  );
  const bc = await importPeerConfig(b, c, `to-${c.name}`);
  return [
    { from: a, to: b, type: 'wireguard', onFrom: ab.onA, onTo: ab.onB },
    { from: a, to: c, type: 'ipsec', onFrom: ac.onA, onTo: ac.onB },
    { from: b, to: c, type: 'openvpn', onFrom: `to-${c.name}`, onTo: bc },
  ];
}

async function putMulticast(site: Site, groups: unknown[]): Promise<void> {
  const current = await site.api.get<Record<string, unknown>>('/config');
  const res = await site.api.put(
    '/config',
    { ...current.body, multicast: { groups } },
    { headers: { 'if-match': String(current.headers.etag) } },
  );
  expectStatus(
    res.status === 200,
    `site ${site.name}: PUT /config (multicast) answered ${res.status}`,
    res.body,
  );
}

/**
 * DEMO_GROUP from LAN a to the links to b and c (TTL lifted to 8, so TTL-1 senders reach them); b and c
 * take it from their link to a onto their LAN.
 */
export async function demoMulticast(links: readonly DemoLink[]): Promise<void> {
  const fromA = links.filter((l) => l.from === links[0]?.from);
  const a = fromA[0]?.from;
  if (!a) throw new Error('no demo links');
  await putMulticast(a, [
    { name: 'demo', group: DEMO_GROUP, from: 'lan', to: fromA.map((l) => l.onFrom), ttl_lift: 8 },
  ]);
  for (const l of fromA) {
    await putMulticast(l.to, [{ name: 'demo', group: DEMO_GROUP, from: l.onTo, to: ['lan'] }]);
  }
}
