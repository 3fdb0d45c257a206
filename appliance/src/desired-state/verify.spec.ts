import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link, type NormalizedDocument, type WireGuardLink } from './document.js';
import { verifyDocument } from './verify.js';

const KEY = 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=';

function wg(name: string, remote: string[], extra: Partial<WireGuardLink> = {}): Link {
  return { name, type: 'wireguard', remote_subnets: remote, wireguard: { peer_public_key: KEY }, ...extra };
}

function doc(partial: Partial<NormalizedDocument>): NormalizedDocument {
  return normalize({ appliance: { name: 'a', local_subnets: ['10.1.0.0/24'] }, ...partial });
}

const pointers = (d: NormalizedDocument) => verifyDocument(d).map((p) => p.pointer);

describe('verify', () => {
  it('accepts a sound document', () => {
    assert.deepEqual(
      verifyDocument(
        doc({
          links: [wg('to-b', ['10.2.0.0/24']), wg('to-c', ['10.3.0.0/24'])],
          routes: [{ name: 'r1', destination: '10.20.0.0/16', link: 'to-b' }],
        }),
      ),
      [],
    );
  });

  it('rejects duplicate link and route names, naming both', () => {
    const problems = verifyDocument(
      doc({
        links: [wg('x', ['10.2.0.0/24']), wg('x', ['10.3.0.0/24'])],
        routes: [
          { name: 'r', destination: '10.9.0.0/24', gateway: '10.1.0.254' },
          { name: 'r', destination: '10.8.0.0/24', gateway: '10.1.0.254' },
        ],
      }),
    );
    assert.deepEqual(
      problems.map((p) => [p.pointer, p.related]),
      [
        ['/links/1/name', '/links/0/name'],
        ['/routes/1/name', '/routes/0/name'],
      ],
    );
  });

  it('rejects overlapping remote subnets between links and with local subnets', () => {
    const problems = verifyDocument(
      doc({ links: [wg('b', ['10.2.0.0/16']), wg('c', ['10.2.5.0/24', '10.1.0.128/25'])] }),
    );
    assert.deepEqual(
      problems.map((p) => [p.pointer, p.related]),
      [
        ['/links/1/remote_subnets/0', '/links/0/remote_subnets/0'],
        ['/links/1/remote_subnets/1', '/appliance/local_subnets/0'],
      ],
    );
    assert.match(problems[0]?.message ?? '', /overlaps 10\.2\.0\.0\/16 \(remote subnet of link "b"\)/);
  });

  it('names host bits with the intended prefix', () => {
    const problems = verifyDocument(doc({ links: [wg('b', ['10.2.0.1/24'])] }));
    assert.equal(problems[0]?.pointer, '/links/0/remote_subnets/0');
    assert.match(problems[0]?.message ?? '', /did you mean 10\.2\.0\.0\/24/);
  });

  it('rejects a route via a missing link, with no next hop, with both, and a family mismatch', () => {
    assert.deepEqual(
      pointers(
        doc({
          links: [wg('b', ['10.2.0.0/24'])],
          routes: [
            { name: 'r1', destination: '10.9.0.0/24', link: 'nope' },
            { name: 'r2', destination: '10.8.0.0/24' },
            { name: 'r3', destination: '10.7.0.0/24', link: 'b', gateway: '10.1.0.1' },
            { name: 'r4', destination: 'fd00::/64', gateway: '10.1.0.1' },
          ],
        }),
      ),
      ['/routes/0/link', '/routes/1', '/routes/2/gateway', '/routes/3/gateway'],
    );
  });

  it('rejects two routes to one destination at one metric, and duplicate WireGuard ports', () => {
    assert.deepEqual(
      pointers(
        doc({
          links: [
            wg('b', ['10.2.0.0/24'], { wireguard: { peer_public_key: KEY, listen_port: 51820 } }),
            wg('c', ['10.3.0.0/24'], { wireguard: { peer_public_key: KEY, listen_port: 51820 } }),
          ],
          routes: [
            { name: 'r1', destination: '10.9.0.0/24', link: 'b' },
            { name: 'r2', destination: '10.9.0.0/24', link: 'c' },
            { name: 'r3', destination: '10.9.0.0/24', link: 'c', metric: 200 },
          ],
        }),
      ),
      ['/links/1/wireguard/listen_port', '/routes/1/destination'],
    );
  });
});
