// Imported X.509 material: a certificate (and its chain) from the operator's own PKI instead of one the
// appliance's CA issued. What verify checks before charon sees any of it, and what the driver hands
// charon (load-cert, load-key). Pure: node:crypto parses, nothing is read or written. No message here
// ever quotes key material; the key is only ever re-encoded, for charon's load-key.
//
// Key types are those charon (5.9, plugins openssl, pem, pkcs1, pkcs8) loads and signs IKE with, checked
// against a real charon pair: RSA, ECDSA on the NIST curves, and — IKEv2 only, through RFC 7427
// signature authentication — ECDSA on Brainpool curves, Ed25519 and Ed448. IKEv1 signs with RSA or
// ECDSA on the NIST curves only.
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '@weft/core';
import { caCertificateProblem } from './ipsec.pki.js';

/** The load-key type charon parses the key as (PKCS#8 PEM is read whatever the type). */
export type CharonKeyType = 'rsa' | 'ecdsa' | 'any';

/** Which input a problem is about; the caller names the field. */
export type ImportedField = 'certificate' | 'privateKey' | 'ca' | 'localId';

export interface ImportedProblem {
  field: ImportedField;
  /** Reads after the field's name: "local_certificate <message>". */
  message: string;
}

export interface ImportedCertificateInput {
  /** PEM: the certificate, then the intermediate CAs that issued it (issuer after each). */
  certificate: string;
  /** PEM of the certificate's private key. */
  privateKey: string;
  /** PEM of the CA the chain ends at (what the other side trusts). */
  ca?: string | undefined;
  ikeVersion: 'ikev1' | 'ikev2';
  /** An explicit IKE identity: it must be the subject or a subjectAltName. */
  localId?: string | undefined;
  now: Date;
}

/** What charon gets for an imported certificate. */
export interface ImportedCredentials {
  /** The certificate itself (one PEM block). */
  certificate: string;
  /** Intermediate CA certificates, issuer after each (PEM blocks). */
  intermediates: string[];
  /** The private key as PKCS#8 PEM, with the load-key type. Secret: for load-key only. */
  key: { type: CharonKeyType; data: string };
}

const BLOCK = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;
const KEY_PEM = /-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----[\s\S]+?-----END \1-----/;

const NIST_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
const BRAINPOOL_CURVES = new Set(['brainpoolP256r1', 'brainpoolP384r1', 'brainpoolP512r1']);
const MIN_RSA_BITS = 2048;

/** DN attributes strongSwan parses by these names (X.501 short names, as node prints them). */
const DN_ATTRIBUTES = new Set(['C', 'ST', 'L', 'O', 'OU', 'CN', 'DC', 'UID', 'serialNumber', 'emailAddress']);

/** The PEM certificate blocks of `text`, or undefined when it holds anything that is not one. */
export function certificateBlocks(text: string): string[] | undefined {
  const blocks = [...text.matchAll(BLOCK)].map((m) => m[0].replace(/\r\n/g, '\n'));
  const begins = text.match(/-----BEGIN /g)?.length ?? 0;
  const rest = text.replace(BLOCK, '').trim();
  if (blocks.length === 0 || begins !== blocks.length || rest !== '') return undefined;
  return blocks;
}

