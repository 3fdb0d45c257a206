import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link } from '../desired-state/document.js';
import {
  CORP_ISSUING_CA,
  CORP_ROOT_CA,
  EC_LEAF,
  EC_LEAF_KEY,
  OTHER_ROOT_CA,
  RSA_LEAF,
  RSA_LEAF_KEY,
} from '../testing/ipsec-x509.fixtures.js';
import {
  connSpecOf,
  ipsecBundle,
  ipsecSwanctl,
  verifyIpsecLinks,
  type IpsecLink,
} from './ipsec.conn-spec.js';

const PSK = 'correct-horse-battery-staple';
/** When verify dates certificates: the fixtures are valid from 2026-12 to 2089. */
const NOW = new Date('2030-01-01T00:00:00Z');
/** A real CA certificate (pki --self --ca, ECDSA P-256, valid until 2090): verify parses it. */
const SITE_B_CA = `-----BEGIN CERTIFICATE-----
MIIBdDCCARqgAwIBAgIIKKb5u0/AnJgwCgYIKoZIzj0EAwIwHjEcMBoGA1UEAxMT
V2VmdCBDQSBzaXRlLWIgdGVzdDAeFw0yNjExMjIxMTA3NDVaFw05MDA5MjIwNDM5
MjlaMB4xHDAaBgNVBAMTE1dlZnQgQ0Egc2l0ZS1iIHRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAAT1kVseETkJZI9AouNmAaPq/YSW3/2DFH/bjj/u0Yj0JfVe
+VlNQUrc0Zg++YlMJzZQ/6KbatYCdrGU0QD2aTOPo0IwQDAPBgNVHRMBAf8EBTAD
AQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4EFgQUf+Be26+1KTzXKU5zBvjx2vY4
uzEwCgYIKoZIzj0EAwIDSAAwRQIhAI9B46AJd2ltd92ZtEGeyJQgMhFFnrY0FT/U
IusDHVT3AiBjz4zMW6huCaR/A0sdRXl9wtHkrzq0Z4ZghBdX+a/QJA==
-----END CERTIFICATE-----
`;

function docWith(link: Link, publicEndpoint: string | null = '203.0.113.10') {
  return normalize({
    appliance: {
      name: 'site-a',
      local_subnets: ['10.1.0.0/24'],
      ...(publicEndpoint ? { public_endpoint: publicEndpoint } : {}),
    },
    links: [link],
  });
}

const toB: IpsecLink = {
  name: 'to-b',
  type: 'ipsec',
  remote_endpoint: '203.0.113.11:500',
  remote_subnets: ['10.2.0.0/24'],
  ipsec: { preshared_key: PSK },
};

