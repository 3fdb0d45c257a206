import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link } from '../desired-state/document.js';
import { TEST_CA_PEM, TEST_LEAF_PEM } from '../testing/certificates.js';
import {
  deviceOf,
  fillOpenvpnDefaults,
  isOpenvpn,
  mtuOf,
  openvpnBundle,
  tunnelOf,
  verifyOpenvpnLinks,
  type OpenvpnLink,
} from './openvpn.link-spec.js';

const KEY = [
  '-----BEGIN OpenVPN Static key V1-----',
  ...Array.from({ length: 16 }, () => 'ab'.repeat(16)),
  '-----END OpenVPN Static key V1-----',
  '',
].join('\n');

const toB = (openvpn: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): Link => ({
  name: 'to-b',
  type: 'openvpn',
  remote_endpoint: '203.0.113.11:1194',
  remote_subnets: ['10.2.0.0/24'],
  openvpn: { remote_ca: TEST_CA_PEM, tls_crypt_key: KEY, ...openvpn },
  ...extra,
});
const doc = (links: Link[], appliance: Record<string, unknown> = {}) =>
  normalize({
    appliance: {
      name: 'site-a',
      public_endpoint: '203.0.113.10',
      local_subnets: ['10.1.0.0/24'],
      ...appliance,
    },
    links,
  });
const only = (l: Link): OpenvpnLink => {
  assert.ok(isOpenvpn(l));
  return l;
};

