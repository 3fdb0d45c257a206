// Steps many scenarios and benchmarks share: appliance settings, and a WireGuard link between two sites
// made through the two APIs alone (B imports A's exported bundle).
import type { Site } from './site.js';

export interface LinkedPair {
  /** Link name on A (towards B) and on B (towards A). */
  onA: string;
  onB: string;
}

function expect(ok: boolean, what: string, body: unknown): void {
  if (!ok) throw new Error(`${what}: ${JSON.stringify(body)}`);
}

/** B takes A's `peer-config?format=weft` bundle of link `name` as-is; returns the name of B's link. */
export async function importPeerConfig(a: Site, b: Site, name: string): Promise<string> {
  const bundle = await a.api.get<{ name: string }>(`/links/${name}/peer-config?format=weft`);
  expect(bundle.status === 200, `site ${a.name}: peer-config answered ${bundle.status}`, bundle.body);
  const imported = await b.api.post('/links', bundle.body);
  expect(
    imported.status === 201,
    `site ${b.name}: POST /links (import) answered ${imported.status}`,
    imported.body,
  );
  return bundle.body.name;
}

/** PUT /appliance: name site-<x>, underlay wan0, public endpoint = its WAN address, LAN = its LAN prefix. */
export async function applySiteSettings(site: Site): Promise<void> {
  const res = await site.api.put('/appliance', {
    name: `site-${site.name}`,
    underlay_interface: 'wan0',
    public_endpoint: site.wanAddress,
    local_subnets: [site.lanPrefix],
  });
  expect(res.status === 200, `site ${site.name}: PUT /appliance answered ${res.status}`, res.body);
}

export async function wireguardPublicKey(site: Site): Promise<string> {
  const res = await site.api.get<{ wireguard_public_key?: string }>('/appliance');
  const key = res.body.wireguard_public_key;
  if (!key) throw new Error(`site ${site.name}: GET /appliance has no wireguard_public_key`);
  return key;
}

/**
 * A creates a link to B with B's public key (no endpoint: B dials in); B imports A's peer-config bundle
 * as-is. Both sites need their settings applied first.
 */
export async function linkWireGuard(a: Site, b: Site, name = `to-${b.name}`): Promise<LinkedPair> {
  const made = await a.api.post('/links', {
    name,
    type: 'wireguard',
    remote_subnets: [b.lanPrefix],
    wireguard: { peer_public_key: await wireguardPublicKey(b) },
  });
  expect(made.status === 201, `site ${a.name}: POST /links answered ${made.status}`, made.body);
  return { onA: name, onB: await importPeerConfig(a, b, name) };
}

/**
 * A creates an IPsec link to B (PSK, B's WAN address as endpoint, A initiates); B imports A's
 * peer-config bundle as-is. `settings` adds to A's `ipsec` block (and so, through the bundle, to B's).
 */
export async function linkIpsec(
  a: Site,
  b: Site,
  psk: string,
  settings: Record<string, unknown> = {},
  name = `to-${b.name}`,
): Promise<LinkedPair> {
  const made = await a.api.post('/links', {
    name,
    type: 'ipsec',
    remote_endpoint: `${b.wanAddress}:500`,
    remote_subnets: [b.lanPrefix],
    ipsec: { preshared_key: psk, ...settings },
  });
  expect(made.status === 201, `site ${a.name}: POST /links answered ${made.status}`, made.body);
  return { onA: name, onB: await importPeerConfig(a, b, name) };
}
