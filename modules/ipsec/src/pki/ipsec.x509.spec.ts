// Imported certificates, checked against material the real `pki` makes in a temporary directory: a
// corporate root, an intermediate, leaves with RSA, ECDSA and Ed25519 keys. Dates are checked against
// an injected `now`, so expiry needs no clock games.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeProcessRunner } from '@weft/core';
import {
  certificateBlocks,
  importedCertificateProblems,
  importedCredentials,
  importedIdentity,
  subjectAltNames,
  type ImportedCertificateInput,
} from './ipsec.x509.js';

const runner = new NodeProcessRunner();
let dir: string;
let files = 0;

async function pki(args: readonly string[]): Promise<string> {
  return (await runner.run('pki', args, { timeoutMs: 20_000 })).stdout;
}
/** Keys and certificates go to pki as files in the private temporary directory, never in argv. */
async function file(data: string): Promise<string> {
  const path = join(dir, `f${files++}.pem`);
  await writeFile(path, data, { mode: 0o600 });
  return path;
}
async function genKey(type: 'rsa' | 'ecdsa' | 'ed25519', size?: number): Promise<string> {
  return pki(['--gen', '--type', type, ...(size ? ['--size', String(size)] : []), '--outform', 'pem']);
}
async function selfCa(key: string, dn: string): Promise<string> {
  return pki(['--self', '--ca', '--in', await file(key), '--type', 'priv', '--dn', dn, '--outform', 'pem']);
}
async function issue(
  ca: { key: string; cert: string },
  subjectKey: string,
  dn: string,
  o: { sans?: string[]; ca?: boolean; days?: number } = {},
): Promise<string> {
  const pub = await pki(['--pub', '--in', await file(subjectKey), '--type', 'priv', '--outform', 'pem']);
  return pki([
    '--issue',
    '--cacert',
    await file(ca.cert),
    '--cakey',
    await file(ca.key),
    '--type',
    'pub',
    '--in',
    await file(pub),
    '--dn',
    dn,
    ...(o.sans ?? []).flatMap((s) => ['--san', s]),
    ...(o.ca ? ['--ca'] : []),
    '--lifetime',
    String(o.days ?? 3650),
    '--outform',
    'pem',
  ]);
}