function describe(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/**
 * The certificate's subject as a strongSwan identity ("C=CH, O=Corp, CN=gw-a"), or undefined when it
 * has none or one strongSwan would read differently (escaped characters, multi-valued or unknown
 * attributes): then the IKE identity must be given (a subjectAltName).
 */
export function subjectIdentity(cert: X509Certificate): string | undefined {
  if (cert.subject === '') return undefined;
  const parts: string[] = [];
  for (const line of cert.subject.split('\n')) {
    const eq = line.indexOf('=');
    const name = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (eq < 1 || !DN_ATTRIBUTES.has(name)) return undefined;
    if (!/^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(value) || /[\\",+=#{}<>;]/.test(value))
      return undefined;
    parts.push(`${name}=${value}`);
  }
  return parts.join(', ');
}

/** subjectAltNames as IKE identities: DNS names, IP addresses, e-mail addresses. */
export function subjectAltNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(', ')
    .map((entry) => /^(?:DNS|IP Address|email):(.+)$/.exec(entry)?.[1])
    .filter((v): v is string => v !== undefined && !v.startsWith('"'));
}

/** The default IKE identity of an imported certificate (its subject DN), when it can be written. */
export function importedIdentity(certificatePem: string): string | undefined {
  const first = certificateBlocks(certificatePem)?.[0];
  if (!first) return undefined;
  try {
    return subjectIdentity(new X509Certificate(first));
  } catch {
    return undefined;
  }
}

function validityProblem(cert: X509Certificate, now: Date, what: string): string | undefined {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (now.getTime() < from.getTime()) {
    return `${what} is not valid before ${from.toISOString()} (this appliance's clock says ${now.toISOString()}): check the clock (NTP), or use it from then on`;
  }
  if (now.getTime() > to.getTime()) {
    return `${what} expired on ${to.toISOString()}: renew it and give the new certificate`;
  }
  return undefined;
}

type ParsedKey = { key: KeyObject } | { problem: string };

function parseKey(pem: string): ParsedKey {
  const block = KEY_PEM.exec(pem);
  if (!block) {
    return {
      problem:
        'is not a PEM private key: paste the whole block from -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE KEY) to its END line',
    };
  }
  if (block[1] === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,ENCRYPTED/.test(block[0])) {
    return {
      problem:
        'is encrypted with a passphrase: give it decrypted (openssl pkey -in key.pem -out plain.pem); the appliance keeps it as it keeps its own keys and hands it to charon only',
    };
  }
  try {
    return { key: createPrivateKey({ key: block[0], format: 'pem' }) };
  } catch {
    return { problem: 'is not a readable private key: paste it again, unchanged' };
  }
}

/** The load-key type for `key`, or why charon cannot sign IKE with it. */
function keyTypeOf(
  key: KeyObject,
  version: 'ikev1' | 'ikev2',
): { type: CharonKeyType } | { problem: string } {
  const type = key.asymmetricKeyType;
  switch (type) {
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS)
        return {
          problem: `is an RSA key of ${bits} bits, too weak to prove this gateway: issue the certificate for a key of ${MIN_RSA_BITS} bits or more`,
        };
      return { type: 'rsa' };
    }
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
      if (NIST_CURVES.has(curve)) return { type: 'ecdsa' };
      if (BRAINPOOL_CURVES.has(curve)) {
        if (version === 'ikev2') return { type: 'ecdsa' };
        return {
          problem: `is an ECDSA key on ${curve}, which IKEv1 cannot sign with: use version "ikev2", or a key on P-256, P-384 or P-521`,
        };
      }
      return {
        problem: `is an ECDSA key on ${curve}, which charon does not sign IKE with: issue the certificate for a key on P-256, P-384 or P-521`,
      };
    }
    case 'ed25519':
    case 'ed448':
      if (version === 'ikev2') return { type: 'any' };
      return {
        problem: `is an ${type === 'ed25519' ? 'Ed25519' : 'Ed448'} key, which IKEv1 cannot sign with: use version "ikev2", or an RSA or ECDSA key`,
      };
    case 'rsa-pss':
      return {
        problem:
          'is an RSA-PSS-only key (id-RSASSA-PSS): charon signs with PKCS#1 v1.5 too, which such a key forbids; issue the certificate for a plain RSA key (rsaEncryption)',
      };
    case 'dsa':
    case 'x25519':
    case 'x448':
    case undefined:
      return {
        problem: `is a ${type ?? 'unknown'} key: IKE signs with RSA, ECDSA or Ed25519/Ed448 keys only`,
      };
  }
}

function parseCertificates(
  text: string,
  field: 'certificate' | 'ca',
  problems: ImportedProblem[],
): X509Certificate[] | undefined {
  const blocks = certificateBlocks(text);
  if (!blocks) {
    problems.push({
      field,
      message:
        field === 'certificate'
          ? 'is not PEM certificates: paste the certificate block from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----, then any intermediate CA blocks, nothing else'
          : 'is not one PEM certificate: paste the whole block from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----',
    });
    return undefined;
  }
  const certs: X509Certificate[] = [];
  for (const [i, block] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(block));
    } catch {
      problems.push({
        field,
        message: `${blocks.length > 1 ? `block ${i + 1} ` : ''}is not a readable X.509 certificate: paste it again, unchanged`,
      });
      return undefined;
    }
  }
  return certs;
}

