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

  it('lets two links carry one prefix at different metrics (primary and backup), each on its own device', () => {
    const ovpn = (name: string, metric?: number): Link =>
      ({
        name,
        type: 'openvpn',
        remote_subnets: ['10.2.0.0/24'],
        openvpn: {},
        ...(metric ? { metric } : {}),
      }) as Link;
    assert.deepEqual(verifyDocument(doc({ links: [wg('b', ['10.2.0.0/24']), ovpn('b2', 200)] })), []);
    const same = verifyDocument(doc({ links: [wg('b', ['10.2.0.0/24']), ovpn('b2')] }));
    assert.deepEqual(
      same.map((p) => p.pointer),
      ['/links/1/remote_subnets/0'],
    );
    assert.match(same[0]?.message ?? '', /at one metric.*give the backup link a higher metric/);
    const shared = verifyDocument(
      doc({
        links: [
          wg('b', ['10.2.0.0/24'], { wireguard: { peer_public_key: KEY, interface: 'wg-hub' } }),
          {
            ...wg('b2', ['10.2.0.0/24'], { wireguard: { peer_public_key: KEY, interface: 'wg-hub' } }),
            metric: 200,
          },
        ],
      }),
    );
    assert.match(shared[0]?.message ?? '', /share wireguard wg-hub: a backup link needs a device of its own/);
    const narrower = verifyDocument(
      doc({
        links: [wg('b', ['10.2.0.0/16']), { ...ovpn('b2', 200), remote_subnets: ['10.2.5.0/24'] }],
      }),
    );
    assert.equal(narrower.length, 1, 'only the same prefix may be a backup; a narrower one is an overlap');
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

describe('verify: netmap (overlapping subnets)', () => {
  /** Site A of the README example: both sites have 10.1.0.0/24. */
  const toB = (
    netmap: Link['netmap'] = { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
    extra: Partial<WireGuardLink> = {},
  ) => wg('to-b', ['10.1.0.0/24'], { netmap, ...extra });
  const problems = (d: NormalizedDocument) => verifyDocument(d).map((p) => [p.pointer, p.related]);

  it('accepts the two-site example on both sides, and a remote subnet overlapping ours only with netmap.remote', () => {
    assert.deepEqual(verifyDocument(doc({ links: [toB()] })), []);
    // Site B, from A's exported bundle: the real subnets, the netmap mirrored.
    const b = wg('site-a', ['10.1.0.0/24'], {
      local_subnets: ['10.1.0.0/24'],
      netmap: { local: '10.12.0.0/24', remote: '10.11.0.0/24' },
    });
    assert.deepEqual(verifyDocument(doc({ links: [b] })), []);
    assert.deepEqual(problems(doc({ links: [toB({ local: '10.11.0.0/24' })] })), [
      ['/links/0/remote_subnets/0', '/appliance/local_subnets/0'],
    ]);
    const plain = verifyDocument(doc({ links: [wg('to-b', ['10.1.0.0/24'])] }));
    assert.match(plain[0]?.message ?? '', /map it with netmap\.remote/);
  });

  it('netmap.local maps exactly one local subnet, the link’s own or else the appliance’s', () => {
    const none = normalize({
      appliance: { name: 'a' },
      links: [wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.11.0.0/24' } })],
    });
    assert.deepEqual(problems(none), [['/links/0/netmap/local', '/appliance/local_subnets']]);
    assert.match(verifyDocument(none)[0]?.message ?? '', /has none: set the link's local_subnets/);
    const two = doc({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24', '10.5.0.0/24'] },
      links: [wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.11.0.0/24' } })],
    });
    assert.deepEqual(problems(two), [['/links/0/netmap/local', '/appliance/local_subnets']]);
    assert.match(
      verifyDocument(two)[0]?.message ?? '',
      /offers 2 \(10\.1\.0\.0\/24, 10\.5\.0\.0\/24\): set the link's local_subnets/,
    );
    const own = doc({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24', '10.5.0.0/24'] },
      links: [
        wg('to-b', ['10.2.0.0/24'], { local_subnets: ['10.5.0.0/24'], netmap: { local: '10.11.0.0/24' } }),
      ],
    });
    assert.deepEqual(verifyDocument(own), []);
    const ownTwo = doc({
      links: [
        wg('to-b', ['10.2.0.0/24'], {
          local_subnets: ['10.1.0.0/25', '10.1.0.128/25'],
          netmap: { local: '10.11.0.0/25' },
        }),
      ],
    });
    assert.deepEqual(problems(ownTwo), [['/links/0/netmap/local', '/links/0/local_subnets']]);
  });

  it('netmap.local has the family and length of the subnet it maps, and no host bits', () => {
    const short = doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.11.0.0/16' } })] });
    assert.deepEqual(problems(short), [['/links/0/netmap/local', '/appliance/local_subnets/0']]);
    assert.match(
      verifyDocument(short)[0]?.message ?? '',
      /is a \/16 but the local subnet it maps 10\.1\.0\.0\/24 is a \/24: .*give a \/24/,
    );
    const v6 = doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { local: 'fd11::/24' } })] });
    assert.deepEqual(problems(v6), [['/links/0/netmap/local', '/appliance/local_subnets/0']]);
    assert.match(
      verifyDocument(v6)[0]?.message ?? '',
      /is IPv6 but the local subnet it maps 10\.1\.0\.0\/24 is IPv4/,
    );
    const bits = verifyDocument(
      doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.11.0.1/24' } })] }),
    );
    assert.deepEqual(
      bits.map((p) => p.pointer),
      ['/links/0/netmap/local'],
    );
    assert.match(bits[0]?.message ?? '', /did you mean 10\.11\.0\.0\/24/);
  });

  it('netmap.local overlaps no local subnet, the appliance’s or a link’s', () => {
    const d = doc({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24', '10.11.0.0/16'] },
      links: [
        wg('to-b', ['10.2.0.0/24'], { local_subnets: ['10.1.0.0/24'], netmap: { local: '10.11.0.0/24' } }),
      ],
    });
    assert.deepEqual(problems(d), [['/links/0/netmap/local', '/appliance/local_subnets/1']]);
    assert.match(
      verifyDocument(d)[0]?.message ?? '',
      /overlaps 10\.11\.0\.0\/16 \(local subnet\): .*map this site to a prefix it uses nowhere/,
    );
    const self = doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.1.0.0/24' } })] });
    assert.deepEqual(problems(self), [['/links/0/netmap/local', '/appliance/local_subnets/0']]);
    const linkLevel = doc({
      links: [
        wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.11.0.0/24' } }),
        wg('to-c', ['10.3.0.0/24'], { local_subnets: ['10.11.0.0/24'] }),
      ],
    });
    assert.deepEqual(problems(linkLevel), [['/links/0/netmap/local', '/links/1/local_subnets/0']]);
  });

  it('netmap.local overlaps nothing a link routes: remote subnets, netmap.remote, its own link’s too', () => {
    const d = doc({
      links: [
        wg('to-b', ['10.2.0.0/24'], { netmap: { local: '10.11.0.0/24' } }),
        wg('to-c', ['10.11.0.0/24']),
        wg('to-d', ['10.1.0.0/24'], { netmap: { local: '10.21.0.0/24', remote: '10.21.0.0/25' } }),
        wg('to-e', ['10.21.0.0/24']),
      ],
    });
    const got = problems(d);
    for (const want of [
      ['/links/0/netmap/local', '/links/1/remote_subnets/0'],
      ['/links/2/netmap/local', '/links/2/netmap/remote'],
      ['/links/2/netmap/local', '/links/3/remote_subnets/0'],
    ]) {
      assert.ok(
        got.some((g) => g[0] === want[0] && g[1] === want[1]),
        `${want.join(' ↔ ')} in ${JSON.stringify(got)}`,
      );
    }
    const m = verifyDocument(d).find((p) => p.related === '/links/1/remote_subnets/0');
    assert.match(
      m?.message ?? '',
      /which this site routes to a remote site: map this site to a prefix outside/,
    );
  });

  it('links share a netmap.local for the same subnet; not for different subnets, nor parts of one', () => {
    const shared = doc({
      links: [
        wg('to-b', ['10.1.0.0/24'], { netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' } }),
        wg('to-c', ['10.1.0.0/24'], { netmap: { local: '10.11.0.0/24', remote: '10.13.0.0/24' } }),
      ],
    });
    assert.deepEqual(verifyDocument(shared), [], 'two sites overlapping ours and each other: both mapped');
    const different = doc({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24', '10.5.0.0/24'] },
      links: [
        wg('to-b', ['10.2.0.0/24'], { local_subnets: ['10.1.0.0/24'], netmap: { local: '10.11.0.0/24' } }),
        wg('to-c', ['10.3.0.0/24'], { local_subnets: ['10.5.0.0/24'], netmap: { local: '10.11.0.0/24' } }),
      ],
    });
    assert.deepEqual(problems(different), [['/links/1/netmap/local', '/links/0/netmap/local']]);
    assert.match(
      verifyDocument(different)[0]?.message ?? '',
      /maps 10\.5\.0\.0\/24, but netmap\.local of link "to-b" maps 10\.1\.0\.0\/24/,
    );
    const part = doc({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24', '10.5.0.0/25'] },
      links: [
        wg('to-b', ['10.2.0.0/24'], { local_subnets: ['10.1.0.0/24'], netmap: { local: '10.11.0.0/24' } }),
        wg('to-c', ['10.3.0.0/24'], { local_subnets: ['10.5.0.0/25'], netmap: { local: '10.11.0.0/25' } }),
      ],
    });
    assert.deepEqual(problems(part), [['/links/1/netmap/local', '/links/0/netmap/local']]);
    assert.match(verifyDocument(part)[0]?.message ?? '', /not parts of it/);
  });

  it('netmap.remote maps exactly one remote subnet of its family and length', () => {
    const two = doc({
      links: [wg('to-b', ['10.2.0.0/24', '10.3.0.0/24'], { netmap: { remote: '10.12.0.0/24' } })],
    });
    assert.deepEqual(problems(two), [['/links/0/netmap/remote', '/links/0/remote_subnets/1']]);
    assert.match(
      verifyDocument(two)[0]?.message ?? '',
      /has 2 remote_subnets \(10\.2\.0\.0\/24, 10\.3\.0\.0\/24\): keep only the one to map/,
    );
    const length = doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { remote: '10.12.0.0/23' } })] });
    assert.deepEqual(problems(length), [['/links/0/netmap/remote', '/links/0/remote_subnets/0']]);
    const family = doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { remote: 'fd12::/24' } })] });
    assert.deepEqual(problems(family), [['/links/0/netmap/remote', '/links/0/remote_subnets/0']]);
    assert.deepEqual(
      verifyDocument(doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { remote: '10.12.0.0/24' } })] })),
      [],
    );
  });

  it('netmap.remote overlaps no local subnet and no other link’s routed prefix', () => {
    const local = doc({ links: [toB({ local: '10.11.0.0/24', remote: '10.1.0.0/24' })] });
    assert.ok(
      problems(local).some(([p, r]) => p === '/links/0/netmap/remote' && r === '/appliance/local_subnets/0'),
    );
    assert.match(
      verifyDocument(local).find((p) => p.pointer === '/links/0/netmap/remote')?.message ?? '',
      /must appear outside this site's subnets; pick another netmap.remote/,
    );
    const linkLocal = doc({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24', '10.12.0.0/24'] },
      links: [
        wg('to-b', ['10.1.0.0/24'], {
          local_subnets: ['10.1.0.0/24'],
          netmap: { local: '10.11.0.0/24', remote: '10.5.0.0/24' },
        }),
        wg('to-c', ['10.3.0.0/24'], { local_subnets: ['10.5.0.0/24'] }),
      ],
    });
    assert.deepEqual(problems(linkLocal), [['/links/0/netmap/remote', '/links/1/local_subnets/0']]);
    const links = doc({
      links: [
        wg('to-c', ['10.12.0.0/24']),
        toB(),
        wg('to-d', ['10.1.0.0/24'], { netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' } }),
      ],
    });
    assert.deepEqual(problems(links), [
      ['/links/1/netmap/remote', '/links/0/remote_subnets/0'],
      ['/links/2/netmap/remote', '/links/0/remote_subnets/0'],
      ['/links/2/netmap/remote', '/links/1/netmap/remote'],
    ]);
  });

  it('netmap.remote overlaps no route destination and not its own link’s netmap.local', () => {
    const route = doc({
      links: [toB()],
      routes: [{ name: 'lab', destination: '10.12.0.0/16', gateway: '10.1.0.254' }],
    });
    assert.deepEqual(problems(route), [['/links/0/netmap/remote', '/routes/0/destination']]);
    assert.match(verifyDocument(route)[0]?.message ?? '', /destination 10\.12\.0\.0\/16 of route "lab"/);
    const own = doc({ links: [toB({ local: '10.11.0.0/24', remote: '10.11.0.0/24' })] });
    assert.ok(
      problems(own).some(([p, r]) => p === '/links/0/netmap/remote' && r === '/links/0/netmap/local'),
    );
    assert.match(
      verifyDocument(own).find((p) => p.related === '/links/0/netmap/local')?.message ?? '',
      /the two sites must appear under different prefixes/,
    );
  });

  it('mapping a remote LAN that overlaps ours needs netmap.local too (the far end must answer us)', () => {
    const oneSided = doc({ links: [toB({ remote: '10.12.0.0/24' })] });
    assert.deepEqual(problems(oneSided), [['/links/0/netmap', '/links/0/netmap/remote']]);
    assert.match(verifyDocument(oneSided)[0]?.message ?? '', /set netmap\.local too/);
    // A remote LAN that does not overlap ours may be mapped on its own (its far end keeps its addresses).
    assert.deepEqual(
      verifyDocument(doc({ links: [wg('to-b', ['10.2.0.0/24'], { netmap: { remote: '10.12.0.0/24' } })] })),
      [],
    );
  });
});

