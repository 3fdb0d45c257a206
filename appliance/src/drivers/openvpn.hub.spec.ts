import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link } from '../desired-state/document.js';
import { TEST_CA_PEM } from '../testing/certificates.js';
import { hubOf } from './openvpn.hub.js';
import { fillOpenvpnDefaults, isOpenvpn, openvpnBundle, verifyOpenvpnLinks } from './openvpn.link-spec.js';

const spoke = (name: string, cn: string, subnet: string, openvpn: Record<string, unknown> = {}): Link => ({
  name,
  type: 'openvpn',
  remote_subnets: [subnet],
  openvpn: { topology: 'hub', remote_ca: TEST_CA_PEM, remote_name: cn, ...openvpn },
});
const doc = (links: Link[]) =>
  normalize({
    appliance: { name: 'site-a', public_endpoint: '203.0.113.10', local_subnets: ['10.1.0.0/24'] },
    links,
  });
const committed = (links: Link[]) => {
  const d = doc(links);
  let n = 0;
  fillOpenvpnDefaults(d, undefined, (size) => new Uint8Array(size).fill(n++));
  return d;
};

describe('OpenVPN hub', () => {
  it('commit gives every hub link the same key and network, and each spoke its own address', () => {
    const d = committed([spoke('to-b', 'gw-b', '10.2.0.0/24'), spoke('to-c', 'gw-c', '10.3.0.0/24')]);
    const [b, c] = d.links.filter(isOpenvpn);
    assert.equal(b?.openvpn.tls_crypt_key, c?.openvpn.tls_crypt_key);
    assert.equal(b?.openvpn.tunnel_network, '169.254.128.0/24');
    assert.equal(b?.openvpn.tunnel_address, '169.254.128.2');
    assert.equal(c?.openvpn.tunnel_address, '169.254.128.3');
    assert.deepEqual(verifyOpenvpnLinks(d), []);
    const hub = hubOf(d.links.filter(isOpenvpn), { underlayMtu: 1500, doc: d });
    assert.equal(hub?.listenPort, 1194);
    assert.equal(hub?.serverAddress, '169.254.128.1');
    assert.equal(hub?.device, 'ovpn-hub');
    assert.deepEqual(
      hub?.spokes.map((s) => [s.link, s.commonName, s.tunnelAddress, s.subnets]),
      [
        ['to-b', 'gw-b', '169.254.128.2', ['10.2.0.0/24']],
        ['to-c', 'gw-c', '169.254.128.3', ['10.3.0.0/24']],
      ],
    );
  });

  it('a new spoke keeps the others’ addresses and the hub’s key', () => {
    const first = committed([spoke('to-b', 'gw-b', '10.2.0.0/24'), spoke('to-c', 'gw-c', '10.3.0.0/24')]);
    const next = doc([spoke('to-d', 'gw-d', '10.4.0.0/24'), spoke('to-c', 'gw-c', '10.3.0.0/24')]);
    fillOpenvpnDefaults(next, first, (size) => new Uint8Array(size).fill(7));
    const [d, c] = next.links.filter(isOpenvpn);
    assert.equal(c?.openvpn.tunnel_address, '169.254.128.3');
    assert.equal(d?.openvpn.tunnel_address, '169.254.128.2');
    assert.equal(d?.openvpn.tls_crypt_key, c?.openvpn.tls_crypt_key);
  });

  it('verify: spokes need distinct names and addresses, agree on the server, and do not dial', () => {
    const problems = verifyOpenvpnLinks(
      doc([
        spoke('to-b', 'gw-b', '10.2.0.0/24', { tunnel_address: '169.254.128.1', listen_port: 1200 }),
        spoke('to-c', 'gw-b', '10.3.0.0/24', { tunnel_address: '169.254.128.9' }),
        {
          ...spoke('to-d', 'gw-d', '10.4.0.0/24', { tunnel_address: '169.254.128.9' }),
          remote_endpoint: '198.51.100.4:1194',
        },
        spoke('to-e', 'gw-e', '10.5.0.0/24', { role: 'server' }),
      ]),
    );
    const messages = problems.map((p) => `${p.pointer}: ${p.message}`);
    assert.ok(
      messages.some((m) => /^\/links\/3\/openvpn\/role: role is for p2p links/.test(m)),
      messages.join('\n'),
    );
    assert.ok(
      messages.some((m) => /^\/links\/1\/openvpn\/listen_port: all hub links share one server/.test(m)),
      messages.join('\n'),
    );
    assert.ok(messages.some((m) => /^\/links\/2\/remote_endpoint: spokes dial the hub/.test(m)));
    assert.ok(
      messages.some((m) =>
        /^\/links\/1\/openvpn\/remote_name: two spokes with the common name "gw-b"/.test(m),
      ),
    );
    assert.ok(
      messages.some((m) =>
        /^\/links\/0\/openvpn\/tunnel_address: 169\.254\.128\.1 is not a spoke address/.test(m),
      ),
    );
    assert.ok(
      messages.some((m) => /^\/links\/2\/openvpn\/tunnel_address: 169\.254\.128\.9 is already/.test(m)),
    );
  });

  it('NETMAP: a mapped spoke’s iroute is its mapped net, and the other spokes reach it there', () => {
    const d = committed([
      { ...spoke('to-b', 'gw-b', '10.1.0.0/24'), netmap: { remote: '10.12.0.0/24' } },
      spoke('to-c', 'gw-c', '10.3.0.0/24'),
    ]);
    const hub = hubOf(d.links.filter(isOpenvpn), { doc: d });
    assert.deepEqual(
      hub?.spokes.map((s) => s.subnets),
      [['10.12.0.0/24'], ['10.3.0.0/24']],
    );
    const [, c] = d.links.filter(isOpenvpn);
    assert.ok(c);
    assert.deepEqual(openvpnBundle(d, c, 'A-CA', undefined).remote_subnets, ['10.1.0.0/24', '10.12.0.0/24']);
  });

  it('NETMAP: a hub link with netmap.local cannot be exported beside other spokes (its spoke could not map us)', () => {
    const d = committed([
      { ...spoke('to-b', 'gw-b', '10.1.0.0/24'), netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' } },
      spoke('to-c', 'gw-c', '10.3.0.0/24'),
    ]);
    const [b] = d.links.filter(isOpenvpn);
    assert.ok(b);
    assert.throws(() => openvpnBundle(d, b, 'A-CA', undefined), /drop netmap\.local from this hub link/);
    const alone = committed([
      { ...spoke('to-b', 'gw-b', '10.1.0.0/24'), netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' } },
    ]);
    const [only] = alone.links.filter(isOpenvpn);
    assert.ok(only);
    const bundle = openvpnBundle(alone, only, 'A-CA', undefined);
    assert.deepEqual(
      [bundle.remote_subnets, bundle.local_subnets, bundle.netmap],
      [['10.1.0.0/24'], ['10.1.0.0/24'], { local: '10.12.0.0/24', remote: '10.11.0.0/24' }],
    );
  });

  it('the hub link’s bundle makes a spoke that dials the hub and reaches its LAN and the other spokes', () => {
    const d = committed([spoke('to-b', 'gw-b', '10.2.0.0/24'), spoke('to-c', 'gw-c', '10.3.0.0/24')]);
    const [b] = d.links.filter(isOpenvpn);
    assert.ok(b);
    const bundle = openvpnBundle(d, b, 'A-CA', undefined);
    assert.deepEqual(bundle, {
      name: 'site-a',
      type: 'openvpn',
      description: 'OpenVPN spoke of hub site-a (exported from its link "to-b")',
      remote_endpoint: '203.0.113.10:1194',
      remote_subnets: ['10.1.0.0/24', '10.3.0.0/24'],
      local_subnets: ['10.2.0.0/24'],
      openvpn: {
        topology: 'spoke',
        remote_ca: 'A-CA',
        remote_name: '203.0.113.10',
        tls_crypt_key: b.openvpn.tls_crypt_key,
        keepalive_interval: 10,
        keepalive_timeout: 60,
      },
    });
    assert.deepEqual(
      verifyOpenvpnLinks(
        committed([
          {
            ...bundle,
            openvpn: { ...(bundle as { openvpn: object }).openvpn, remote_ca: TEST_CA_PEM },
          } as Link,
        ]),
      ),
      [],
    );
  });
});
