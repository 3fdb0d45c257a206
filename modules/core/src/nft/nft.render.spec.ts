import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderNftCleanup, renderNftScript, validateNftDesired } from './nft.render.js';
import { emptyNftDesired, type NftDesired } from './nft.types.js';
import { InvalidArgumentError } from '../errors.js';

/** Site A (10.1.0.0/24) behind wan0: two IPsec links on ipsec0, netmapped; a WireGuard link clamped. */
const representative = (): NftDesired => ({
  masquerade: { underlay: 'wan0', sources: ['fd00:1::/64', '10.1.0.0/24', '10.9.0.0/16', '10.9.4.0/24'] },
  portForwards: [
    { name: 'web', iif: 'wan0', protocol: 'tcp', port: 8080, to: '10.1.0.5', toPort: 80 },
    { name: 'dns', iif: 'wan0', protocol: 'udp', port: 53, to: '2001:DB8:0::5', toPort: 5353 },
  ],
  netmaps: [
    {
      link: 'site-c',
      device: 'ipsec0',
      real: '10.1.0.0/24',
      mapped: '10.12.0.0/24',
      remote: ['10.3.0.0/24'],
    },
    {
      link: 'site-b',
      device: 'ipsec0',
      real: '10.1.0.0/24',
      mapped: '10.11.0.0/24',
      remote: ['10.22.0.0/24', '10.2.0.0/24'],
    },
  ],
  mssClamp: [{ device: 'wg-site-d', mss: 1380 }, { device: 'ipsec0' }],
});

const REPRESENTATIVE_SCRIPT = `table inet weft {}
delete table inet weft
table inet weft {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname "ipsec0" ip saddr { 10.2.0.0/24, 10.22.0.0/24 } ip daddr 10.11.0.0/24 dnat ip prefix to 10.1.0.0/24 comment "netmap link site-b"
		iifname "ipsec0" ip saddr 10.3.0.0/24 ip daddr 10.12.0.0/24 dnat ip prefix to 10.1.0.0/24 comment "netmap link site-c"
		iifname "wan0" udp dport 53 dnat ip6 to [2001:db8::5]:5353 comment "forward dns"
		iifname "wan0" tcp dport 8080 dnat ip to 10.1.0.5:80 comment "forward web"
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "ipsec0" ip saddr 10.1.0.0/24 ip daddr { 10.2.0.0/24, 10.22.0.0/24 } snat ip prefix to 10.11.0.0/24 comment "netmap link site-b"
		oifname "ipsec0" ip saddr 10.1.0.0/24 ip daddr 10.3.0.0/24 snat ip prefix to 10.12.0.0/24 comment "netmap link site-c"
		oifname "wan0" ip saddr { 10.1.0.0/24, 10.9.0.0/16 } masquerade comment "masquerade"
		oifname "wan0" ip6 saddr fd00:1::/64 masquerade comment "masquerade"
	}

	chain forward {
		type filter hook forward priority mangle; policy accept;
		oifname "ipsec0" tcp flags syn tcp option maxseg size set rt mtu comment "mss ipsec0"
		oifname "wg-site-d" tcp flags syn tcp option maxseg size set rt mtu comment "mss wg-site-d"
		iifname "wg-site-d" tcp flags syn tcp option maxseg size > 1380 tcp option maxseg size set 1380 comment "mss wg-site-d"
	}

	chain input {
		type filter hook input priority filter; policy accept;
	}

	chain filter_forward {
		type filter hook forward priority filter; policy accept;
	}

	chain multicast_ttl {
		type filter hook prerouting priority mangle; policy accept;
	}
}
`;

const EMPTY_SCRIPT = `table inet weft {}
delete table inet weft
table inet weft {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
	}

	chain forward {
		type filter hook forward priority mangle; policy accept;
	}

	chain input {
		type filter hook input priority filter; policy accept;
	}

	chain filter_forward {
		type filter hook forward priority filter; policy accept;
	}

	chain multicast_ttl {
		type filter hook prerouting priority mangle; policy accept;
	}
}
`;

