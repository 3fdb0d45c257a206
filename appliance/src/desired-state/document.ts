// The desired-state document: its types (from the spec), defaults, and schema migrations.
import type { Schemas } from '@weft/api-spec';

export type ConfigDocument = Schemas['ConfigDocument'];
export type Link = Schemas['Link'];
export type WireGuardLink = Schemas['WireGuardLink'];
export type Route = Schemas['Route'];
export type ApplianceSettings = Schemas['ApplianceSettings'];
export type NatSettings = Schemas['NatSettings'];
export type PortForward = Schemas['PortForward'];
export type Netmap = NonNullable<Schemas['LinkCommon']['netmap']>;
export type Plan = Schemas['Plan'];
export type PlanAction = Schemas['PlanAction'];
export type PlanChange = Plan['changes'][number];
export type RevisionState = Schemas['RevisionState'];

/** The document schema version this build writes. */
export const DOCUMENT_SCHEMA_VERSION = 1;

/** A document in its full form: every optional list present, NAT defaults filled, version stamped. */
export interface NormalizedDocument extends ConfigDocument {
  schema_version: 1;
  links: Link[];
  routes: Route[];
  nat: Required<NatSettings>;
}

export function emptyDocument(name = 'weft'): NormalizedDocument {
  return {
    schema_version: 1,
    appliance: { name, local_subnets: [] },
    links: [],
    routes: [],
    nat: { masquerade: true, port_forwards: [] },
  };
}

/**
 * Numbered, pure migrations of stored documents: `migrations[n]` turns version n into n+1.
 * Version 1 is the first; the table grows with the schema.
 */
const migrations: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

export function migrateDocument(raw: Record<string, unknown>): NormalizedDocument {
  let doc = structuredClone(raw);
  let version = typeof doc.schema_version === 'number' ? doc.schema_version : 1;
  if (version > DOCUMENT_SCHEMA_VERSION) {
    throw new Error(
      `stored document has schema version ${version}, newer than this build understands (${DOCUMENT_SCHEMA_VERSION})`,
    );
  }
  while (version < DOCUMENT_SCHEMA_VERSION) {
    const step = migrations[version];
    if (!step) throw new Error(`no migration from document schema version ${version}`);
    doc = step(doc);
    version += 1;
  }
  return normalize(doc as unknown as ConfigDocument);
}

export function normalize(doc: ConfigDocument): NormalizedDocument {
  const copy = structuredClone(doc);
  return {
    ...copy,
    schema_version: 1,
    appliance: { ...copy.appliance, local_subnets: copy.appliance.local_subnets ?? [] },
    links: copy.links ?? [],
    routes: copy.routes ?? [],
    // Documents stored before `nat` existed read as the defaults: no migration needed.
    nat: {
      masquerade: copy.nat?.masquerade ?? true,
      port_forwards: copy.nat?.port_forwards ?? [],
    },
  };
}

/** The subnets a link offers the remote site: its own list, else the appliance's. */
export function effectiveLocalSubnets(doc: ConfigDocument, link: Link): string[] {
  return link.local_subnets ?? doc.appliance.local_subnets ?? [];
}

// NETMAP (prefix translation for overlapping subnets). A netmapped link has two views of its prefixes:
// - on the wire (wireSubnets): what the tunnel carries and the routing core routes — WireGuard
//   allowed-ips, IPsec traffic selectors, OpenVPN routes and iroutes, the routes into the link in
//   Weft's table, and what a third-party device is told to send and expect;
// - real (effectiveLocalSubnets, link.remote_subnets): what the LANs actually use — the NAT rules that
//   translate between the two (snat/dnat prefix, masquerade of the LAN), port-forward targets, verify's
//   overlap checks of the appliance's own LAN, and the real subnets an exported Weft bundle hands the
//   far end (it translates them on its side with the mirrored netmap).
// A real remote subnet of a link with netmap.remote is never routed: it overlaps this site's own LAN.

export interface WireSubnets {
  /** This site's prefixes as the tunnel carries them (the remote site sees this site here). */
  local: string[];
  /** The remote site's prefixes as the tunnel carries them (this site reaches the remote site here). */
  remote: string[];
}

/** The link's prefixes as they appear on its tunnel. */
export function wireSubnets(doc: ConfigDocument, link: Link): WireSubnets {
  const netmap = link.netmap;
  return {
    local: netmap?.local !== undefined ? [netmap.local] : [...effectiveLocalSubnets(doc, link)],
    remote: netmap?.remote !== undefined ? [netmap.remote] : [...link.remote_subnets],
  };
}

/** Write-only secrets are kept when a change leaves them out, so GET → edit → PUT keeps them. */
export function carrySecrets(next: NormalizedDocument, previous: NormalizedDocument | undefined): void {
  if (!previous) return;
  const before = new Map(previous.links.map((l) => [l.name, l]));
  for (const link of next.links) {
    const old = before.get(link.name);
    if (link.type === 'wireguard' && old?.type === 'wireguard') {
      if (link.wireguard.preshared_key === undefined && old.wireguard.preshared_key !== undefined) {
        link.wireguard.preshared_key = old.wireguard.preshared_key;
      }
    }
    if (link.type === 'ipsec' && old?.type === 'ipsec') {
      const psk = old.ipsec?.preshared_key;
      if (link.ipsec?.preshared_key === undefined && psk !== undefined)
        link.ipsec = { ...link.ipsec, preshared_key: psk };
      // The key of an imported certificate, while the link still has one (a renewed certificate for
      // the same key keeps working); a link that drops local_certificate drops its key with it.
      const key = old.ipsec?.local_private_key;
      if (
        link.ipsec?.local_private_key === undefined &&
        link.ipsec?.local_certificate !== undefined &&
        key !== undefined
      )
        link.ipsec = { ...link.ipsec, local_private_key: key };
    }
  }
}

/** The document as the API shows it: write-only secrets removed, `*_set` flags added. */
export function redactDocument(doc: NormalizedDocument): NormalizedDocument {
  const out = structuredClone(doc);
  for (const link of out.links) {
    if (link.type === 'wireguard') {
      const wg = link.wireguard as { preshared_key?: string; preshared_key_set?: boolean };
      wg.preshared_key_set = wg.preshared_key !== undefined;
      delete wg.preshared_key;
    }
    if (link.type === 'ipsec') {
      const ipsec = (link.ipsec ?? {}) as {
        preshared_key?: string;
        preshared_key_set?: boolean;
        local_private_key?: string;
        local_private_key_set?: boolean;
      };
      ipsec.preshared_key_set = ipsec.preshared_key !== undefined;
      delete ipsec.preshared_key;
      ipsec.local_private_key_set = ipsec.local_private_key !== undefined;
      delete ipsec.local_private_key;
      link.ipsec = ipsec;
    }
    if (link.type === 'openvpn') {
      const ovpn = link.openvpn as { tls_crypt_key?: string; tls_crypt_key_set?: boolean };
      ovpn.tls_crypt_key_set = ovpn.tls_crypt_key !== undefined;
      delete ovpn.tls_crypt_key;
    }
  }
  return out;
}
