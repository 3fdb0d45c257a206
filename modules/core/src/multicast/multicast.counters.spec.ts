import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapMulticastCounters, parseIpMrCache, parseIpMrVif } from './multicast.counters.js';
import { IP_MR_CACHE, IP_MR_VIF } from './multicast.fixtures.js';
import type { MulticastFlowCounters, MulticastRoute } from './multicast.types.js';

const CACHE_HEADER = 'Group    Origin   Iif     Pkts    Bytes    Wrong Oifs\n';
const VIF_HEADER = 'Interface      BytesIn  PktsIn  BytesOut PktsOut Flags Local    Remote\n';

const vifs = new Map([
  [0, 'rs'],
  [1, 'r1'],
  [2, 'r2'],
]);

/** The two flows of the real capture, as parseIpMrCache should give them. */
const flowSG: MulticastFlowCounters = {
  source: '10.0.0.2',
  group: '239.2.2.2',
  inbound: 'rs',
  outbound: ['r1'],
  packets: 5,
  bytes: 150,
  wrongInterface: 0,
};
const flowStarG: MulticastFlowCounters = {
  source: '10.0.0.2',
  group: '239.1.1.1',
  inbound: 'rs',
  outbound: ['r1', 'r2'],
  packets: 5,
  bytes: 150,
  wrongInterface: 0,
};

void describe('parseIpMrVif', () => {
  void it('maps the VIF indexes of a real table to interface names', () => {
    assert.deepEqual(parseIpMrVif(IP_MR_VIF), vifs);
  });

  void it('is empty for an empty or header-only table', () => {
    assert.deepEqual(parseIpMrVif(''), new Map());
    assert.deepEqual(parseIpMrVif(VIF_HEADER), new Map());
  });
});

void describe('parseIpMrCache', () => {
  void it('reads the two flows of a real little-endian capture', () => {
    assert.deepEqual(parseIpMrCache(IP_MR_CACHE, parseIpMrVif(IP_MR_VIF)), [flowSG, flowStarG]);
    assert.deepEqual(parseIpMrCache(IP_MR_CACHE, vifs, true), [flowSG, flowStarG]);
  });

  void it('reads addresses in network order from a big-endian machine', () => {
    const text = `${CACHE_HEADER}EF010101 0A000002 1          7      210        3  0:1    2:1  \n`;
    assert.deepEqual(parseIpMrCache(text, vifs, false), [
      {
        source: '10.0.0.2',
        group: '239.1.1.1',
        inbound: 'r1',
        outbound: ['rs', 'r2'],
        packets: 7,
        bytes: 210,
        wrongInterface: 3,
      },
    ]);
    // The same hex read as little-endian is another pair of addresses: the flag matters.
    assert.equal(parseIpMrCache(text, vifs, true)[0]?.group, '1.1.1.239');
  });

  void it('gives an unresolved entry no inbound interface', () => {
    const text = `${CACHE_HEADER}030303EF 0900000A -1         0        0        0\n`;
    assert.deepEqual(parseIpMrCache(text, vifs), [
      {
        source: '10.0.0.9',
        group: '239.3.3.3',
        inbound: undefined,
        outbound: [],
        packets: 0,
        bytes: 0,
        wrongInterface: 0,
      },
    ]);
  });

  void it('names an outbound VIF it does not know by its index', () => {
    const text = `${CACHE_HEADER}010101EF 0200000A 0          1       30        0  1:1    7:1  \n`;
    assert.deepEqual(parseIpMrCache(text, vifs)[0]?.outbound, ['r1', 'vif7']);
  });

  void it('is empty for an empty or header-only cache', () => {
    assert.deepEqual(parseIpMrCache('', vifs), []);
    assert.deepEqual(parseIpMrCache(CACHE_HEADER, vifs), []);
  });
});

void describe('mapMulticastCounters', () => {
  /** The routes of the capture's smcroute.conf. */
  const starG: MulticastRoute = { group: '239.1.1.1', inbound: 'rs', outbound: ['r1', 'r2'] };
  const sG: MulticastRoute = { group: '239.2.2.2', source: '10.0.0.2', inbound: 'rs', outbound: ['r1'] };
  const flows = parseIpMrCache(IP_MR_CACHE, parseIpMrVif(IP_MR_VIF));

  void it('credits each flow of the real capture to the route that produced it', () => {
    assert.deepEqual(mapMulticastCounters({ routes: [starG, sG] }, flows), [
      { route: starG, packets: 5, bytes: 150, wrongInterface: 0, flows: [flowStarG] },
      { route: sG, packets: 5, bytes: 150, wrongInterface: 0, flows: [flowSG] },
    ]);
  });

  void it('credits a flow to the most specific route only, whatever the desired order', () => {
    const all: MulticastRoute = { group: '239.0.0.0/8', inbound: 'rs', outbound: ['r2'] };
    assert.deepEqual(mapMulticastCounters({ routes: [all, sG] }, flows), [
      { route: all, packets: 5, bytes: 150, wrongInterface: 0, flows: [flowStarG] },
      { route: sG, packets: 5, bytes: 150, wrongInterface: 0, flows: [flowSG] },
    ]);
    assert.deepEqual(mapMulticastCounters({ routes: [sG, all] }, [flowSG]), [
      { route: sG, packets: 5, bytes: 150, wrongInterface: 0, flows: [flowSG] },
      { route: all, packets: 0, bytes: 0, wrongInterface: 0, flows: [] },
    ]);
    // A longer (*,G) prefix wins over a shorter one.
    const narrower: MulticastRoute = { group: '239.1.0.0/16', inbound: 'rs', outbound: ['r1'] };
    assert.deepEqual(
      mapMulticastCounters({ routes: [all, narrower] }, [flowStarG]).map((c) => c.packets),
      [0, 5],
    );
  });

  void it('sums the flows of a range route', () => {
    const all: MulticastRoute = { group: '239.0.0.0/8', inbound: 'rs', outbound: ['r1'] };
    const wrong = { ...flowStarG, source: '10.0.0.3', packets: 2, bytes: 60, wrongInterface: 4 };
    assert.deepEqual(mapMulticastCounters({ routes: [all] }, [...flows, wrong]), [
      { route: all, packets: 12, bytes: 360, wrongInterface: 4, flows: [flowSG, flowStarG, wrong] },
    ]);
  });

  void it('leaves out flows with another inbound interface, source or group', () => {
    const routes = [starG, sG];
    const others: MulticastFlowCounters[] = [
      { ...flowStarG, inbound: 'r1' },
      { ...flowStarG, inbound: undefined },
      { ...flowSG, source: '10.0.0.3' },
      { ...flowStarG, group: '239.1.1.2' },
    ];
    assert.deepEqual(mapMulticastCounters({ routes }, others), [
      { route: starG, packets: 0, bytes: 0, wrongInterface: 0, flows: [] },
      { route: sG, packets: 0, bytes: 0, wrongInterface: 0, flows: [] },
    ]);
  });

  void it('lists every desired route with zeros when there are no flows, in desired order', () => {
    const third: MulticastRoute = { group: '239.9.0.0/16', inbound: 'lan0', outbound: ['wg-b'] };
    assert.deepEqual(mapMulticastCounters({ routes: [sG, third, starG] }, []), [
      { route: sG, packets: 0, bytes: 0, wrongInterface: 0, flows: [] },
      { route: third, packets: 0, bytes: 0, wrongInterface: 0, flows: [] },
      { route: starG, packets: 0, bytes: 0, wrongInterface: 0, flows: [] },
    ]);
    assert.deepEqual(mapMulticastCounters({ routes: [] }, flows), []);
  });
});
