import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link, type NormalizedDocument } from './document.js';
import { groupsAcross, groupsInto, verifyMulticast, type MulticastGroup } from './multicast.js';
import { verifyDocument } from './verify.js';

const KEY = 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=';
const wg = (name: string, remote: string, extra: Record<string, unknown> = {}): Link => ({
  name,
  type: 'wireguard',
  remote_subnets: [remote],
  wireguard: { peer_public_key: KEY, ...extra },
});
const ipsec = (name: string, remote: string): Link => ({
  name,
  type: 'ipsec',
  remote_subnets: [remote],
  ipsec: { preshared_key: 'x'.repeat(20) },
});
const ovpn = (name: string, remote: string): Link =>
  ({ name, type: 'openvpn', remote_subnets: [remote], openvpn: {} }) as Link;

const LINKS = [wg('to-b', '10.2.0.0/24'), ovpn('to-c', '10.3.0.0/24'), ipsec('to-d', '10.4.0.0/24')];

function doc(groups: Partial<MulticastGroup>[], links: Link[] = LINKS): NormalizedDocument {
  return normalize({
    appliance: { name: 'a', local_subnets: ['10.1.0.0/24'] },
    links,
    multicast: {
      groups: groups.map((g, i) => ({
        name: `g${i}`,
        group: '239.1.1.1',
        from: 'lan',
        to: ['to-b'],
        ...g,
      })),
    },
  });
}

const problems = (d: NormalizedDocument) => verifyMulticast(d).map((p) => `${p.pointer}: ${p.message}`);

void describe('verifyMulticast', () => {
  void it('accepts sending sites, receiving sites, ranges, (S,G) groups and a TTL lift', () => {
    const d = doc([
      { to: ['to-b', 'to-c', 'to-d'], ttl_lift: 8 },
      { group: '239.2.0.0/16', from: 'to-b', to: ['lan', 'to-c'] },
      { group: '239.2.0.0/16', source: '10.1.0.5', to: ['to-b'] },
      { group: '239.3.3.3', from: 'to-d', to: ['lan'] },
    ]);
    assert.deepEqual(problems(d), []);
    assert.deepEqual(verifyDocument(d), []);
  });

  void it('refuses groups outside 224.0.0.0/4, in 224.0.0.0/24, with host bits, or IPv6', () => {
    const p = problems(
      doc([
        { group: '10.1.1.1' },
        { group: '224.0.0.251' },
        { group: '224.0.0.0/16' },
        { group: '239.1.1.1/16' },
        { group: '192.0.0.0/2' },
        { group: 'ff02::1' },
      ]),
    );
    assert.equal(p.length, 6);
    assert.match(
      p[0] ?? '',
      /^\/multicast\/groups\/0\/group: .*not inside the multicast range 224\.0\.0\.0\/4/,
    );
    assert.match(p[1] ?? '', /^\/multicast\/groups\/1\/group: .*covers 224\.0\.0\.0\/24, link-local/);
    assert.match(p[2] ?? '', /^\/multicast\/groups\/2\/group: .*covers 224\.0\.0\.0\/24.*narrow the range/);
    assert.match(
      p[3] ?? '',
      /^\/multicast\/groups\/3\/group: .*host bits set: did you mean 239\.1\.0\.0\/16\?/,
    );
    assert.match(p[4] ?? '', /^\/multicast\/groups\/4\/group: .*not inside the multicast range/);
    assert.match(p[5] ?? '', /^\/multicast\/groups\/5\/group: .*not an IPv4 group/);
  });

  void it('refuses a source that is not a unicast IPv4 sender', () => {
    const p = problems(doc([{ source: '239.9.9.9' }, { group: '239.4.4.4', source: '2001:db8::1' }]));
    assert.match(p[0] ?? '', /^\/multicast\/groups\/0\/source: .*not a unicast sender address/);
    assert.match(p[1] ?? '', /^\/multicast\/groups\/1\/source: .*not an IPv4 address/);
  });

  void it('names unknown links, a group sent back where it came from, and a destination named twice', () => {
    const p = problems(
      doc([
        { from: 'to-x', to: ['to-b', 'to-b', 'nowhere'] },
        { group: '239.5.5.5', from: 'to-b', to: ['to-b'] },
      ]),
    );
    assert.deepEqual(p, [
      '/multicast/groups/0/from: "to-x" is neither: use "lan" or a link name (to-b, to-c, to-d)',
      '/multicast/groups/0/to/1: "to-b" is named twice: name it once',
      '/multicast/groups/0/to/2: "nowhere" is neither: use "lan" or a link name (to-b, to-c, to-d)',
      '/multicast/groups/1/to/0: "to-b" is where the group comes from: a router never sends a group back where it arrived; remove it from to',
    ]);
  });

  void it('allows ttl_lift only for groups from the LAN', () => {
    assert.deepEqual(problems(doc([{ from: 'to-b', to: ['lan'], ttl_lift: 8 }])), [
      "/multicast/groups/0/ttl_lift: ttl_lift applies to packets from this site's LAN: set it on the sending site's group (from: lan), or remove it here",
    ]);
  });

  void it('refuses duplicate names and overlapping ranges arriving the same way, naming both', () => {
    const found = verifyMulticast(
      doc([
        { name: 'x' },
        { name: 'x', group: '239.1.0.0/16', to: ['to-c'] },
        { group: '239.1.0.0/16', from: 'to-b', to: ['lan'] },
      ]),
    );
    assert.deepEqual(
      found.map((f) => [f.pointer, f.related]),
      [
        ['/multicast/groups/1/name', '/multicast/groups/0/name'],
        ['/multicast/groups/1/group', '/multicast/groups/0/group'],
      ],
    );
    assert.match(
      found[1]?.message ?? '',
      /239\.1\.0\.0\/16 overlaps 239\.1\.1\.1\/32 of group "x", both from "lan": merge them/,
    );
  });

  void it('refuses two WireGuard links sharing one interface, or two IPsec links, in one group', () => {
    const links = [
      wg('hub-b', '10.2.0.0/24', { interface: 'wg-hub' }),
      wg('hub-c', '10.3.0.0/24', { interface: 'wg-hub' }),
      ipsec('ip-d', '10.4.0.0/24'),
      ipsec('ip-e', '10.5.0.0/24'),
    ];
    const p = verifyMulticast(
      doc(
        [
          { to: ['hub-b', 'hub-c'] },
          { group: '239.2.2.2', to: ['ip-d', 'ip-e'] },
          { group: '239.3.3.3', from: 'ip-d', to: ['ip-e'] },
        ],
        links,
      ),
    );
    assert.deepEqual(
      p.map((x) => x.pointer),
      ['/multicast/groups/0/to/1', '/multicast/groups/1/to/1', '/multicast/groups/2/to/0'],
    );
    assert.match(
      p[0]?.message ?? '',
      /share WireGuard interface wg-hub, which sends a group to only one of its peers/,
    );
    assert.match(p[1]?.message ?? '', /both IPsec: the group would enter one CHILD_SA only/);
    assert.match(p[2]?.message ?? '', /both IPsec and share one device here/);
  });

  void it('refuses a link named "lan" once groups exist', () => {
    const p = verifyMulticast(doc([{ to: ['to-b'] }], [wg('to-b', '10.2.0.0/24'), wg('lan', '10.3.0.0/24')]));
    assert.deepEqual(
      p.map((x) => x.pointer),
      ['/links/1/name'],
    );
  });
});

