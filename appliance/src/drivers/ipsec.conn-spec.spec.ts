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

  it('verify: a key is needed, aggressive mode only when allowed and in IKEv1, certificates not yet', () => {
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
    const cert: IpsecLink = { ...toB, ipsec: { auth: 'certificate' } };
    assert.match(verifyIpsecLinks(docWith(cert))[0]?.message ?? '', /not available in this version/);
  });
});