describe('OpenVPN link spec', () => {
  it('a client dialing B: safe defaults, MTU from the underlay, the peer pinned by its endpoint host', () => {
    const link = only(toB({ tunnel_network: '169.254.192.0/30' }));
    const t = tunnelOf(link, { doc: doc([link]), underlayMtu: 1500 });
    assert.deepEqual(t, {
      kind: 'p2p',
      name: 'to-b',
      device: 'ovpn-to-b',
      role: 'client',
      remote: { host: '203.0.113.11', port: 1194 },
      dataCiphers: ['AES-256-GCM', 'CHACHA20-POLY1305'],
      mtu: 1448,
      underlayMtu: 1500,
      underlayFamily: 'inet',
      tunnel: { local: '169.254.192.2', remote: '169.254.192.1' },
      keepalive: { interval: 10, timeout: 60 },
      remoteCa: TEST_CA_PEM,
      remoteName: '203.0.113.11',
      tlsCryptKey: KEY,
      remoteSubnets: ['10.2.0.0/24'],
      localSubnets: ['10.1.0.0/24'],
    });
  });

  it('a server without listen_port takes the port the driver chose; an explicit one wins', () => {
    const server = only(toB({ remote_name: 'b', tunnel_network: '169.254.192.0/30' }));
    delete (server as { remote_endpoint?: string }).remote_endpoint;
    assert.equal(tunnelOf(server, { doc: doc([server]), listenPort: 1195 }).listenPort, 1195);
    delete server.openvpn.remote_name;
    const fixed = only(toB({ role: 'server', listen_port: 2000, tunnel_network: '169.254.192.0/30' }));
    assert.equal(tunnelOf(fixed, { doc: doc([fixed]), listenPort: 1195 }).listenPort, 2000);
    assert.throws(() => tunnelOf(server, { doc: doc([server]) }), /no remote_name/);
    const named = only(
      toB({ role: 'server', remote_name: 'gw-b.example', tunnel_network: '169.254.192.0/30' }),
    );
    const t = tunnelOf(named, { doc: doc([named]) });
    assert.equal(t.remoteName, 'gw-b.example');
    assert.deepEqual(
      t.tunnel,
      { local: '169.254.192.1', remote: '169.254.192.2' },
      'the server takes the first',
    );
  });

  it('MTU: the link’s own, else underlay minus 52 (IPv4) or 72 (IPv6 endpoint)', () => {
    assert.equal(mtuOf(only(toB({}, { mtu: 1300 })), 1500), 1300);
    assert.equal(mtuOf(only(toB({}, { remote_endpoint: '[2001:db8::1]:1194' })), 1500), 1428);
    assert.equal(mtuOf(only(toB()), 9000), 8948);
  });

  it('device names fit in 15 characters and stay stable', () => {
    assert.equal(deviceOf({ name: 'to-b' }), 'ovpn-to-b');
    const long = deviceOf({ name: 'to-frankfurt-dc2' });
    assert.equal(long.length, 15);
    assert.equal(long, deviceOf({ name: 'to-frankfurt-dc2' }));
    assert.notEqual(long, deviceOf({ name: 'to-frankfurt-dc3' }));
  });

  it('verify: a bad remote_ca, a leaf as CA, a client without endpoint, short keepalive, shared ports', () => {
    const problems = verifyOpenvpnLinks(
      doc([
        toB({ remote_ca: 'hello' }),
        { ...toB({ remote_ca: TEST_LEAF_PEM }), name: 'to-c' },
        { ...toB({ role: 'client' }), name: 'to-d', remote_endpoint: undefined },
        { ...toB({ keepalive_interval: 40, keepalive_timeout: 60 }), name: 'to-e' },
        { ...toB({ listen_port: 1194 }), name: 'to-f' },
        { ...toB({ listen_port: 1194 }), name: 'to-g' },
      ]),
    );
    const byPointer = new Map(problems.map((p) => [p.pointer, p.message]));
    assert.match(byPointer.get('/links/0/openvpn/remote_ca') ?? '', /not one PEM certificate/);
    assert.match(byPointer.get('/links/1/openvpn/remote_ca') ?? '', /not a CA certificate/);
    assert.match(byPointer.get('/links/2/remote_endpoint') ?? '', /set remote_endpoint/);
    assert.match(byPointer.get('/links/3/openvpn/keepalive_timeout') ?? '', /twice keepalive_interval/);
    assert.match(byPointer.get('/links/5/openvpn/listen_port') ?? '', /already used by OpenVPN link "to-f"/);
    assert.match(byPointer.get('/links/2/openvpn/remote_name') ?? '', /set remote_name/);
    assert.equal(problems.length, 6, JSON.stringify(problems));
  });

  it('verify: a server without remote_endpoint names the peer certificate; tunnel /30s never collide', () => {
    const server = { ...toB({ role: 'server' }), remote_endpoint: undefined } as Link;
    delete (server as { remote_endpoint?: string }).remote_endpoint;
    const problems = verifyOpenvpnLinks(
      doc([
        server,
        { ...toB({ tunnel_network: '169.254.192.0/30' }), name: 'to-c' },
        { ...toB({ tunnel_network: '169.254.192.0/30' }), name: 'to-x' },
        { ...toB({ tunnel_network: '10.1.0.4/30' }), name: 'to-d' },
        { ...toB({ tunnel_network: '169.254.1.0/29' }), name: 'to-e' },
      ]),
    );
    assert.deepEqual(
      problems.map((p) => [p.pointer, p.related]),
      [
        ['/links/0/openvpn/remote_name', undefined],
        ['/links/4/openvpn/tunnel_network', undefined],
        ['/links/2/openvpn/tunnel_network', '/links/1/openvpn/tunnel_network'],
        ['/links/3/openvpn/tunnel_network', '/appliance/local_subnets/0'],
      ],
    );
    assert.match(problems[2]?.message ?? '', /also the tunnel of link "to-c"/);
    assert.match(problems[3]?.message ?? '', /overlaps 10\.1\.0\.0\/24 \(a local subnet\)/);
  });

  it('commit fills a tls-crypt key and a free tunnel /30, and keeps both when a PUT leaves them out', () => {
    const bare = (name: string, openvpn: Record<string, unknown> = {}) =>
      ({ ...toB(openvpn), name, openvpn: { remote_ca: TEST_CA_PEM, ...openvpn } }) as Link;
    const first = doc([bare('to-b'), bare('to-c', { tunnel_network: '169.254.192.4/30' }), bare('to-d')]);
    let n = 0;
    fillOpenvpnDefaults(first, undefined, (size) => new Uint8Array(size).fill(n++));
    const [b, c, d] = first.links.map(only);
    assert.match(b?.openvpn.tls_crypt_key ?? '', /BEGIN OpenVPN Static key V1-----\n(00){16}\n/);
    assert.match(d?.openvpn.tls_crypt_key ?? '', /\n(02){16}\n/);
    assert.equal(b?.openvpn.tunnel_network, '169.254.192.0/30');
    assert.equal(c?.openvpn.tunnel_network, '169.254.192.4/30');
    assert.equal(d?.openvpn.tunnel_network, '169.254.192.8/30');
    assert.deepEqual(verifyOpenvpnLinks(first), []);

    const again = doc([bare('to-d'), bare('to-e')]);
    fillOpenvpnDefaults(again, first, (size) => new Uint8Array(size).fill(9));
    const [d2, e2] = again.links.map(only);
    assert.equal(d2?.openvpn.tls_crypt_key, d?.openvpn.tls_crypt_key, 'kept');
    assert.equal(d2?.openvpn.tunnel_network, '169.254.192.8/30', 'kept');
    assert.equal(e2?.openvpn.tunnel_network, '169.254.192.0/30', 'the first free one');
  });

  it('verify: without public_endpoint the certificate has nothing to name', () => {
    const problems = verifyOpenvpnLinks(doc([toB()], { public_endpoint: undefined }));
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['/appliance/public_endpoint'],
    );
  });

  it('the bundle of a client link makes B the server on the port A dials, trusting A’s CA and name', () => {
    const link = only(toB({ data_ciphers: ['CHACHA20-POLY1305'], tunnel_network: '169.254.192.0/30' }));
    const bundle = openvpnBundle(doc([link]), link, 'A-CA', undefined);
    assert.deepEqual(bundle, {
      name: 'site-a',
      type: 'openvpn',
      description: 'OpenVPN link to site-a (exported from its link "to-b")',
      remote_subnets: ['10.1.0.0/24'],
      local_subnets: ['10.2.0.0/24'],
      openvpn: {
        role: 'server',
        listen_port: 1194,
        remote_ca: 'A-CA',
        remote_name: '203.0.113.10',
        tls_crypt_key: KEY,
        tunnel_network: '169.254.192.0/30',
        data_ciphers: ['CHACHA20-POLY1305'],
        keepalive_interval: 10,
        keepalive_timeout: 60,
      },
    });
  });

  it('NETMAP: the tunnel routes the mapped nets; the bundle has the real subnets and the mirrored netmap', () => {
    const link = only(
      toB(
        { tunnel_network: '169.254.192.0/30' },
        { remote_subnets: ['10.1.0.0/24'], netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' } },
      ),
    );
    const t = tunnelOf(link, { doc: doc([link]), underlayMtu: 1500 });
    assert.deepEqual([t.remoteSubnets, t.localSubnets], [['10.12.0.0/24'], ['10.11.0.0/24']]);
    const bundle = openvpnBundle(doc([link]), link, 'A-CA', undefined);
    assert.deepEqual(
      [bundle.remote_subnets, bundle.local_subnets, bundle.netmap],
      [['10.1.0.0/24'], ['10.1.0.0/24'], { local: '10.12.0.0/24', remote: '10.11.0.0/24' }],
    );
    const spoke = only(toB({ topology: 'spoke' }, { netmap: { local: '10.11.0.0/24' } }));
    const toHub = openvpnBundle(doc([spoke]), spoke, 'A-CA', undefined);
    assert.deepEqual([toHub.remote_subnets, toHub.netmap], [['10.1.0.0/24'], { remote: '10.11.0.0/24' }]);
  });

  it('verify: a tunnel /30 must not overlap a mapped net either', () => {
    const link = only(
      toB({ tunnel_network: '169.254.192.0/30' }, { netmap: { remote: '169.254.192.0/24' } }),
    );
    assert.deepEqual(
      verifyOpenvpnLinks(doc([link])).map((p) => [p.pointer, p.related]),
      [['/links/0/openvpn/tunnel_network', '/links/0/netmap/remote']],
    );
  });

  it('the bundle of a server link makes B a client dialing this public endpoint and chosen port', () => {
    const link = only(toB({ role: 'server' }, { remote_endpoint: undefined }));
    delete (link as { remote_endpoint?: string }).remote_endpoint;
    const bundle = openvpnBundle(doc([link]), link, 'A-CA', 1196);
    assert.equal(bundle.remote_endpoint, '203.0.113.10:1196');
    assert.equal((bundle as OpenvpnLink).openvpn.role, 'client');
    assert.throws(() => openvpnBundle(doc([link]), link, 'A-CA', undefined), /no UDP port yet/);
    assert.throws(() => openvpnBundle(doc([link]), link, undefined, 1196), /no CA certificate yet/);
  });
});
