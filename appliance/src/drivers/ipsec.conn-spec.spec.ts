import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link } from '../desired-state/document.js';
import {
  connSpecOf,
  ipsecBundle,
  ipsecSwanctl,
  verifyIpsecLinks,
  type IpsecLink,
} from './ipsec.conn-spec.js';

const PSK = 'correct-horse-battery-staple';
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

  it('verify: a key is needed, aggressive mode only when allowed and in IKEv1', () => {
    const bad: IpsecLink = { ...toB, ipsec: { version: 'ikev1', ikev1_mode: 'aggressive' } };
    assert.deepEqual(
      verifyIpsecLinks(docWith(bad)).map((p) => p.pointer),
      ['/links/0/ipsec/preshared_key', '/links/0/ipsec/ikev1_mode'],
    );
    const allowed: IpsecLink = {
      ...toB,
      ipsec: { version: 'ikev1', ikev1_mode: 'aggressive', allow_aggressive_mode: true, preshared_key: PSK },
    };
    assert.deepEqual(verifyIpsecLinks(docWith(allowed)), []);
    assert.equal(connSpecOf(docWith(allowed), allowed).aggressive, true);
  });

  it('verify, certificates: remote_ca missing or not a CA certificate, an identity the certificate cannot prove', () => {
    const missing: IpsecLink = { ...toB, ipsec: { auth: 'certificate' } };
    const [problem] = verifyIpsecLinks(docWith(missing));
    assert.equal(problem?.pointer, '/links/0/ipsec/remote_ca');
    assert.match(
      problem?.message ?? '',
      /set remote_ca to the PEM .*ipsec_ca_certificate in GET \/appliance/,
    );
    const garbage: IpsecLink = { ...toB, ipsec: { auth: 'certificate', remote_ca: 'ssh-ed25519 AAAA' } };
    assert.match(
      verifyIpsecLinks(docWith(garbage))[0]?.message ?? '',
      /^remote_ca is not one PEM certificate/,
    );
    const ok: IpsecLink = { ...toB, ipsec: { auth: 'certificate', remote_ca: SITE_B_CA } };
    assert.deepEqual(verifyIpsecLinks(docWith(ok)), [], 'no PSK needed');
    assert.deepEqual(
      verifyIpsecLinks(docWith(ok, null)).map((p) => p.pointer),
      ['/appliance/public_endpoint'],
    );
    const otherId: IpsecLink = {
      ...toB,
      ipsec: { auth: 'certificate', remote_ca: SITE_B_CA, local_id: 'a.example' },
    };
    assert.match(
      verifyIpsecLinks(docWith(otherId))[0]?.message ?? '',
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
