// An IPsec link as charon sees it, from this side and — for peer-config — from the other side. Pure.
import {
  caCertificateProblem,
  certificateBlocks,
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  importedCertificateProblems,
  importedIdentity,
  renderSwanctl,
  type ImportedField,
  type IpsecConnSpec,
} from '@weft/ipsec';
import type { Schemas } from '@weft/api-spec';
import { firstHostOf, parsePrefix } from '../common/cidr.js';
import type { FieldProblem } from '../common/errors.js';
import { ConflictError } from '../common/errors.js';
import {
  effectiveLocalSubnets,
  wireSubnets,
  type Link,
  type NormalizedDocument,
} from '../desired-state/document.js';
import { mirroredNetmap, thirdPartyNetmapNote } from '../desired-state/netmap.js';
import { groupsAcross } from '../desired-state/multicast.js';

export type IpsecLink = Schemas['IpsecLink'];
export type IpsecSettings = Schemas['IpsecSettings'];

export const IKE_PORT = 500;

export function isIpsec(link: Link): link is IpsecLink {
  return link.type === 'ipsec';
}

/**
 * A certificate link proving itself with an imported certificate (`local_certificate`) rather than one
 * from the appliance's own CA.
 */
export function hasImportedCertificate(link: IpsecLink): boolean {
  return link.ipsec?.auth === 'certificate' && link.ipsec.local_certificate !== undefined;
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

/**
 * The address charon needs on `lo` for a link with netmap.local: the mapped net's first host, as a
 * host prefix. kernel-libipsec routes a CHILD_SA's remote net with a source inside the local traffic
 * selector and fails without one (LAB-NOTES: "error installing route", TS_UNACCEPTABLE at the peer);
 * with NETMAP that selector is the mapped net, which no interface has.
 */
export function loopbackAddressOf(link: IpsecLink): string | undefined {
  const text = link.netmap?.local;
  const p = text === undefined ? undefined : parsePrefix(text);
  return p ? firstHostOf(p) : undefined;
}

/** The connection this appliance loads into charon for `link`. */
export function connSpecOf(doc: NormalizedDocument, link: IpsecLink): IpsecConnSpec {
  const s: IpsecSettings = link.ipsec ?? {};
  const remote = link.remote_endpoint ? splitHostPort(link.remote_endpoint) : undefined;
  const version = s.version ?? 'ikev2';
  const imported = hasImportedCertificate(link);
  // An imported certificate proves its subject (charon's default too); ours is issued for the endpoint.
  const localId =
    s.local_id ?? (imported ? importedIdentity(s.local_certificate ?? '') : doc.appliance.public_endpoint);
  const leaf = imported ? certificateBlocks(s.local_certificate ?? '')?.[0] : undefined;
  const remoteId = s.remote_id ?? remote?.host;
  // Traffic selectors name the prefixes as the tunnel carries them (kernel-libipsec reads packets after
  // POSTROUTING, so after the NAT core mapped them).
  const wire = wireSubnets(doc, link);
  const groups = groupsAcross(doc, link);
  return {
    name: link.name,
    version,
    aggressive: version === 'ikev1' && s.ikev1_mode === 'aggressive',
    localAddrs: ['%any'],
    remoteAddrs: [remote?.host ?? '%any'],
    ...(remote && remote.port !== IKE_PORT ? { remotePort: remote.port } : {}),
    ...(localId ? { localId } : {}),
    ...(remoteId ? { remoteId } : {}),
    auth: s.auth === 'certificate' ? 'pubkey' : 'psk',
    // The appliance-issued certificate is added by the driver when it loads the connection (it lives in
    // module state); an imported one is in the document.
    ...(s.auth === 'certificate' && s.remote_ca ? { remoteCa: s.remote_ca } : {}),
    ...(leaf ? { localCert: leaf } : {}),
    ...(imported && s.local_ca ? { localCa: s.local_ca } : {}),
    ikeProposals: s.ike_proposals ?? DEFAULT_IKE_PROPOSALS,
    espProposals: s.esp_proposals ?? DEFAULT_ESP_PROPOSALS,
    // Multicast groups crossing the link go in both selectors, on both ends: a CHILD_SA carries only
    // what they cover, and the group is the destination whichever way it flows.
    localTs: [...wire.local, ...groups],
    remoteTs: [...wire.remote, ...groups],
    dpdDelay: s.dpd_delay ?? 30,
    dpdAction: s.dpd_action ?? 'restart',
    startAction: s.start_action ?? (remote ? 'initiate' : 'wait'),
    ikeRekeySeconds: s.ike_rekey_seconds ?? 14400,
    childRekeySeconds: s.child_rekey_seconds ?? 3600,
    forceEncap: s.force_encapsulation ?? false,
  };
}

/** Cross-field checks of IPsec links, each with the field and the fix. `now` dates certificates. */
export function verifyIpsecLinks(doc: NormalizedDocument, now: Date): FieldProblem[] {
  const problems: FieldProblem[] = [];
  doc.links.forEach((link, i) => {
    if (!isIpsec(link)) return;
    const s = link.ipsec ?? {};
    const base = `/links/${i}/ipsec`;
    if ((s.auth ?? 'psk') === 'psk' && !s.preshared_key) {
      problems.push({
        pointer: `${base}/preshared_key`,
        message:
          'a pre-shared key is needed with auth "psk": set preshared_key (20 or more characters) on both sides',
      });
    }
    if (s.auth === 'certificate') problems.push(...certificateProblems(doc, s, base, now));
    else problems.push(...importedOutsideCertificate(s, base));
    if (s.ikev1_mode === 'aggressive' && (s.version ?? 'ikev2') !== 'ikev1') {
      problems.push({
        pointer: `${base}/ikev1_mode`,
        message: 'aggressive mode exists only in IKEv1: set version "ikev1" or drop ikev1_mode',
      });
    }
    if (s.ikev1_mode === 'aggressive' && s.allow_aggressive_mode !== true) {
      problems.push({
        pointer: `${base}/ikev1_mode`,
        message:
          'IKEv1 aggressive mode sends a hash of the pre-shared key that can be cracked offline: use main mode, or set allow_aggressive_mode true if the peer can do nothing else',
      });
    }
  });
  return problems;
}

/** Imported certificate fields on a PSK link: refused rather than silently ignored. */
function importedOutsideCertificate(s: IpsecSettings, base: string): FieldProblem[] {
  return (['local_certificate', 'local_private_key', 'local_ca'] as const)
    .filter((field) => s[field] !== undefined)
    .map((field) => ({
      pointer: `${base}/${field}`,
      message: `${field} is used only with auth "certificate": set auth "certificate", or drop ${field}`,
    }));
}

const IMPORTED_FIELDS: Record<ImportedField, keyof IpsecSettings> = {
  certificate: 'local_certificate',
  privateKey: 'local_private_key',
  ca: 'local_ca',
  localId: 'local_id',
};

/**
 * An imported certificate: both halves or neither, parsed, matching, in date, a key type charon signs
 * with, chaining to `local_ca`, and an identity it can prove. Messages never quote the key.
 */
function importedProblems(s: IpsecSettings, base: string, now: Date): FieldProblem[] {
  const cert = s.local_certificate;
  const key = s.local_private_key;
  if (cert === undefined) {
    return [
      {
        pointer: `${base}/local_certificate`,
        message:
          'local_private_key needs the certificate it belongs to: set local_certificate (PEM), or drop local_private_key',
      },
    ];
  }
  if (key === undefined) {
    return [
      {
        pointer: `${base}/local_private_key`,
        message: 'local_certificate needs its private key: set local_private_key (PEM, unencrypted)',
      },
    ];
  }
  return importedCertificateProblems({
    certificate: cert,
    privateKey: key,
    ca: s.local_ca,
    ikeVersion: s.version ?? 'ikev2',
    localId: s.local_id,
    now,
  }).map((p) => {
    const field = IMPORTED_FIELDS[p.field];
    return { pointer: `${base}/${field}`, message: `${field} ${p.message}` };
  });
}

/** `auth: certificate`: the remote CA, and an identity this appliance's certificate can prove. */
function certificateProblems(
  doc: NormalizedDocument,
  s: IpsecSettings,
  base: string,
  now: Date,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!s.remote_ca) {
    problems.push({
      pointer: `${base}/remote_ca`,
      message:
        'certificate authentication needs the CA of the remote side: set remote_ca to the PEM of the CA that issued its certificate (a Weft appliance shows its own as ca_certificate in GET /appliance)',
    });
  } else {
    const problem = caCertificateProblem(s.remote_ca);
    if (problem) problems.push({ pointer: `${base}/remote_ca`, message: `remote_ca ${problem}` });
  }
  if (s.local_certificate !== undefined || s.local_private_key !== undefined) {
    problems.push(...importedProblems(s, base, now));
    return problems;
  }
  if (s.local_ca !== undefined) {
    problems.push({
      pointer: `${base}/local_ca`,
      message:
        "local_ca is the CA of an imported certificate: set local_certificate and local_private_key, or drop local_ca (the appliance's own CA is used)",
    });
  }
  const endpoint = doc.appliance.public_endpoint;
  if (!endpoint) {
    problems.push({
      pointer: '/appliance/public_endpoint',
      message:
        "certificate authentication proves this appliance's public_endpoint (its certificate is issued for it): set public_endpoint (PUT /appliance)",
    });
  } else if (s.local_id !== undefined && s.local_id !== endpoint) {
    problems.push({
      pointer: `${base}/local_id`,
      message: `this appliance's certificate is issued for its public_endpoint "${endpoint}", not "${s.local_id}": drop local_id with auth "certificate"`,
    });
  }
  return problems;
}