describe('imported certificates (real pki material)', () => {
  const root = { key: '', cert: '' };
  const issuing = { key: '', cert: '' };
  const other = { key: '', cert: '' };
  let rsaKey: string;
  let rsaLeaf: string;
  let ecKey: string;
  let ecLeaf: string;
  let edKey: string;
  let edLeaf: string;
  let shortLived: string;
  // A minute ahead: pki dates certificates to the second, and some are made during the tests.
  const now = new Date(Date.now() + 60_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-x509-'));
    root.key = await genKey('ecdsa', 256);
    root.cert = await selfCa(root.key, 'C=CH, O=Corp, CN=Corp Root CA');
    other.key = await genKey('ecdsa', 256);
    other.cert = await selfCa(other.key, 'C=CH, O=Other, CN=Other Root CA');
    issuing.key = await genKey('ecdsa', 256);
    issuing.cert = await issue(root, issuing.key, 'C=CH, O=Corp, CN=Corp Issuing CA', { ca: true });
    rsaKey = await genKey('rsa', 2048);
    rsaLeaf = await issue(issuing, rsaKey, 'C=CH, O=Corp, CN=gw-a.corp', {
      sans: ['gw-a.corp', '203.0.113.10'],
    });
    ecKey = await genKey('ecdsa', 384);
    ecLeaf = await issue(root, ecKey, 'C=CH, O=Corp, CN=gw-ec.corp', { sans: ['gw-ec.corp'] });
    edKey = await genKey('ed25519');
    edLeaf = await issue(root, edKey, 'C=CH, O=Corp, CN=gw-ed.corp', { sans: ['gw-ed.corp'] });
    shortLived = await issue(root, ecKey, 'C=CH, O=Corp, CN=gw-ec.corp', { days: 1 });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const input = (o: Partial<ImportedCertificateInput> = {}): ImportedCertificateInput => ({
    certificate: rsaLeaf + issuing.cert,
    privateKey: rsaKey,
    ca: root.cert,
    ikeVersion: 'ikev2',
    now,
    ...o,
  });
  const problems = (o: Partial<ImportedCertificateInput> = {}) =>
    importedCertificateProblems(input(o)).map((p) => `${p.field}: ${p.message}`);

  it('an RSA leaf with its intermediate, chaining to the root: no problem; identity is the subject DN', () => {
    assert.deepEqual(problems(), []);
    assert.equal(importedIdentity(rsaLeaf + issuing.cert), 'C=CH, O=Corp, CN=gw-a.corp');
    assert.deepEqual(subjectAltNames(new X509Certificate(rsaLeaf)), ['gw-a.corp', '203.0.113.10']);
    assert.deepEqual(problems({ certificate: ecLeaf, privateKey: ecKey }), []);
    assert.deepEqual(problems({ certificate: edLeaf, privateKey: edKey }), []);
    assert.deepEqual(problems({ certificate: ecLeaf, privateKey: ecKey, ca: undefined }), []);
  });

  it('charon gets PKCS#8 with the load-key type of the key; the chain split in leaf and intermediates', () => {
    const rsa = importedCredentials(rsaLeaf + '\n' + issuing.cert, rsaKey);
    assert.equal(rsa.key.type, 'rsa');
    assert.match(rsa.key.data, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(
      createPrivateKey(rsa.key.data).export({ type: 'pkcs1', format: 'pem' }),
      createPrivateKey(rsaKey).export({ type: 'pkcs1', format: 'pem' }),
    );
    assert.equal(rsa.certificate, rsaLeaf.trim() + '\n');
    assert.deepEqual(rsa.intermediates, [issuing.cert.trim() + '\n']);
    assert.equal(importedCredentials(ecLeaf, ecKey).key.type, 'ecdsa');
    assert.equal(importedCredentials(edLeaf, edKey).key.type, 'any');
  });

  it('a key of another certificate, garbage, an encrypted key', () => {
    assert.deepEqual(problems({ privateKey: ecKey }), [
      'privateKey: does not belong to the certificate (C=CH, O=Corp, CN=gw-a.corp): give the key it was issued for',
    ]);
    assert.match(problems({ privateKey: 'hunter2' })[0] ?? '', /^privateKey: is not a PEM private key/);
    const encrypted = createPrivateKey(rsaKey)
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
      .toString();
    assert.match(problems({ privateKey: encrypted })[0] ?? '', /^privateKey: is encrypted .*openssl pkey/);
    const broken = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
    assert.deepEqual(problems({ privateKey: broken }), [
      'privateKey: is not a readable private key: paste it again, unchanged',
    ]);
    assert.match(problems({ certificate: 'hello' })[0] ?? '', /^certificate: is not PEM certificates/);
    assert.match(
      problems({ certificate: rsaLeaf + '-----BEGIN CERTIFICATE-----\nAA' })[0] ?? '',
      /^certificate: is not PEM certificates/,
    );
  });

  it('no message quotes the key', () => {
    const all = [
      ...importedCertificateProblems(input({ privateKey: ecKey })),
      ...importedCertificateProblems(input({ privateKey: rsaKey.replace(/[A-Z]{8}/, 'AAAAAAAA') })),
      ...importedCertificateProblems(input({ certificate: ecLeaf, ikeVersion: 'ikev1', privateKey: edKey })),
    ];
    assert.ok(all.length >= 2);
    const body = rsaKey.split('\n')[1] ?? 'x';
    for (const p of all) assert.ok(!p.message.includes(body) && !p.message.includes('PRIVATE KEY-----'));
  });

  it('expired and not yet valid, by the injected clock', () => {
    const later = new Date(now.getTime() + 3 * 86_400_000);
    assert.match(
      problems({ certificate: shortLived, privateKey: ecKey, now: later })[0] ?? '',
      /^certificate: \(C=CH, O=Corp, CN=gw-ec\.corp\) expired on \d{4}-.*: renew it/,
    );
    const before = new Date(now.getTime() - 86_400_000);
    assert.match(
      problems({ certificate: ecLeaf, privateKey: ecKey, ca: undefined, now: before })[0] ?? '',
      /^certificate: \(C=CH, O=Corp, CN=gw-ec\.corp\) is not valid before .*check the clock/,
    );
  });

  it('supported key types: RSA of 2048 bits or more, ECDSA on NIST curves, EdDSA only with IKEv2', async () => {
    const weakKey = await genKey('rsa', 1024);
    const weak = await issue(root, weakKey, 'C=CH, O=Corp, CN=weak');
    assert.deepEqual(problems({ certificate: weak, privateKey: weakKey }), [
      'privateKey: is an RSA key of 1024 bits, too weak to prove this gateway: issue the certificate for a key of 2048 bits or more',
    ]);
    assert.match(
      problems({ certificate: edLeaf, privateKey: edKey, ikeVersion: 'ikev1' })[0] ?? '',
      /^privateKey: is an Ed25519 key, which IKEv1 cannot sign with: use version "ikev2"/,
    );
    assert.deepEqual(problems({ certificate: ecLeaf, privateKey: ecKey, ikeVersion: 'ikev1' }), []);
    // Key types charon does not sign IKE with; only the type matters here (no certificate needed).
    const k256 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey;
    const dsa = generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 224 }).privateKey;
    const pss = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
    const pem = (k: typeof dsa): string => k.export({ type: 'pkcs8', format: 'pem' }).toString();
    const typeProblem = (key: string): string =>
      problems({ privateKey: key }).find((p) => !p.includes('does not belong')) ?? '';
    assert.match(typeProblem(pem(k256)), /ECDSA key on secp256k1, .*P-256, P-384 or P-521/);
    assert.match(typeProblem(pem(dsa)), /is a dsa key: IKE signs with RSA, ECDSA or Ed25519\/Ed448/);
    assert.match(typeProblem(pem(pss)), /RSA-PSS-only key/);
  });

  it('the chain: intermediates in order, CAs only, ending at local_ca; intermediates need local_ca', () => {
    assert.match(
      problems({ certificate: rsaLeaf + ecLeaf })[0] ?? '',
      /^certificate: block 2 \(C=CH, O=Corp, CN=gw-ec\.corp\) is not a CA certificate/,
    );
    assert.match(
      problems({ certificate: rsaLeaf + other.cert, ca: other.cert })[0] ?? '',
      /^certificate: block 2 \(C=CH, O=Other, CN=Other Root CA\) did not issue block 1 .*names "C=CH, O=Corp, CN=Corp Issuing CA" as issuer/,
    );
    assert.deepEqual(problems({ ca: other.cert }), [
      'ca: (C=CH, O=Other, CN=Other Root CA) did not issue the last intermediate in local_certificate (issuer "C=CH, O=Corp, CN=Corp Root CA"): give the CA it names as issuer',
    ]);
    assert.match(
      problems({ ca: undefined })[0] ?? '',
      /^ca: is needed when the certificate comes with intermediate CAs/,
    );
    assert.match(
      problems({ ca: rsaLeaf })[0] ?? '',
      /^ca: is not a CA certificate .*issued local_certificate/,
    );
    // Without the intermediate the leaf does not chain to the root directly.
    assert.match(
      problems({ certificate: rsaLeaf })[0] ?? '',
      /^ca: .* did not issue the certificate \(issuer "C=CH, O=Corp, CN=Corp Issuing CA"\)/,
    );
    // The whole chain including the root itself is fine too.
    assert.deepEqual(problems({ certificate: rsaLeaf + issuing.cert + root.cert }), []);
  });

  it('local_id must be the subject or a subjectAltName', () => {
    assert.deepEqual(problems({ localId: 'gw-a.corp' }), []);
    assert.deepEqual(problems({ localId: '203.0.113.10' }), []);
    assert.deepEqual(problems({ localId: 'C=CH,O=Corp,  CN=gw-a.corp' }), []);
    assert.deepEqual(problems({ localId: 'gw-b.corp' }), [
      'localId: "gw-b.corp" is neither the subject of the certificate (C=CH, O=Corp, CN=gw-a.corp) nor one of its subjectAltNames (gw-a.corp, 203.0.113.10): drop local_id (the subject is used) or use one of those',
    ]);
  });

  it('certificateBlocks splits a bundle and refuses anything else', () => {
    assert.equal(certificateBlocks(`${rsaLeaf}\r\n${issuing.cert}`)?.length, 2);
    assert.equal(certificateBlocks(`junk\n${rsaLeaf}`), undefined);
    assert.equal(certificateBlocks(''), undefined);
  });
});