describe('IPsec link → charon connection', () => {
  it('defaults: IKEv2, PSK, initiate when the endpoint is known, identities from the endpoints', () => {
    const spec = connSpecOf(docWith(toB), toB);
    assert.equal(spec.version, 'ikev2');
    assert.equal(spec.auth, 'psk');
    assert.equal(spec.startAction, 'initiate');
    assert.deepEqual(spec.remoteAddrs, ['203.0.113.11']);
    assert.equal(spec.remotePort, undefined);
    assert.equal(spec.localId, '203.0.113.10');
    assert.equal(spec.remoteId, '203.0.113.11');
    assert.deepEqual(spec.localTs, ['10.1.0.0/24']);
    assert.deepEqual(spec.remoteTs, ['10.2.0.0/24']);
  });

  it('no endpoint: waits for the peer, accepts it from any address', () => {
    const link: IpsecLink = { ...toB, remote_endpoint: undefined };
    const spec = connSpecOf(docWith(link), link);
    assert.equal(spec.startAction, 'wait');
    assert.deepEqual(spec.remoteAddrs, ['%any']);
    assert.equal(spec.remoteId, undefined);
  });

  it('the bundle is the mirror image: B imports it and both sides agree on subnets, ids and key', () => {
    const doc = docWith(toB);
    const bundle = ipsecBundle(doc, toB) as IpsecLink;
    assert.equal(bundle.name, 'site-a');
    assert.equal(bundle.remote_endpoint, '203.0.113.10:500');
    assert.deepEqual(bundle.remote_subnets, ['10.1.0.0/24']);
    assert.deepEqual(bundle.local_subnets, ['10.2.0.0/24']);
    assert.equal(bundle.ipsec?.preshared_key, PSK);
    assert.equal(bundle.ipsec?.local_id, '203.0.113.11');
    assert.equal(bundle.ipsec?.remote_id, '203.0.113.10');
    // Seen from B, its spec mirrors A's.
    const docB = normalize({
      appliance: { name: 'site-b', public_endpoint: '203.0.113.11', local_subnets: ['10.2.0.0/24'] },
      links: [bundle],
    });
    const b = connSpecOf(docB, bundle);
    const a = connSpecOf(doc, toB);
    assert.deepEqual(
      [b.localTs, b.remoteTs, b.localId, b.remoteId],
      [a.remoteTs, a.localTs, a.remoteId, a.localId],
    );
  });

  it('swanctl.conf for a third-party device: its view, our key, our address', () => {
    const text = ipsecSwanctl(docWith(toB), toB);
    assert.match(text, /^# swanctl\.conf for the remote end of the IPsec link "to-b"/);
    assert.match(text, /remote_addrs = 203\.0\.113\.10\n/);
    assert.match(text, /local_ts = 10\.2\.0\.0\/24\n\s+remote_ts = 10\.1\.0\.0\/24/);
    assert.match(text, /id = 203\.0\.113\.11[\s\S]*id = 203\.0\.113\.10/);
    assert.match(text, new RegExp(`secret = "${PSK}"`));
    assert.throws(() => ipsecSwanctl(docWith(toB, null), toB), /no public_endpoint/);
  });

  it('NETMAP: selectors name the mapped nets; the bundle has the real subnets and the mirrored netmap', () => {
    const mapped: IpsecLink = {
      ...toB,
      remote_subnets: ['10.1.0.0/24'],
      netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
    };
    const doc = docWith(mapped);
    const a = connSpecOf(doc, mapped);
    assert.deepEqual([a.localTs, a.remoteTs], [['10.11.0.0/24'], ['10.12.0.0/24']]);
    const bundle = ipsecBundle(doc, mapped) as IpsecLink;
    assert.deepEqual(
      [bundle.remote_subnets, bundle.local_subnets, bundle.netmap],
      [['10.1.0.0/24'], ['10.1.0.0/24'], { local: '10.12.0.0/24', remote: '10.11.0.0/24' }],
    );
    // B's selectors, from the bundle on its side, are A's swapped.
    const docB = normalize({
      appliance: { name: 'site-b', public_endpoint: '203.0.113.11', local_subnets: ['10.1.0.0/24'] },
      links: [bundle],
    });
    const b = connSpecOf(docB, bundle);
    assert.deepEqual([b.localTs, b.remoteTs], [a.remoteTs, a.localTs]);
    const text = ipsecSwanctl(doc, mapped);
    assert.match(text, /local_ts = 10\.12\.0\.0\/24\n\s+remote_ts = 10\.11\.0\.0\/24/);
    assert.match(text, /# NETMAP: this device must present its LAN \(10\.1\.0\.0\/24\) as 10\.12\.0\.0\/24/);
    assert.doesNotMatch(ipsecSwanctl(docWith(toB), toB), /NETMAP/);
  });

  it('verify: a key is needed, aggressive mode only when allowed and in IKEv1', () => {
    const bad: IpsecLink = { ...toB, ipsec: { version: 'ikev1', ikev1_mode: 'aggressive' } };
    assert.deepEqual(
      verifyIpsecLinks(docWith(bad), NOW).map((p) => p.pointer),
      ['/links/0/ipsec/preshared_key', '/links/0/ipsec/ikev1_mode'],
    );
    const allowed: IpsecLink = {
      ...toB,
      ipsec: { version: 'ikev1', ikev1_mode: 'aggressive', allow_aggressive_mode: true, preshared_key: PSK },
    };
    assert.deepEqual(verifyIpsecLinks(docWith(allowed), NOW), []);
    assert.equal(connSpecOf(docWith(allowed), allowed).aggressive, true);
  });

  it('verify, certificates: remote_ca missing or not a CA certificate, an identity the certificate cannot prove', () => {
    const missing: IpsecLink = { ...toB, ipsec: { auth: 'certificate' } };
    const [problem] = verifyIpsecLinks(docWith(missing), NOW);
    assert.equal(problem?.pointer, '/links/0/ipsec/remote_ca');
    assert.match(problem?.message ?? '', /set remote_ca to the PEM .*ca_certificate in GET \/appliance/);
    const garbage: IpsecLink = { ...toB, ipsec: { auth: 'certificate', remote_ca: 'ssh-ed25519 AAAA' } };
    assert.match(
      verifyIpsecLinks(docWith(garbage), NOW)[0]?.message ?? '',
      /^remote_ca is not one PEM certificate/,
    );
    const ok: IpsecLink = { ...toB, ipsec: { auth: 'certificate', remote_ca: SITE_B_CA } };
    assert.deepEqual(verifyIpsecLinks(docWith(ok), NOW), [], 'no PSK needed');
    assert.deepEqual(
      verifyIpsecLinks(docWith(ok, null), NOW).map((p) => p.pointer),
      ['/appliance/public_endpoint'],
    );
    const otherId: IpsecLink = {
      ...toB,
      ipsec: { auth: 'certificate', remote_ca: SITE_B_CA, local_id: 'a.example' },
    };
    assert.match(
      verifyIpsecLinks(docWith(otherId), NOW)[0]?.message ?? '',
      /issued for its public_endpoint "203\.0\.113\.10".*drop local_id/,
    );
  });
});

describe('IPsec certificate links', () => {
  const certB: IpsecLink = { ...toB, ipsec: { auth: 'certificate', remote_ca: SITE_B_CA } };
  const OUR_CA = SITE_B_CA.replace('site-b', 'ours'); // only carried, never parsed here

  it('the spec asks for pubkey with the remote CA as constraint', () => {
    const spec = connSpecOf(docWith(certB), certB);
    assert.equal(spec.auth, 'pubkey');
    assert.equal(spec.remoteCa, SITE_B_CA);
    assert.equal(spec.localId, '203.0.113.10');
  });

  it('the bundle carries our CA as the remote side’s remote_ca, and no secret', () => {
    const bundle = ipsecBundle(docWith(certB), certB, OUR_CA) as IpsecLink;
    assert.equal(bundle.ipsec?.auth, 'certificate');
    assert.equal(bundle.ipsec?.remote_ca, OUR_CA);
    assert.equal(bundle.ipsec?.preshared_key, undefined);
    assert.equal(bundle.ipsec?.remote_id, '203.0.113.10');
    assert.throws(() => ipsecBundle(docWith(certB), certB), /no IPsec CA certificate yet/);
  });

  it('swanctl.conf: pubkey with file names, what the device needs, our CA as a PEM block to save', () => {
    const text = ipsecSwanctl(docWith(certB), certB, OUR_CA);
    assert.match(text, /local \{\n\s+auth = pubkey\n\s+id = 203\.0\.113\.11\n\s+certs = device\.pem/);
    assert.match(text, /remote \{\n\s+auth = pubkey\n\s+id = 203\.0\.113\.10\n\s+cacerts = weft-ca\.pem/);
    assert.match(text, /issued for "203\.0\.113\.11"/);
    assert.match(text, /# swanctl\/x509ca\/weft-ca\.pem:\n# -----BEGIN CERTIFICATE-----/);
    assert.doesNotMatch(text, /secret|PRIVATE/);
  });
});

describe('IPsec links with an imported certificate', () => {
  const imported = (extra: Record<string, unknown> = {}): IpsecLink => ({
    ...toB,
    ipsec: {
      auth: 'certificate',
      remote_ca: SITE_B_CA,
      local_certificate: RSA_LEAF + CORP_ISSUING_CA,
      local_private_key: RSA_LEAF_KEY,
      local_ca: CORP_ROOT_CA,
      ...extra,
    },
  });
  const pointers = (link: IpsecLink, endpoint: string | null = '203.0.113.10') =>
    verifyIpsecLinks(docWith(link, endpoint), NOW).map((p) => p.pointer);

  it('the spec proves the certificate’s subject with the certificate itself and the local CA', () => {
    const link = imported();
    const spec = connSpecOf(docWith(link), link);
    assert.equal(spec.auth, 'pubkey');
    assert.equal(spec.localId, 'C=CH, O=Corp, CN=gw-a.corp');
    assert.equal(spec.localCert, RSA_LEAF.trim());
    assert.equal(spec.localCa, CORP_ROOT_CA);
    assert.equal(spec.remoteCa, SITE_B_CA);
    const named = imported({ local_id: 'gw-a.corp' });
    assert.equal(connSpecOf(docWith(named), named).localId, 'gw-a.corp');
  });

  it('verify: a valid import has no problem, needs no public_endpoint, and local_id must be in it', () => {
    assert.deepEqual(verifyIpsecLinks(docWith(imported()), NOW), []);
    assert.deepEqual(pointers(imported(), null), []);
    assert.deepEqual(pointers(imported({ local_id: '203.0.113.10' })), []);
    const [problem] = verifyIpsecLinks(docWith(imported({ local_id: 'gw-b.corp' })), NOW);
    assert.equal(problem?.pointer, '/links/0/ipsec/local_id');
    assert.match(problem?.message ?? '', /^local_id "gw-b\.corp" is neither the subject/);
  });

  it('verify: both halves or neither, only with auth certificate', () => {
    assert.deepEqual(pointers(imported({ local_private_key: undefined })), [
      '/links/0/ipsec/local_private_key',
    ]);
    assert.deepEqual(pointers(imported({ local_certificate: undefined })), [
      '/links/0/ipsec/local_certificate',
    ]);
    const caOnly: IpsecLink = {
      ...toB,
      ipsec: { auth: 'certificate', remote_ca: SITE_B_CA, local_ca: CORP_ROOT_CA },
    };
    const [caProblem] = verifyIpsecLinks(docWith(caOnly), NOW);
    assert.equal(caProblem?.pointer, '/links/0/ipsec/local_ca');
    assert.match(caProblem?.message ?? '', /set local_certificate and local_private_key, or drop local_ca/);
    const psk = imported({ auth: 'psk', preshared_key: PSK });
    const problems = verifyIpsecLinks(docWith(psk), NOW);
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['local_certificate', 'local_private_key', 'local_ca'].map((f) => `/links/0/ipsec/${f}`),
    );
    assert.match(problems[0]?.message ?? '', /^local_certificate is used only with auth "certificate"/);
  });

  it('verify: every problem on its field, named after it, never quoting the key', () => {
    const bad = imported({ local_private_key: EC_LEAF_KEY, local_ca: OTHER_ROOT_CA });
    const problems = verifyIpsecLinks(docWith(bad), NOW);
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['/links/0/ipsec/local_private_key', '/links/0/ipsec/local_ca'],
    );
    assert.match(problems[0]?.message ?? '', /^local_private_key does not belong to the certificate/);
    assert.match(problems[1]?.message ?? '', /^local_ca \(C=CH, O=Other, CN=Other Root CA\) did not issue/);
    const expired = verifyIpsecLinks(docWith(imported()), new Date('2095-01-01T00:00:00Z'));
    assert.deepEqual(
      expired.map((p) => p.pointer),
      ['/links/0/ipsec/local_ca', '/links/0/ipsec/local_certificate', '/links/0/ipsec/local_certificate'],
    );
    assert.match(
      expired[1]?.message ?? '',
      /^local_certificate \(C=CH, O=Corp, CN=gw-a\.corp\) expired on 2089-/,
    );
    assert.match(
      expired[2]?.message ?? '',
      /^local_certificate block 2 \(C=CH, O=Corp, CN=Corp Issuing CA\) expired/,
    );
    const keyBody = EC_LEAF_KEY.split('\n')[1] ?? '';
    for (const p of [...problems, ...expired]) assert.ok(!p.message.includes(keyBody));
  });

  it('the bundle carries local_ca as the other side’s remote_ca and our subject as its remote_id, no key', () => {
    const link = imported();
    const bundle = ipsecBundle(docWith(link), link, 'our own CA, unused here') as IpsecLink;
    assert.equal(bundle.ipsec?.remote_ca, CORP_ROOT_CA);
    assert.equal(bundle.ipsec?.remote_id, 'C=CH, O=Corp, CN=gw-a.corp');
    assert.equal(bundle.ipsec?.local_id, '203.0.113.11');
    assert.doesNotMatch(JSON.stringify(bundle), /PRIVATE KEY|local_certificate|local_private_key/);
    const noCa = imported({
      local_certificate: EC_LEAF,
      local_private_key: EC_LEAF_KEY,
      local_ca: undefined,
    });
    assert.deepEqual(verifyIpsecLinks(docWith(noCa), NOW), []);
    assert.throws(
      () => ipsecBundle(docWith(noCa), noCa),
      /imported certificate without local_ca: set local_ca/,
    );
  });

  it('swanctl.conf: the corporate CA to save, our subject quoted as the remote id, none of our material', () => {
    const link = imported();
    const text = ipsecSwanctl(docWith(link), link, 'our own CA, unused here');
    assert.match(
      text,
      /remote \{\n\s+auth = pubkey\n\s+id = "C=CH, O=Corp, CN=gw-a\.corp"\n\s+cacerts = weft-ca\.pem/,
    );
    assert.match(text, /the CA that issued the certificate of "site-a" \(its local_ca\)/);
    const pem = text.split('# swanctl/x509ca/weft-ca.pem:\n')[1] ?? '';
    assert.equal(pem.replace(/^# /gm, '').trim(), CORP_ROOT_CA.trim());
    assert.doesNotMatch(text, /PRIVATE/);
    assert.ok(!text.includes(RSA_LEAF.split('\n')[1] ?? 'x'), 'our certificate is not in it');
  });
});