function publicEndpoint(doc: NormalizedDocument): string {
  const host = doc.appliance.public_endpoint;
  if (!host) {
    throw new ConflictError(
      'the appliance has no public_endpoint: set it (PUT /appliance) so the remote side knows where to reach this site',
    );
  }
  return host;
}

/**
 * The CA the other side must trust for this link: the one that issued the imported certificate
 * (`local_ca`), else this appliance's own.
 */
function caFor(link: IpsecLink, ownCaCertificate: string | undefined): string {
  if (!hasImportedCertificate(link)) return ownCa(ownCaCertificate);
  const ca = link.ipsec?.local_ca;
  if (!ca) {
    throw new ConflictError(
      `link "${link.name}" uses an imported certificate without local_ca: set local_ca to the CA that issued local_certificate, so the other side knows what to trust`,
    );
  }
  return ca;
}

function ownCa(ownCaCertificate: string | undefined): string {
  if (!ownCaCertificate) {
    throw new ConflictError(
      "this appliance has no IPsec CA certificate yet (the IPsec module makes it when it starts; see the appliance's log): certificate links cannot be exported before",
    );
  }
  return ownCaCertificate;
}

/**
 * The remote Weft appliance's side of this link, as a body for its `POST /links`. With certificates it
 * carries the CA this side's certificate chains to (this appliance's, or `local_ca` for an imported
 * one) as the remote side's `remote_ca`, and no secret at all. The subnets are the real ones and the
 * netmap is mirrored: the far end's selectors then come out as ours swapped.
 */