void describe('renderNftScript', () => {
  void it('renders the underlay input filter, masquerade exceptions and forward rules in their order', () => {
    const script = renderNftScript({
      ...emptyNftDesired(),
      masquerade: { underlay: 'wan0', sources: ['10.1.0.0/24'], exceptTo: ['10.3.0.0/24', '10.2.0.0/24'] },
      input: {
        underlay: 'wan0',
        udpPorts: [51820, 500, 4500, 500],
        tcpPorts: [],
        api: { port: 8080, from: ['198.51.100.0/24', '2001:db8::/32'] },
      },
      forwardRules: [
        {
          name: 'no-ssh-in',
          iif: 'wg0',
          dst: ['10.1.0.0/24'],
          protocol: 'tcp',
          ports: { from: 22, to: 22 },
          action: 'reject',
        },
        { name: 'web', oif: 'wg0', protocol: 'tcp', ports: { from: 8000, to: 8100 }, action: 'accept' },
        { name: 'icmp-off', protocol: 'icmp', action: 'drop' },
      ],
    });
    const body = script.split('\n').map((l) => l.trim());
    assert.ok(
      body.includes(
        'oifname "wan0" ip saddr 10.1.0.0/24 ip daddr != { 10.2.0.0/24, 10.3.0.0/24 } masquerade comment "masquerade"',
      ),
      script,
    );
    const input = body.slice(body.indexOf('chain input {') + 2, body.indexOf('chain filter_forward {') - 2);
    assert.deepEqual(input, [
      'iifname "wan0" ct state established,related accept comment "underlay: replies"',
      'iifname "wan0" ct state invalid drop comment "underlay: invalid"',
      'iifname "wan0" meta l4proto { icmp, ipv6-icmp } accept comment "underlay: icmp"',
      'iifname "wan0" udp sport 67 udp dport 68 accept comment "underlay: dhcp"',
      'iifname "wan0" udp sport 547 udp dport 546 accept comment "underlay: dhcpv6"',
      'iifname "wan0" udp dport { 500, 4500, 51820 } accept comment "underlay: tunnel ports"',
      'iifname "wan0" ip saddr 198.51.100.0/24 tcp dport 8080 accept comment "underlay: api"',
      'iifname "wan0" ip6 saddr 2001:db8::/32 tcp dport 8080 accept comment "underlay: api"',
      'iifname "wan0" counter drop comment "underlay: everything else"',
    ]);
    const fwd = body.slice(
      body.indexOf('chain filter_forward {') + 2,
      body.indexOf('chain multicast_ttl {') - 2,
    );
    assert.deepEqual(fwd, [
      'ct state established,related accept comment "replies"',
      'iifname "wg0" ip daddr 10.1.0.0/24 tcp dport 22 counter reject comment "rule no-ssh-in"',
      'oifname "wg0" tcp dport 8000-8100 accept comment "rule web"',
      'meta l4proto { icmp, ipv6-icmp } counter drop comment "rule icmp-off"',
    ]);
  });

  void it('refuses bad firewall input, naming the field', () => {
    const bad: [Partial<NftDesired>, RegExp][] = [
      [{ input: { underlay: 'wan 0', udpPorts: [], tcpPorts: [] } }, /input\.underlay/],
      [{ input: { underlay: 'wan0', udpPorts: [70000], tcpPorts: [] } }, /input\.udpPorts\[0\]/],
      [
        { forwardRules: [{ name: 'x', src: ['10.1.0.0/24'], dst: ['2001:db8::/32'], action: 'drop' }] },
        /mixes IPv4 and IPv6/,
      ],
      [
        { forwardRules: [{ name: 'x', ports: { from: 1, to: 2 }, action: 'drop' }] },
        /needs protocol tcp or udp/,
      ],
      [
        { forwardRules: [{ name: 'x', protocol: 'tcp', ports: { from: 9, to: 2 }, action: 'drop' }] },
        /ends before it starts/,
      ],
      [
        {
          forwardRules: [
            { name: 'x', action: 'drop' },
            { name: 'x', action: 'accept' },
          ],
        },
        /forwardRules\[1\]\.name/,
      ],
      [
        { masquerade: { underlay: 'wan0', sources: ['10.1.0.0/24'], exceptTo: ['nope'] } },
        /masquerade\.exceptTo\[0\]/,
      ],
    ];
    for (const [extra, message] of bad) {
      assert.throws(() => renderNftScript({ ...emptyNftDesired(), ...extra }), message);
    }
  });

  void it('renders masquerade, forwards, netmaps sharing a device and MSS clamping, sorted', () => {
    assert.equal(renderNftScript(representative()), REPRESENTATIVE_SCRIPT);
  });

  void it('does not depend on the order of the lists', () => {
    const d = representative();
    d.portForwards.reverse();
    d.netmaps.reverse();
    d.mssClamp.reverse();
    d.masquerade?.sources.reverse();
    for (const m of d.netmaps) m.remote.reverse();
    assert.equal(renderNftScript(d), REPRESENTATIVE_SCRIPT);
  });

  void it('renders the chains without rules for an empty desired', () => {
    assert.equal(renderNftScript(emptyNftDesired()), EMPTY_SCRIPT);
  });

  void it('renders the multicast TTL lift per LAN interface, sorted, groups merged', () => {
    const script = renderNftScript({
      ...emptyNftDesired(),
      multicastTtl: [
        { iif: 'lan1', groups: ['239.5.5.5'], ttl: 4 },
        { iif: 'lan0', groups: ['239.2.0.0/16', '239.1.1.1', '239.2.3.4'], ttl: 8 },
      ],
    });
    const body = script.split('\n').map((l) => l.trim());
    const chain = body.slice(body.indexOf('chain multicast_ttl {') + 2, -3);
    assert.deepEqual(chain, [
      'iifname "lan0" ip daddr { 239.1.1.1/32, 239.2.0.0/16 } ip ttl < 8 ip ttl set 8 comment "multicast ttl lan0"',
      'iifname "lan1" ip daddr 239.5.5.5/32 ip ttl < 4 ip ttl set 4 comment "multicast ttl lan1"',
    ]);
  });

  void it('refuses a TTL lift outside 224.0.0.0/4, without groups, or with a TTL out of range', () => {
    const lift = (l: { iif: string; groups: string[]; ttl: number }) => () =>
      renderNftScript({ ...emptyNftDesired(), multicastTtl: [l] });
    assert.throws(lift({ iif: 'lan0', groups: ['10.1.0.0/24'], ttl: 8 }), {
      message: 'multicastTtl[0].groups[0]: 10.1.0.0/24 is not an IPv4 group inside 224.0.0.0/4',
    });
    assert.throws(lift({ iif: 'lan0', groups: [], ttl: 8 }), {
      message: 'multicastTtl[0].groups: name at least one group',
    });
    assert.throws(lift({ iif: 'lan0', groups: ['239.1.1.1'], ttl: 1 }), {
      message: 'multicastTtl[0].ttl: 1 is not a TTL of 2 to 255',
    });
    assert.throws(lift({ iif: 'lan 0', groups: ['239.1.1.1'], ttl: 8 }), /multicastTtl\[0\]\.iif/);
    assert.throws(
      () =>
        renderNftScript({
          ...emptyNftDesired(),
          multicastTtl: [
            { iif: 'lan0', groups: ['239.1.1.1'], ttl: 8 },
            { iif: 'lan0', groups: ['239.2.2.2'], ttl: 8 },
          ],
        }),
      { message: 'multicastTtl[1]: same iif and ttl as multicastTtl[0]; merge their groups' },
    );
  });

  void it('renders IPv6 netmaps with ip6 and another table when told', () => {
    const script = renderNftScript(
      {
        ...emptyNftDesired(),
        netmaps: [
          { link: 'v6', device: 'wg0', real: 'fd01::/64', mapped: 'fd11::/64', remote: ['fd02::/64'] },
        ],
      },
      { family: 'inet', name: 'weft_test' },
    );
    assert.match(
      script,
      /^table inet weft_test \{\}\ndelete table inet weft_test\ntable inet weft_test \{\n/,
    );
    assert.ok(
      script.includes(
        'iifname "wg0" ip6 saddr fd02::/64 ip6 daddr fd11::/64 dnat ip6 prefix to fd01::/64 comment "netmap link v6"',
      ),
    );
    assert.ok(
      script.includes(
        'oifname "wg0" ip6 saddr fd01::/64 ip6 daddr fd02::/64 snat ip6 prefix to fd11::/64 comment "netmap link v6"',
      ),
    );
  });

  void describe('refuses, naming the field', () => {
    const base = representative;
    const cases: Array<[string, (d: NftDesired) => void, RegExp]> = [
      [
        'a list that is not one',
        (d) => ((d as unknown as Record<string, unknown>).netmaps = {}),
        /^netmaps: must be a list$/,
      ],
      [
        'an underlay name too long',
        (d) => d.masquerade && (d.masquerade.underlay = 'a-very-long-name0'),
        /^masquerade\.underlay: "a-very-long-name0" is not an interface name/,
      ],
      [
        'an underlay name with a quote',
        (d) => d.masquerade && (d.masquerade.underlay = 'wan0" accept'),
        /^masquerade\.underlay: "wan0\\" accept" is not an interface name/,
      ],
      [
        'an empty underlay name',
        (d) => d.masquerade && (d.masquerade.underlay = ''),
        /^masquerade\.underlay: "" is not/,
      ],
      [
        'no masquerade sources',
        (d) => d.masquerade && (d.masquerade.sources = []),
        /^masquerade\.sources: name at least one prefix/,
      ],
      [
        'a source that is no prefix',
        (d) => d.masquerade?.sources.push('10.1.0.0/33'),
        /^masquerade\.sources\[4\]: "10\.1\.0\.0\/33": the prefix length must be 0 to 32$/,
      ],
      [
        'a source with host bits',
        (d) => d.masquerade?.sources.push('10.1.0.5/24'),
        /^masquerade\.sources\[4\]: "10\.1\.0\.5\/24" has host bits set; the network is 10\.1\.0\.0\/24$/,
      ],
      [
        'a forward name with a space',
        (d) => d.portForwards[0] && (d.portForwards[0].name = 'my web'),
        /^portForwards\[0\]\.name: "my web" is not a name/,
      ],
      [
        'two forwards of one name',
        (d) => d.portForwards[1] && (d.portForwards[1].name = 'web'),
        /^portForwards\[1\]\.name: "web" is also the name of portForwards\[0\]$/,
      ],
      [
        'a bad iif',
        (d) => d.portForwards[0] && (d.portForwards[0].iif = 'eth*'),
        /^portForwards\[0\]\.iif: "eth\*" is not an interface name/,
      ],
      [
        'a protocol nft would take for another',
        (d) => d.portForwards[0] && ((d.portForwards[0] as { protocol: string }).protocol = 'sctp'),
        /^portForwards\[0\]\.protocol: "sctp" is not tcp or udp$/,
      ],
      [
        'port 0',
        (d) => d.portForwards[0] && (d.portForwards[0].port = 0),
        /^portForwards\[0\]\.port: 0 is not a port \(1 to 65535\)$/,
      ],
      [
        'port 65536',
        (d) => d.portForwards[0] && (d.portForwards[0].port = 65536),
        /^portForwards\[0\]\.port: 65536 is not a port/,
      ],
      [
        'a fractional toPort',
        (d) => d.portForwards[0] && (d.portForwards[0].toPort = 80.5),
        /^portForwards\[0\]\.toPort: 80\.5 is not a port/,
      ],
      [
        'a to that is not an address',
        (d) => d.portForwards[0] && (d.portForwards[0].to = '10.1.0.500'),
        /^portForwards\[0\]\.to: "10\.1\.0\.500" is not an IP address$/,
      ],
      [
        'a to that is a prefix',
        (d) => d.portForwards[0] && (d.portForwards[0].to = '10.1.0.0/24'),
        /^portForwards\[0\]\.to: "10\.1\.0\.0\/24" is not an IP address$/,
      ],
      [
        'two forwards of one port',
        (d) =>
          d.portForwards.push({
            name: 'web2',
            iif: 'wan0',
            protocol: 'tcp',
            port: 8080,
            to: '10.1.0.6',
            toPort: 80,
          }),
        /^portForwards\[2\]\.port: tcp port 8080 on wan0 is already forwarded by portForwards\[0\]$/,
      ],
      [
        'a link name with a quote',
        (d) => d.netmaps[0] && (d.netmaps[0].link = 'a"b'),
        /^netmaps\[0\]\.link: "a\\"b" is not a name/,
      ],
      [
        'a bad device',
        (d) => d.netmaps[1] && (d.netmaps[1].device = 'ipsec 0'),
        /^netmaps\[1\]\.device: "ipsec 0" is not an interface name/,
      ],
      [
        'a bad real',
        (d) => d.netmaps[0] && (d.netmaps[0].real = 'lan'),
        /^netmaps\[0\]\.real: "lan" is not an IP address$/,
      ],
      [
        'a bad mapped',
        (d) => d.netmaps[0] && (d.netmaps[0].mapped = '10.12.0.1/24'),
        /^netmaps\[0\]\.mapped: "10\.12\.0\.1\/24" has host bits set/,
      ],
      [
        'mapped of another length',
        (d) => d.netmaps[1] && (d.netmaps[1].mapped = '10.11.0.0/23'),
        /^netmaps\[1\]\.mapped: 10\.11\.0\.0\/23 is a \/23 but real 10\.1\.0\.0\/24 is a \/24; NETMAP maps address for address/,
      ],
      [
        'mapped of another family',
        (d) => d.netmaps[0] && (d.netmaps[0].mapped = 'fd11::/120'),
        /^netmaps\[0\]\.mapped: fd11::\/120 is IPv6 but real 10\.1\.0\.0\/24 is IPv4$/,
      ],
      [
        'no remote',
        (d) => d.netmaps[0] && (d.netmaps[0].remote = []),
        /^netmaps\[0\]\.remote: name at least one prefix/,
      ],
      [
        'a remote of another family',
        (d) => d.netmaps[1]?.remote.push('fd02::/64'),
        /^netmaps\[1\]\.remote\[2\]: fd02::\/64 is IPv6 but real 10\.1\.0\.0\/24 is IPv4$/,
      ],
      [
        'a bad remote',
        (d) => d.netmaps[1]?.remote.push('10.2.0.0/8'),
        /^netmaps\[1\]\.remote\[2\]: "10\.2\.0\.0\/8" has host bits set/,
      ],
      [
        'two links on one device claiming the same packets',
        (d) => d.netmaps[0]?.remote.push('10.2.0.128/25'),
        /^netmaps\[0\]\.real: 10\.1\.0\.0\/24 overlaps 10\.1\.0\.0\/24 of netmaps\[1\] \(link site-b\) on device ipsec0 with overlapping remote prefixes/,
      ],
      [
        'a bad clamp device',
        (d) => d.mssClamp[0] && (d.mssClamp[0].device = 'wg/0'),
        /^mssClamp\[0\]\.device: "wg\/0" is not an interface name/,
      ],
      [
        'a device clamped twice',
        (d) => d.mssClamp.push({ device: 'ipsec0', mss: 1400 }),
        /^mssClamp\[2\]\.device: ipsec0 is already clamped by mssClamp\[1\]$/,
      ],
      [
        'an MSS too small',
        (d) => d.mssClamp[0] && (d.mssClamp[0].mss = 500),
        /^mssClamp\[0\]\.mss: 500 is not an MSS \(536 to 65495/,
      ],
      [
        'a fractional MSS',
        (d) => d.mssClamp[0] && (d.mssClamp[0].mss = 1380.5),
        /^mssClamp\[0\]\.mss: 1380\.5 is not an MSS/,
      ],
    ];
    for (const [what, spoil, message] of cases) {
      void it(what, () => {
        const d = base();
        spoil(d);
        assert.throws(
          () => renderNftScript(d),
          (err: unknown) => {
            assert.ok(err instanceof InvalidArgumentError, String(err));
            assert.match(err.message, message);
            return true;
          },
        );
        assert.throws(() => validateNftDesired(d), InvalidArgumentError);
      });
    }

    void it('a table of another family or an odd name', () => {
      assert.throws(
        () => renderNftScript(emptyNftDesired(), { family: 'ip', name: 'weft' }),
        /^InvalidArgumentError: table\.family: "ip" is not supported, only "inet"$/,
      );
      assert.throws(
        () => renderNftScript(emptyNftDesired(), { family: 'inet', name: 'we ft' }),
        /^InvalidArgumentError: table\.name: "we ft"/,
      );
      assert.throws(() => renderNftCleanup({ family: 'inet', name: 'x;flush ruleset' }), /table\.name/);
    });
  });

  void it('accepts netmaps of one device and real prefix when their remote prefixes are apart', () => {
    assert.doesNotThrow(() => validateNftDesired(representative()));
  });
});

void describe('renderNftCleanup', () => {
  void it('names our table only, and cannot fail when it is absent', () => {
    assert.equal(renderNftCleanup(), 'table inet weft {}\ndelete table inet weft\n');
  });
});
