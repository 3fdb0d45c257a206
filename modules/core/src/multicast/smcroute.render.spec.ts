import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertValidMulticastDesired,
  formatIpv4,
  multicastInterfaces,
  parseIpv4,
  planSmcroute,
  renderSmcrouteConf,
  validateMulticastDesired,
} from './smcroute.render.js';
import type { MulticastDesired, MulticastRoute } from './multicast.types.js';
import { InvalidArgumentError } from '../errors.js';

const starG: MulticastRoute = { group: '239.1.1.1', inbound: 'rs', outbound: ['r2', 'r1'] };
const sG: MulticastRoute = { group: '239.2.2.2', source: '10.0.0.2', inbound: 'rs', outbound: ['r1'] };
const range: MulticastRoute = { group: '239.5.0.0/16', inbound: 'lan0', outbound: ['wg-b'] };

const one = (route: Partial<MulticastRoute>): MulticastDesired => ({
  routes: [{ group: '239.1.1.1', inbound: 'lan0', outbound: ['wg-b'], ...route }],
});

void describe('parseIpv4 / formatIpv4', () => {
  void it('reads dotted quads as unsigned 32-bit numbers', () => {
    assert.equal(parseIpv4('0.0.0.0'), 0);
    assert.equal(parseIpv4('10.0.0.2'), 0x0a000002);
    assert.equal(parseIpv4('239.1.1.1'), 0xef010101);
    assert.equal(parseIpv4('255.255.255.255'), 0xffffffff);
  });

  void it('refuses anything that is not exactly four decimal octets', () => {
    for (const text of [
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.00',
      '256.0.0.1',
      '1.2.3.-1',
      '1.2.3.a',
      '1..3.4',
      '',
      ' 1.2.3.4',
      '1.2.3.4/32',
      '::1',
    ]) {
      assert.equal(parseIpv4(text), undefined, text);
    }
  });

  void it('formats numbers back, round-tripping', () => {
    assert.equal(formatIpv4(0), '0.0.0.0');
    assert.equal(formatIpv4(0xef010101), '239.1.1.1');
    assert.equal(formatIpv4(0xffffffff), '255.255.255.255');
    for (const text of ['10.0.0.2', '224.0.0.251', '192.168.100.7']) {
      assert.equal(formatIpv4(parseIpv4(text) ?? -1), text);
    }
  });
});