export function ipsecBundle(doc: NormalizedDocument, link: IpsecLink, ownCaCertificate?: string): Link {
  const mine = connSpecOf(doc, link);
  const host = publicEndpoint(doc);
  const s = link.ipsec ?? {};
  const certificate = s.auth === 'certificate';
  const netmap = mirroredNetmap(link);
  const settings: IpsecSettings = {
    version: mine.version,
    ...(s.ikev1_mode ? { ikev1_mode: s.ikev1_mode } : {}),
    ...(s.allow_aggressive_mode ? { allow_aggressive_mode: s.allow_aggressive_mode } : {}),
    auth: s.auth ?? 'psk',
    ...(certificate ? { remote_ca: caFor(link, ownCaCertificate) } : {}),
    ...(!certificate && s.preshared_key ? { preshared_key: s.preshared_key } : {}),
    ...(mine.remoteId ? { local_id: mine.remoteId } : {}),
    ...(mine.localId ? { remote_id: mine.localId } : {}),
    ...(s.ike_proposals ? { ike_proposals: s.ike_proposals } : {}),
    ...(s.esp_proposals ? { esp_proposals: s.esp_proposals } : {}),
    dpd_delay: mine.dpdDelay,
    dpd_action: mine.dpdAction,
    ike_rekey_seconds: mine.ikeRekeySeconds,
    child_rekey_seconds: mine.childRekeySeconds,
    ...(s.force_encapsulation ? { force_encapsulation: true } : {}),
  };
  return {
    name: doc.appliance.name,
    type: 'ipsec',
    description: `IPsec link to ${doc.appliance.name} (exported from its link "${link.name}")`,
    remote_endpoint: `${host.includes(':') ? `[${host}]` : host}:${IKE_PORT}`,
    remote_subnets: [...effectiveLocalSubnets(doc, link)],
    local_subnets: [...link.remote_subnets],
    ...(netmap ? { netmap } : {}),
    ...(link.metric !== undefined ? { metric: link.metric } : {}),
    ipsec: settings,
  };
}

