import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { carrySecrets, normalize, redactDocument, type Link } from './document.js';

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