void describe('validateMulticastDesired', () => {
  void it('accepts valid (*,G), (S,G) and range routes', () => {
    assert.deepEqual(validateMulticastDesired({ routes: [starG, sG, range] }), []);
    assert.deepEqual(validateMulticastDesired({ routes: [] }), []);
    // 224.0.1.0/24 is just above link-local, and the same group from two inbounds is two routes.
    assert.deepEqual(
      validateMulticastDesired({
        routes: [
          { group: '224.0.1.0/24', inbound: 'eth0.100', outbound: ['wg_b', 'tun-c'] },
          { ...starG, inbound: 'lan0' },
          starG,
        ],
      }),
      [],
    );
  });

  void it('names bad interface names', () => {
    assert.deepEqual(validateMulticastDesired(one({ inbound: '', outbound: ['a/b', 'abcdefghijklmnop'] })), [
      'routes[0].inbound: "" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)',
      'routes[0].outbound[0]: "a/b" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)',
      'routes[0].outbound[1]: "abcdefghijklmnop" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ inbound: 'eth 0' })), [
      'routes[0].inbound: "eth 0" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ inbound: 'abcdefghijklmno' })), []);
  });

  void it('wants at least one outbound interface, not the inbound one, each once', () => {
    assert.deepEqual(validateMulticastDesired(one({ outbound: [] })), [
      'routes[0].outbound: name at least one interface',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ outbound: ['wg-b', 'lan0'] })), [
      'routes[0].outbound[1]: "lan0" is the inbound interface; a group is not sent back',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ outbound: ['wg-b', 'tun-c', 'wg-b'] })), [
      'routes[0].outbound[2]: "wg-b" is named twice',
    ]);
  });

  void it('wants an IPv4 group or group range', () => {
    for (const group of ['ff02::1', '239.1.1', '239.1.1.1/33', '239.1.1.1/', '239.1.1.1/8/8', '']) {
      assert.deepEqual(
        validateMulticastDesired(one({ group })),
        [`routes[0].group: "${group}" is not an IPv4 group or group/length (IPv6 is not supported yet)`],
        group,
      );
    }
  });

  void it('wants the group inside 224.0.0.0/4', () => {
    for (const group of ['10.0.0.1', '240.0.0.1', '223.255.255.255', '224.0.0.0/3', '0.0.0.0/0']) {
      assert.deepEqual(
        validateMulticastDesired(one({ group })),
        [`routes[0].group: "${group}" is not inside the multicast range 224.0.0.0/4`],
        group,
      );
    }
  });

  void it('refuses host bits and suggests the prefix meant', () => {
    assert.deepEqual(validateMulticastDesired(one({ group: '239.1.1.1/16' })), [
      'routes[0].group: "239.1.1.1/16" has host bits set; write 239.1.0.0/16',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ group: '239.255.255.255/8' })), [
      'routes[0].group: "239.255.255.255/8" has host bits set; write 239.0.0.0/8',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ group: '239.1.1.130/25' })), [
      'routes[0].group: "239.1.1.130/25" has host bits set; write 239.1.1.128/25',
    ]);
  });

  void it('refuses link-local groups and ranges covering 224.0.0.0/24', () => {
    for (const group of [
      '224.0.0.5',
      '224.0.0.251',
      '224.0.0.128/25',
      '224.0.0.0/24',
      '224.0.0.0/16',
      '224.0.0.0/4',
    ]) {
      assert.deepEqual(
        validateMulticastDesired(one({ group })),
        [
          `routes[0].group: "${group}" covers 224.0.0.0/24, link-local groups (OSPF, VRRP, mDNS…) that routers never forward: bridge them with the L2 option instead`,
        ],
        group,
      );
    }
  });

  void it('wants a unicast IPv4 source', () => {
    assert.deepEqual(validateMulticastDesired(one({ source: '10.0.0.256' })), [
      'routes[0].source: "10.0.0.256" is not an IPv4 address',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ source: '' })), [
      'routes[0].source: "" is not an IPv4 address',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ source: '0.0.0.0' })), [
      'routes[0].source: leave it out for a (*,G) route instead of 0.0.0.0',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ source: '239.9.9.9' })), [
      'routes[0].source: "239.9.9.9" is not a unicast sender address',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ source: '224.0.0.0' })), [
      'routes[0].source: "224.0.0.0" is not a unicast sender address',
    ]);
    assert.deepEqual(validateMulticastDesired(one({ source: '223.255.255.255' })), []);
  });

  void it('refuses two routes with the same inbound, source and group', () => {
    assert.deepEqual(
      validateMulticastDesired({
        routes: [starG, sG, { ...starG, outbound: ['r3'] }, { ...sG, outbound: ['r2'] }],
      }),
      [
        'routes[2]: same inbound, source and group as routes[0]; merge their outbound lists',
        'routes[3]: same inbound, source and group as routes[1]; merge their outbound lists',
      ],
    );
  });

  void it('lists every problem of every route, in order', () => {
    assert.deepEqual(
      validateMulticastDesired({
        routes: [sG, { group: '10.1.1.1', source: '0.0.0.0', inbound: 'x', outbound: ['x', 'x'] }],
      }),
      [
        'routes[1].outbound[0]: "x" is the inbound interface; a group is not sent back',
        'routes[1].outbound[1]: "x" is the inbound interface; a group is not sent back',
        'routes[1].outbound[1]: "x" is named twice',
        'routes[1].group: "10.1.1.1" is not inside the multicast range 224.0.0.0/4',
        'routes[1].source: leave it out for a (*,G) route instead of 0.0.0.0',
      ],
    );
  });
});

void describe('assertValidMulticastDesired', () => {
  void it('passes a valid desired state', () => {
    assert.doesNotThrow(() => assertValidMulticastDesired({ routes: [starG, sG] }));
  });

  void it('throws InvalidArgumentError listing every problem', () => {
    assert.throws(
      () =>
        assertValidMulticastDesired({
          routes: [
            { ...starG, outbound: [] },
            { ...sG, group: '239.2.2.2/8' },
          ],
        }),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(e.kind, 'invalid-argument');
        assert.equal(
          e.message,
          'invalid multicast routes: routes[0].outbound: name at least one interface; ' +
            'routes[1].group: "239.2.2.2/8" has host bits set; write 239.0.0.0/8',
        );
        return true;
      },
    );
  });
});

void describe('renderSmcrouteConf', () => {
  const expected =
    '# Written by Weft from the desired multicast routes; changes here are overwritten.\n' +
    'phyint lan0 enable\n' +
    'phyint r1 enable\n' +
    'phyint r2 enable\n' +
    'phyint rs enable\n' +
    'phyint wg-b enable\n' +
    'mroute from lan0 group 239.5.0.0/16 to wg-b\n' +
    'mroute from rs group 239.1.1.1 to r1 r2\n' +
    'mroute from rs source 10.0.0.2 group 239.2.2.2 to r1\n';

  void it('writes every phyint, then every mroute, sorted', () => {
    assert.equal(renderSmcrouteConf({ routes: [sG, starG, range] }), expected);
  });

  void it('gives the same bytes for reordered input and leaves the input alone', () => {
    const routes = [range, { ...starG, outbound: ['r1', 'r2'] }, sG];
    assert.equal(renderSmcrouteConf({ routes }), expected);
    assert.equal(renderSmcrouteConf({ routes: [...routes].reverse() }), expected);
    assert.deepEqual(starG.outbound, ['r2', 'r1']);
    renderSmcrouteConf({ routes: [starG] });
    assert.deepEqual(starG.outbound, ['r2', 'r1']);
  });

  void it('writes only the header for no routes', () => {
    assert.equal(
      renderSmcrouteConf({ routes: [] }),
      '# Written by Weft from the desired multicast routes; changes here are overwritten.\n',
    );
  });

  void it('refuses an invalid desired state', () => {
    assert.throws(() => renderSmcrouteConf(one({ group: '224.0.0.5' })), InvalidArgumentError);
  });
});