/** File names the swanctl.conf of a certificate link refers to (in swanctl's x509/ and x509ca/). */
export const SWANCTL_DEVICE_CERT = 'device.pem';
export const SWANCTL_WEFT_CA = 'weft-ca.pem';

/**
 * A stock swanctl.conf for a third-party strongSwan at the other end of this link. With certificates,
 * the device proves itself with its own certificate and key, which Weft cannot make for it: the
 * header says what to install where, and this appliance's CA follows as a PEM block to save.
 */
export function ipsecSwanctl(doc: NormalizedDocument, link: IpsecLink, ownCaCertificate?: string): string {
  const mine = connSpecOf(doc, link);
  const certificate = link.ipsec?.auth === 'certificate';
  const host = publicEndpoint(doc);
  const theirs: IpsecConnSpec = {
    ...mine,
    name: doc.appliance.name.replace(/[^A-Za-z0-9_.-]/g, '-'),
    localAddrs: ['%any'],
    remoteAddrs: [host],
    localTs: mine.remoteTs,
    remoteTs: mine.localTs,
    startAction: 'initiate',
  };
  delete theirs.remotePort;
  // Our certificate and the CA it chains to are ours: the device proves itself with its own.
  delete theirs.localCert;
  delete theirs.localCa;
  delete theirs.localId;
  delete theirs.remoteId;
  if (mine.remoteId) theirs.localId = mine.remoteId;
  if (mine.localId) theirs.remoteId = mine.localId;
  const note = thirdPartyNetmapNote(link);
  const header = [
    `swanctl.conf for the remote end of the IPsec link "${link.name}" of Weft appliance "${doc.appliance.name}".`,
    'Load it with: swanctl --load-all --file <this file>',
    ...(note ? [note] : []),
  ];
  if (!certificate) return renderSwanctl(theirs, link.ipsec?.preshared_key, header);
  const ca = caFor(link, ownCaCertificate);
  theirs.remoteCa = ca;
  const caOf = hasImportedCertificate(link)
    ? `the CA that issued the certificate of "${doc.appliance.name}" (its local_ca)`
    : `the CA of "${doc.appliance.name}"`;
  const id = mine.remoteId ?? "<this device's identity>";
  const text = renderSwanctl(
    theirs,
    undefined,
    [
      ...header,
      '',
      'Certificate authentication. This device needs, before loading:',
      `  - its own key in swanctl/private/ and its certificate as swanctl/x509/${SWANCTL_DEVICE_CERT},`,
      `    issued for "${id}" (subjectAltName) by a CA the Weft link trusts: the link's remote_ca`,
      "    must be that CA's certificate (set it on the Weft side; Weft does not issue certificates for",
      '    other devices);',
      `  - ${caOf}, the PEM block at the end of this file, saved as`,
      `    swanctl/x509ca/${SWANCTL_WEFT_CA}.`,
    ],
    { localCert: SWANCTL_DEVICE_CERT, remoteCa: SWANCTL_WEFT_CA },
  );
  const pem = ca.trim().split('\n');
  return [text.trimEnd(), '', `# swanctl/x509ca/${SWANCTL_WEFT_CA}:`, ...pem.map((l) => `# ${l}`), ''].join(
    '\n',
  );
}