describe('verify: port forwards', () => {
  const fwd = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    protocol: 'tcp' as const,
    port: 443,
    to: '10.1.0.10',
    ...extra,
  });
  const withForwards = (port_forwards: ReturnType<typeof fwd>[], links: Link[] = []) =>
    doc({ links, nat: { port_forwards } as NormalizedDocument['nat'] });
  const problems = (d: NormalizedDocument) => verifyDocument(d).map((p) => [p.pointer, p.related]);

  it('accepts distinct forwards to LAN hosts, the same port by another protocol or from a link', () => {
    assert.deepEqual(
      verifyDocument(
        withForwards(
          [
            fwd('web'),
            fwd('dns', { protocol: 'udp', port: 53 }),
            fwd('web-b', { from_link: 'to-b' }),
            fwd('quic', { protocol: 'udp' }),
          ],
          [wg('to-b', ['10.2.0.0/24'])],
        ),
      ),
      [],
    );
  });

  it('rejects a name used twice and one (protocol, port, from_link) forwarded twice', () => {
    const d = withForwards([fwd('web'), fwd('web', { port: 8443 }), fwd('web2', { to: '10.1.0.11' })]);
    assert.deepEqual(problems(d), [
      ['/nat/port_forwards/1/name', '/nat/port_forwards/0/name'],
      ['/nat/port_forwards/2/port', '/nat/port_forwards/0/port'],
    ]);
    assert.match(
      verifyDocument(d)[1]?.message ?? '',
      /tcp port 443 from the underlay is already forwarded by "web"/,
    );
  });

  it('rejects a target outside the appliance’s local subnets, naming them', () => {
    const d = withForwards([fwd('web', { to: '10.2.0.10' })]);
    assert.deepEqual(problems(d), [['/nat/port_forwards/0/to', '/appliance/local_subnets/0']]);
    assert.match(
      verifyDocument(d)[0]?.message ?? '',
      /not inside the appliance's local subnets \(10\.1\.0\.0\/24\)/,
    );
    const none = normalize({ appliance: { name: 'a' }, nat: { port_forwards: [fwd('web')] } });
    assert.match(
      verifyDocument(none)[0]?.message ?? '',
      /has no local_subnets: set appliance\.local_subnets/,
    );
  });

  it('rejects a UDP port a tunnel listens on: WireGuard, OpenVPN, IKE and NAT-T with IPsec links', () => {
    const links: Link[] = [
      wg('to-b', ['10.2.0.0/24'], { wireguard: { peer_public_key: KEY, listen_port: 51820 } }),
      {
        name: 'to-c',
        type: 'openvpn',
        remote_subnets: ['10.3.0.0/24'],
        openvpn: { remote_ca: 'x', listen_port: 1194 },
      },
      { name: 'to-d', type: 'ipsec', remote_subnets: ['10.4.0.0/24'] },
    ];
    const d = withForwards(
      [
        fwd('a', { protocol: 'udp', port: 51820 }),
        fwd('b', { protocol: 'udp', port: 1194 }),
        fwd('c', { protocol: 'udp', port: 500 }),
        fwd('d', { protocol: 'udp', port: 4500 }),
        fwd('e', { protocol: 'tcp', port: 500 }),
      ],
      links,
    );
    assert.deepEqual(problems(d), [
      ['/nat/port_forwards/0/port', '/links/0/wireguard/listen_port'],
      ['/nat/port_forwards/1/port', '/links/1/openvpn/listen_port'],
      ['/nat/port_forwards/2/port', '/links/2/type'],
      ['/nat/port_forwards/3/port', '/links/2/type'],
    ]);
    assert.match(
      verifyDocument(d)[0]?.message ?? '',
      /WireGuard link "to-b" listens on it.*pick another port/,
    );
    assert.match(verifyDocument(d)[3]?.message ?? '', /charon takes it for IKE and NAT-T/);
    assert.deepEqual(
      verifyDocument(withForwards([fwd('c', { protocol: 'udp', port: 500 })])),
      [],
      'no IPsec link',
    );
  });

  it('rejects from_link naming no link', () => {
    const d = withForwards([fwd('web', { from_link: 'nope' })], [wg('to-b', ['10.2.0.0/24'])]);
    assert.deepEqual(problems(d), [['/nat/port_forwards/0/from_link', undefined]]);
    assert.match(verifyDocument(d)[0]?.message ?? '', /no link named "nope": known links are to-b/);
  });

  describe('firewall', () => {
    const fw = (firewall: NormalizedDocument['firewall']) =>
      doc({ links: [wg('to-b', ['10.2.0.0/24'])], firewall });

    it('accepts sound rules', () => {
      assert.deepEqual(
        pointers(
          fw({
            api_from: ['198.51.100.0/24'],
            rules: [
              { name: 'ssh', link: 'to-b', direction: 'in', protocol: 'tcp', port: '22', action: 'reject' },
              {
                name: 'web',
                source: '10.2.0.0/24',
                destination: '10.1.0.0/24',
                protocol: 'tcp',
                port: '8000-8100',
                action: 'accept',
              },
              { name: 'icmp', protocol: 'icmp', action: 'drop' },
            ],
          }),
        ),
        [],
      );
    });

    it('names the field and the fix for each broken rule', () => {
      const d = fw({
        api_from: ['198.51.100.1/24'],
        rules: [
          { name: 'a', link: 'nope', action: 'drop' },
          { name: 'a', direction: 'in', action: 'drop' },
          { name: 'b', source: '10.2.0.0/24', destination: '2001:db8::/32', action: 'drop' },
          { name: 'c', port: '22', action: 'drop' },
          { name: 'd', protocol: 'udp', port: '9000-8000', action: 'drop' },
          { name: 'e', protocol: 'tcp', port: '70000', action: 'drop' },
        ],
      });
      const found = verifyDocument(d).map((p) => [p.pointer, p.message] as const);
      const at = (pointer: string): string =>
        found.find(([p]) => p === pointer)?.[1] ?? `(nothing at ${pointer})`;
      assert.match(at('/firewall/api_from/0'), /host bits set: did you mean 198\.51\.100\.0\/24/);
      assert.match(at('/firewall/rules/1/name'), /used twice/);
      assert.match(at('/firewall/rules/0/link'), /no link named "nope": known links are to-b/);
      assert.match(at('/firewall/rules/1/direction'), /relative to a link: set link/);
      assert.match(at('/firewall/rules/2/destination'), /different IP versions/);
      assert.match(at('/firewall/rules/3/port'), /needs protocol tcp or udp/);
      assert.match(at('/firewall/rules/4/port'), /low end first/);
      assert.match(at('/firewall/rules/5/port'), /1 to 65535/);
      assert.equal(found.length, 8, JSON.stringify(found));
    });
  });
});