void describe('multicastInterfaces', () => {
  void it('lists inbound and outbound interfaces once each, sorted', () => {
    assert.deepEqual(multicastInterfaces({ routes: [sG, starG, range] }), ['lan0', 'r1', 'r2', 'rs', 'wg-b']);
    assert.deepEqual(multicastInterfaces({ routes: [] }), []);
  });
});

void describe('planSmcroute', () => {
  const g3: MulticastRoute = { group: '239.3.3.3', inbound: 'rs', outbound: ['r1', 'r2'] };

  void it('does nothing when nothing changes, whatever the order', () => {
    assert.deepEqual(
      planSmcroute({ routes: [starG, sG] }, { routes: [sG, { ...starG, outbound: ['r1', 'r2'] }] }),
      {
        reload: false,
        batch: [],
      },
    );
    assert.deepEqual(planSmcroute({ routes: [] }, { routes: [] }), { reload: false, batch: [] });
  });

  void it('adds a new route on interfaces already there, with its source for (S,G)', () => {
    assert.deepEqual(planSmcroute({ routes: [starG] }, { routes: [starG, sG] }), {
      reload: false,
      batch: ['add rs 10.0.0.2 239.2.2.2 r1'],
    });
    assert.deepEqual(planSmcroute({ routes: [starG] }, { routes: [starG, g3] }), {
      reload: false,
      batch: ['add rs 239.3.3.3 r1 r2'],
    });
  });

  void it('removes a route no longer desired', () => {
    assert.deepEqual(planSmcroute({ routes: [starG, sG] }, { routes: [starG] }), {
      reload: false,
      batch: ['remove rs 10.0.0.2 239.2.2.2'],
    });
    assert.deepEqual(planSmcroute({ routes: [starG, g3] }, { routes: [g3] }), {
      reload: false,
      batch: ['remove rs 239.1.1.1'],
    });
  });

  void it('replaces a route whose outbound list changed: remove, then add', () => {
    assert.deepEqual(
      planSmcroute(
        { routes: [starG, sG] },
        {
          routes: [
            { ...starG, outbound: ['r1'] },
            { ...sG, outbound: ['r2', 'r1'] },
          ],
        },
      ),
      {
        reload: false,
        batch: [
          'remove rs 239.1.1.1',
          'add rs 239.1.1.1 r1',
          'remove rs 10.0.0.2 239.2.2.2',
          'add rs 10.0.0.2 239.2.2.2 r1 r2',
        ],
      },
    );
  });

  void it('puts removals first, then changes and additions', () => {
    assert.deepEqual(
      planSmcroute(
        { routes: [starG, g3] },
        {
          routes: [
            { ...starG, outbound: ['r1'] },
            { ...sG, outbound: ['r2'] },
          ],
        },
      ),
      {
        reload: false,
        batch: [
          'remove rs 239.3.3.3',
          'remove rs 239.1.1.1',
          'add rs 239.1.1.1 r1',
          'add rs 10.0.0.2 239.2.2.2 r2',
        ],
      },
    );
  });

  void it('reloads for a new interface, leaving its new route to the conf but still replacing changed ones', () => {
    const onR3: MulticastRoute = { group: '239.4.4.4', source: '10.0.0.9', inbound: 'rs', outbound: ['r3'] };
    assert.deepEqual(
      planSmcroute({ routes: [starG, sG] }, { routes: [starG, { ...sG, outbound: ['r2'] }, onR3] }),
      {
        reload: true,
        batch: ['remove rs 10.0.0.2 239.2.2.2', 'add rs 10.0.0.2 239.2.2.2 r2'],
      },
    );
    // A route gaining the new interface keeps its old outbound list on reload: it is replaced too.
    assert.deepEqual(planSmcroute({ routes: [sG] }, { routes: [{ ...sG, outbound: ['r1', 'r3'] }] }), {
      reload: true,
      batch: ['remove rs 10.0.0.2 239.2.2.2', 'add rs 10.0.0.2 239.2.2.2 r1 r3'],
    });
  });

  void it('takes 239.1.1.1/32 for 239.1.1.1, as smcroutectl shows it, so no change is planned', () => {
    assert.deepEqual(planSmcroute({ routes: [starG] }, { routes: [{ ...starG, group: '239.1.1.1/32' }] }), {
      reload: false,
      batch: [],
    });
    const problems = validateMulticastDesired({ routes: [starG, { ...starG, group: '239.1.1.1/32' }] });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /^routes\[1\]: same inbound, source and group as routes\[0\]/);
  });

  void it('reloads when an interface is no longer used, and still removes its route', () => {
    assert.deepEqual(planSmcroute({ routes: [starG, range] }, { routes: [starG] }), {
      reload: true,
      batch: ['remove lan0 239.5.0.0/16'],
    });
  });
});