function issuedBy(subject: X509Certificate, issuer: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/** Everything wrong with an imported certificate, its key, chain, CA and identity. */
export function importedCertificateProblems(input: ImportedCertificateInput): ImportedProblem[] {
  const problems: ImportedProblem[] = [];
  const chain = parseCertificates(input.certificate, 'certificate', problems);
  const parsedKey = parseKey(input.privateKey);
  if ('problem' in parsedKey) problems.push({ field: 'privateKey', message: parsedKey.problem });
  const key = 'key' in parsedKey ? parsedKey.key : undefined;
  if (key) {
    const type = keyTypeOf(key, input.ikeVersion);
    if ('problem' in type) problems.push({ field: 'privateKey', message: type.problem });
  }
  let ca: X509Certificate | undefined;
  if (input.ca !== undefined) {
    const problem = caCertificateProblem(input.ca);
    if (problem) {
      problems.push({
        field: 'ca',
        message: problem.replace("the remote side's certificate", 'local_certificate'),
      });
    } else {
      ca = new X509Certificate(input.ca.trim());
      const validity = validityProblem(ca, input.now, '');
      if (validity) problems.push({ field: 'ca', message: validity.trimStart() });
    }
  }
  const leaf = chain?.[0];
  if (!chain || !leaf) return problems;

  if (key && !leaf.checkPrivateKey(key)) {
    problems.push({
      field: 'privateKey',
      message: `does not belong to the certificate (${describe(leaf)}): give the key it was issued for`,
    });
  }
  const leafValidity = validityProblem(leaf, input.now, `(${describe(leaf)})`);
  if (leafValidity) problems.push({ field: 'certificate', message: leafValidity });
  for (let i = 1; i < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    const below = chain[i - 1] as X509Certificate;
    const what = `block ${i + 1} (${describe(cert)})`;
    if (!cert.ca) {
      problems.push({
        field: 'certificate',
        message: `${what} is not a CA certificate: after the certificate come only the intermediate CAs that issued it, issuer after each`,
      });
    } else if (!issuedBy(below, cert)) {
      problems.push({
        field: 'certificate',
        message: `${what} did not issue block ${i} (${describe(below)}), which names "${below.issuer.replace(/\n/g, ', ')}" as issuer: put the intermediates in order, issuer after each`,
      });
    }
    const validity = validityProblem(cert, input.now, what);
    if (validity) problems.push({ field: 'certificate', message: validity });
  }
  const top = chain[chain.length - 1] as X509Certificate;
  if (ca && !issuedBy(top, ca)) {
    problems.push({
      field: 'ca',
      message: `(${describe(ca)}) did not issue ${chain.length > 1 ? 'the last intermediate in local_certificate' : 'the certificate'} (issuer "${top.issuer.replace(/\n/g, ', ')}"): give the CA it names as issuer`,
    });
  }
  if (chain.length > 1 && input.ca === undefined) {
    problems.push({
      field: 'ca',
      message:
        'is needed when the certificate comes with intermediate CAs: set it to the root CA they chain to, so charon sends the whole chain and the other side can trust it',
    });
  }
  const subject = subjectIdentity(leaf);
  const sans = subjectAltNames(leaf);
  if (input.localId === undefined) {
    if (!subject) {
      problems.push({
        field: 'localId',
        message: `is needed: the subject of the certificate (${describe(leaf) || 'empty'}) cannot be written as an IKE identity; set local_id to one of its subjectAltNames${sans.length ? ` (${sans.join(', ')})` : ''}`,
      });
    }
  } else if (!identityInCertificate(input.localId, subject, sans)) {
    problems.push({
      field: 'localId',
      message: `"${input.localId}" is neither the subject of the certificate (${subject ?? describe(leaf)}) nor one of its subjectAltNames${sans.length ? ` (${sans.join(', ')})` : ' (it has none)'}: drop local_id (the subject is used) or use one of those`,
    });
  }
  return problems;
}

function normalizeDn(dn: string): string {
  return dn
    .split(/\s*,\s*/)
    .map((rdn) => rdn.replace(/\s*=\s*/, '='))
    .join(',');
}

function identityInCertificate(id: string, subject: string | undefined, sans: string[]): boolean {
  if (id.includes('=')) return subject !== undefined && normalizeDn(id) === normalizeDn(subject);
  return sans.some((san) => san.toLowerCase() === id.toLowerCase());
}

/**
 * What charon loads for an imported certificate (verify found no problem). The key is re-encoded as
 * PKCS#8 PEM, which charon's pkcs8 plugin reads for every key type. Throws without quoting the key.
 */
export function importedCredentials(
  certificate: string,
  privateKey: string,
  version: 'ikev1' | 'ikev2' = 'ikev2',
): ImportedCredentials {
  const blocks = certificateBlocks(certificate);
  const parsed = parseKey(privateKey);
  if (!blocks?.[0]) throw new InvalidArgumentError('imported certificate: not PEM certificates');
  if ('problem' in parsed) throw new InvalidArgumentError(`imported private key ${parsed.problem}`);
  const type = keyTypeOf(parsed.key, version);
  if ('problem' in type) throw new InvalidArgumentError(`imported private key ${type.problem}`);
  const data = parsed.key.export({ type: 'pkcs8', format: 'pem' }).toString();
  return {
    certificate: `${blocks[0]}\n`,
    intermediates: blocks.slice(1).map((b) => `${b}\n`),
    key: { type: type.type, data },
  };
}
