import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SMCROUTECTL_SHOW_ROUTES } from './multicast.fixtures.js';
import { presentRoutes, routeFixes } from './multicast.router.js';
import { parseProcNetDev, parseSmcrouteRoutes } from './smcroute.observe.js';

void describe('parseSmcrouteRoutes', () => {
  void it('reads the (*,G) and (S,G) rules of a real listing, not the kernel cache below them', () => {
    assert.deepEqual(parseSmcrouteRoutes(SMCROUTECTL_SHOW_ROUTES), [
      { group: '239.1.1.1', inbound: 'rs', outbound: ['r1', 'r2'] },
      { group: '239.2.2.2', source: '10.0.0.2', inbound: 'rs', outbound: ['r1'] },
    ]);
  });

  void it('keeps group ranges and returns nothing for an empty daemon', () => {
    const text = SMCROUTECTL_SHOW_ROUTES.replace('(*, 239.1.1.1)  ', '(*, 239.1.0.0/16)');
    assert.equal(parseSmcrouteRoutes(text)[0]?.group, '239.1.0.0/16');
    assert.deepEqual(parseSmcrouteRoutes(''), []);
  });
});

void describe('parseProcNetDev', () => {
  void it('lists the interfaces, sorted', () => {
    const text =
      'Inter-|   Receive                            |  Transmit\n' +
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n' +
      '    lo:       0       0    0    0    0     0          0         0        0       0\n' +
      '  wg-b:     300      10    0    0    0     0          0         0        0       0\n' +
      'eth0.100:   0       0    0    0    0     0          0         0        0       0\n';
    assert.deepEqual(parseProcNetDev(text), ['eth0.100', 'lo', 'wg-b']);
  });
});

void describe('presentRoutes', () => {
  const route = { group: '239.1.1.1', inbound: 'lan0', outbound: ['wg-b', 'tun-c'] };

  void it('cuts outbound lists to the interfaces present and says what each route waits for', () => {
    assert.deepEqual(presentRoutes({ routes: [route] }, ['lan0', 'wg-b']), {
      installed: [{ ...route, outbound: ['wg-b'] }],
      waiting: [{ route, missing: ['tun-c'] }],
    });
  });

  void it('installs nothing without the inbound interface or any outbound one', () => {
    assert.deepEqual(presentRoutes({ routes: [route] }, ['wg-b', 'tun-c']).installed, []);
    assert.deepEqual(presentRoutes({ routes: [route] }, ['lan0']), {
      installed: [],
      waiting: [{ route, missing: ['wg-b', 'tun-c'] }],
    });
  });
});

void describe('routeFixes', () => {
  const g1 = { group: '239.1.1.1', inbound: 'lan0', outbound: ['a', 'b'] };
  const g2 = { group: '239.2.2.2', source: '10.1.0.5', inbound: 'lan0', outbound: ['a'] };

  void it('is empty when the daemon holds the routes, whatever the order of the outbound lists', () => {
    assert.deepEqual(routeFixes([{ ...g1, outbound: ['b', 'a'] }, g2], [g2, g1]), []);
  });

  void it('removes extra routes, adds missing ones, and replaces a changed outbound list', () => {
    assert.deepEqual(routeFixes([g1, g2], [{ ...g1, outbound: ['a'] }]), [
      'remove lan0 239.1.1.1',
      'remove lan0 10.1.0.5 239.2.2.2',
      'add lan0 239.1.1.1 a',
    ]);
    assert.deepEqual(routeFixes([], [g2]), ['add lan0 10.1.0.5 239.2.2.2 a']);
  });
});
