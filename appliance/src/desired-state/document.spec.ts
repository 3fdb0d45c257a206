import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { carrySecrets, normalize, redactDocument, wireSubnets, type Link } from './document.js';
import { mirroredNetmap, thirdPartyNetmapNote } from './netmap.js';

const KEY = '-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nY2VydA==\n-----END CERTIFICATE-----\n';
const link = (ipsec: Record<string, unknown>): Link => ({
  name: 'to-b',
  type: 'ipsec',
  remote_subnets: ['10.2.0.0/24'],
  ipsec,
});
const doc = (l: Link) => normalize({ appliance: { name: 'a' }, links: [l] });
const ipsecOf = (d: ReturnType<typeof doc>) => (d.links[0] as Extract<Link, { type: 'ipsec' }>).ipsec;

describe('write-only IPsec secrets', () => {
  const stored = doc(link({ auth: 'certificate', local_certificate: CERT, local_private_key: KEY }));

  it('the API never shows the key of an imported certificate, only that one is set', () => {
    const shown = redactDocument(stored);
    assert.equal(ipsecOf(shown)?.local_private_key, undefined);
    assert.equal(ipsecOf(shown)?.local_private_key_set, true);
    assert.equal(ipsecOf(shown)?.local_certificate, CERT);
    assert.doesNotMatch(JSON.stringify(shown), /PRIVATE KEY/);
    assert.equal(ipsecOf(redactDocument(doc(link({ auth: 'psk' }))))?.local_private_key_set, false);
    assert.equal(ipsecOf(stored)?.local_private_key, KEY, 'the stored document is untouched');
  });

  it('a PUT without the key keeps it while the link has a certificate; dropping the certificate drops it', () => {
    const again = doc(link({ auth: 'certificate', local_certificate: CERT }));
    carrySecrets(again, stored);
    assert.equal(ipsecOf(again)?.local_private_key, KEY);
    const other = '-----BEGIN PRIVATE KEY-----\nb3RoZXI=\n-----END PRIVATE KEY-----\n';
    const replaced = doc(link({ auth: 'certificate', local_certificate: CERT, local_private_key: other }));
    carrySecrets(replaced, stored);
    assert.equal(ipsecOf(replaced)?.local_private_key, other);
    const back = doc(link({ auth: 'certificate' }));
    carrySecrets(back, stored);
    assert.equal(ipsecOf(back)?.local_private_key, undefined);
  });
});

describe('NAT settings and NETMAP wire prefixes', () => {
  it('a document without nat (stored before it existed) reads as masquerade on, no forwards', () => {
    const old = normalize({ appliance: { name: 'a' } });
    assert.deepEqual(old.nat, { masquerade: true, port_forwards: [] });
    const off = normalize({ appliance: { name: 'a' }, nat: { masquerade: false } });
    assert.deepEqual(off.nat, { masquerade: false, port_forwards: [] });
  });

  it('wireSubnets: the mapped prefixes when netmap sets them, else the real ones', () => {
    const d = normalize({ appliance: { name: 'a', local_subnets: ['10.1.0.0/24'] } });
    const plain: Link = { name: 'to-b', type: 'ipsec', remote_subnets: ['10.2.0.0/24', '10.3.0.0/24'] };
    assert.deepEqual(wireSubnets(d, plain), {
      local: ['10.1.0.0/24'],
      remote: ['10.2.0.0/24', '10.3.0.0/24'],
    });
    const both: Link = {
      ...plain,
      remote_subnets: ['10.1.0.0/24'],
      netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
    };
    assert.deepEqual(wireSubnets(d, both), { local: ['10.11.0.0/24'], remote: ['10.12.0.0/24'] });
    const own: Link = { ...plain, local_subnets: ['10.5.0.0/24'], netmap: { remote: '10.12.0.0/24' } };
    assert.deepEqual(wireSubnets(d, own), { local: ['10.5.0.0/24'], remote: ['10.12.0.0/24'] });
  });

  it('the far end gets the netmap mirrored, only the parts that are set', () => {
    const link = (netmap?: Link['netmap']): Link => ({
      name: 'to-b',
      type: 'ipsec',
      remote_subnets: ['10.1.0.0/24'],
      ...(netmap ? { netmap } : {}),
    });
    assert.deepEqual(mirroredNetmap(link({ local: '10.11.0.0/24', remote: '10.12.0.0/24' })), {
      local: '10.12.0.0/24',
      remote: '10.11.0.0/24',
    });
    assert.deepEqual(mirroredNetmap(link({ local: '10.11.0.0/24' })), { remote: '10.11.0.0/24' });
    assert.equal(mirroredNetmap(link({})), undefined);
    assert.equal(mirroredNetmap(link()), undefined);
    assert.equal(thirdPartyNetmapNote(link({ local: '10.11.0.0/24' })), undefined);
    assert.match(
      thirdPartyNetmapNote(link({ remote: '10.12.0.0/24' })) ?? '',
      /must present its LAN \(10\.1\.0\.0\/24\) as 10\.12\.0\.0\/24/,
    );
  });
});