void describe('groups carried by the tunnels', () => {
  const d = doc([
    { to: ['to-b', 'to-d'] },
    { group: '239.2.0.0/16', from: 'to-d', to: ['lan'] },
    { group: '239.3.3.3', from: 'to-c', to: ['to-b'] },
  ]);

  void it('WireGuard: the groups sent into the link, as prefixes', () => {
    const [b] = d.links;
    assert.ok(b);
    assert.deepEqual(groupsInto(d, b), ['239.1.1.1/32', '239.3.3.3/32']);
    const c = d.links[1];
    assert.ok(c);
    assert.deepEqual(groupsInto(d, c), []);
  });

  void it('WireGuard: not a group whose source link is disabled', () => {
    const off = structuredClone(d);
    const c = off.links[1];
    assert.ok(c);
    c.enabled = false;
    assert.deepEqual(groupsInto(off, off.links[0] as Link), ['239.1.1.1/32']);
  });

  void it('IPsec: the groups sent into it and received from it', () => {
    assert.deepEqual(groupsAcross(d, d.links[2] as Link), ['239.1.1.1/32', '239.2.0.0/16']);
  });
});

void describe('verifyMulticast: the L2 segment', () => {
  const withL2 = (
    l2: Record<string, unknown>,
    groups: Partial<MulticastGroup>[] = [],
  ): NormalizedDocument => {
    const d = doc(groups);
    d.multicast = { ...d.multicast, groups: d.multicast?.groups ?? [], l2: l2 as never };
    return d;
  };

  void it('accepts peers over existing links at addresses inside their remote subnets', () => {
    const d = withL2({
      vni: 7,
      peers: [
        { link: 'to-b', address: '10.2.0.1' },
        { link: 'to-d', address: '10.4.0.1' },
      ],
    });
    assert.deepEqual(verifyDocument(d), []);
  });

  void it('names a peer over an unknown link, outside its link, or named twice', () => {
    const p = verifyMulticast(
      withL2({
        vni: 7,
        peers: [
          { link: 'to-x', address: '10.2.0.1' },
          { link: 'to-b', address: '10.9.0.1' },
          { link: 'to-d', address: '10.9.0.1' },
        ],
      }),
    );
    assert.deepEqual(
      p.map((x) => x.pointer),
      [
        '/multicast/l2/peers/0/link',
        '/multicast/l2/peers/1/address',
        '/multicast/l2/peers/2/address',
        '/multicast/l2/peers/2/address',
      ],
    );
    assert.match(
      p[1]?.message ?? '',
      /10\.9\.0\.1 is not inside link "to-b"'s remote subnets \(10\.2\.0\.0\/24\)/,
    );
    assert.match(p[3]?.message ?? '', /named twice/);
  });

  void it('refuses groups outside 224.0.0.0/4 and groups the L3 routes already carry from the LAN', () => {
    const p = verifyMulticast(
      withL2(
        { vni: 7, groups: ['10.0.0.0/8', '239.1.0.0/16'], peers: [{ link: 'to-b', address: '10.2.0.1' }] },
        [{}],
      ),
    );
    assert.deepEqual(
      p.map((x) => [x.pointer, x.related]),
      [
        ['/multicast/l2/groups/0', undefined],
        ['/multicast/l2/groups/1', '/multicast/groups/0/group'],
      ],
    );
    assert.match(p[1]?.message ?? '', /would arrive twice/);
  });
});
