import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import {
  presentRoutes,
  type MulticastApplyResult,
  type MulticastDesired,
  type MulticastRouteCounters,
} from '@weft/core';
import { normalize, type ConfigDocument, type Link } from '../desired-state/document.js';
import type { MulticastGroup } from '../desired-state/multicast.js';
import { StepFailedError } from '../reconciler/module-driver.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
import { CoreMulticastDriver, type MulticastPort } from './core-multicast.driver.js';

class FakeRouter implements MulticastPort {
  applied: MulticastDesired[] = [];
  drifts: string[] = [];
  present = ['lan0', 'wg-to-b', 'tun-c'];
  missing: string | undefined;
  fail = false;
  stopped = 0;
  counts: MulticastRouteCounters[] = [];
  unavailable(): Promise<string | undefined> {
    return Promise.resolve(this.missing);
  }
  apply(desired: MulticastDesired): Promise<MulticastApplyResult> {
    if (this.fail) return Promise.reject(new Error('smcroutectl reload failed: connection refused'));
    this.applied.push(desired);
    return Promise.resolve(presentRoutes(desired, this.present));
  }
  drift(): Promise<string[]> {
    return Promise.resolve(this.drifts);
  }
  counters(desired: MulticastDesired): Promise<MulticastRouteCounters[]> {
    return Promise.resolve(
      desired.routes.map(
        (route) =>
          this.counts.find((c) => c.route.group === route.group) ?? {
            route,
            packets: 0,
            bytes: 0,
            wrongInterface: 0,
            flows: [],
          },
      ),
    );
  }
  interfaces(): Promise<string[]> {
    return Promise.resolve(this.present);
  }
  describe(): string {
    return 'fake forwarder';
  }

  stop(): Promise<void> {
    this.stopped++;
    return Promise.resolve();
  }
  cleanup(): Promise<void> {
    return Promise.resolve();
  }
}

const KEY = 'x'.repeat(43) + '=';
const wg = (name: string, extra: Partial<Link> = {}): Link =>
  ({
    name,
    type: 'wireguard',
    remote_subnets: ['10.2.0.0/24'],
    wireguard: { peer_public_key: KEY },
    ...extra,
  }) as Link;
const ovpn = (name: string): Link =>
  ({ name, type: 'openvpn', remote_subnets: ['10.3.0.0/24'], openvpn: {} }) as Link;
const doc = (groups: Partial<MulticastGroup>[], extra: Partial<ConfigDocument> = {}) =>
  normalize({
    appliance: { name: 'site-a', local_subnets: ['10.1.0.0/24'] },
    links: [wg('to-b'), ovpn('to-c')],
    multicast: {
      groups: groups.map((g, i) => ({
        name: `g${i}`,
        group: '239.1.1.1',
        from: 'lan',
        to: ['to-b', 'to-c'],
        ...g,
      })),
    },
    ...extra,
  });

void describe('CoreMulticastDriver', () => {
  let router: FakeRouter;
  let state: MemoryModuleState;
  let driver: CoreMulticastDriver;
  let lan: string | undefined;

  beforeEach(async () => {
    router = new FakeRouter();
    state = new MemoryModuleState();
    lan = 'lan0';
    driver = new CoreMulticastDriver(
      router,
      (link) => (link.type === 'openvpn' ? 'tun-c' : `wg-${link.name}`),
      {
        lanInterface: (subnets) => Promise.resolve(subnets.includes('10.1.0.0/24') ? lan : undefined),
      },
      state,
      silentLogger(),
    );
    await driver.start();
  });

  void it('routes a group from the LAN into both links, and from a link to the LAN', async () => {
    assert.deepEqual(
      await driver.desired(doc([{}, { group: '239.2.2.2', source: '10.2.0.9', from: 'to-b', to: ['lan'] }])),
      {
        routes: [
          { group: '239.1.1.1', inbound: 'lan0', outbound: ['wg-to-b', 'tun-c'] },
          { group: '239.2.2.2', source: '10.2.0.9', inbound: 'wg-to-b', outbound: ['lan0'] },
        ],
      },
    );
  });

  void it('uses multicast.lan_interface when set, and leaves out disabled links', async () => {
    const d = doc([{}]);
    d.multicast = { lan_interface: 'br-lan', groups: d.multicast?.groups ?? [] };
    const c = d.links[1];
    assert.ok(c);
    c.enabled = false;
    assert.deepEqual(await driver.desired(d), {
      routes: [{ group: '239.1.1.1', inbound: 'br-lan', outbound: ['wg-to-b'] }],
    });
  });

  void it('plans nothing without groups, then one step, then nothing until the kernel drifts', async () => {
    assert.deepEqual(await driver.plan(doc([])), []);
    const [step] = await driver.plan(doc([{}]));
    assert.equal(step?.action.op, 'create');
    assert.match(step?.action.summary ?? '', /239\.1\.1\.1 from lan0 to wg-to-b tun-c/);
    await driver.apply(step ? [step] : []);
    assert.equal(router.applied.length, 1);
    assert.deepEqual(await driver.plan(doc([{}])), []);
    router.drifts = ['interface tun-c has no multicast VIF'];
    const [again] = await driver.plan(doc([{}]));
    assert.equal(again?.action.op, 'update');
    assert.match(again?.action.summary ?? '', /^put back \(interface tun-c has no multicast VIF\)/);
  });

  void it('removing every group deletes the routes and forgets them', async () => {
    await driver.apply(await driver.plan(doc([{}])));
    const [step] = await driver.plan(doc([]));
    assert.equal(step?.action.op, 'delete');
    await driver.apply(step ? [step] : []);
    assert.deepEqual(router.applied.at(-1), { routes: [] });
    assert.equal(state.get('routes'), undefined);
    assert.deepEqual(await driver.plan(doc([])), []);
  });

  void it('names the step that failed', async () => {
    router.fail = true;
    await assert.rejects(driver.apply(await driver.plan(doc([{}]))), StepFailedError);
    assert.equal(state.get('routes'), undefined);
  });

  void it('plans nothing when smcroute is missing, and status says why', async () => {
    router.missing = 'smcroute is not installed: apt install smcroute';
    await driver.start();
    assert.deepEqual(await driver.plan(doc([{}])), []);
    const [s] = await driver.multicastStatus(doc([{}]));
    assert.equal(s?.state, 'unavailable');
    assert.equal(s?.detail, 'smcroute is not installed: apt install smcroute');
  });

  void it('refuses links that share the device a group arrives on', () => {
    const d = doc([{ from: 'to-b', to: ['lan', 'hub-2'] }], {
      links: [wg('to-b', { wireguard: { peer_public_key: KEY, interface: 'wg-hub' } }), wg('hub-2')],
    });
    const shared = new CoreMulticastDriver(
      router,
      () => 'wg-hub',
      { lanInterface: () => Promise.resolve('lan0') },
      state,
      silentLogger(),
    );
    assert.deepEqual(
      shared.verify(d).map((p) => p.pointer),
      ['/multicast/groups/0/to/1'],
    );
  });

  void it('gives the LAN’s multicast leaving by a netmap.local link its mapped source', async () => {
    const netmapped = wg('to-b', { netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' } });
    const d = doc([{ from: 'lan', to: ['to-c', 'to-b'] }], { links: [netmapped, ovpn('to-c')] });
    assert.deepEqual(driver.verify(d), []);
    const desired = await driver.desired(d);
    assert.deepEqual(desired.sourceMaps, [{ outbound: 'wg-to-b', from: '10.1.0.0/24', to: '10.11.0.0/24' }]);
    assert.equal((await driver.desired(doc([{ from: 'lan', to: ['to-c'] }]))).sourceMaps, undefined);
  });

  void it('status: counters and senders of a forwarding group, and what a waiting one lacks', async () => {
    router.present = ['lan0', 'wg-to-b'];
    router.counts = [
      {
        route: { group: '239.1.1.1', inbound: 'lan0', outbound: ['wg-to-b', 'tun-c'] },
        packets: 7,
        bytes: 210,
        wrongInterface: 1,
        flows: [
          {
            source: '10.1.0.5',
            group: '239.1.1.1',
            inbound: 'lan0',
            outbound: ['wg-to-b'],
            packets: 4,
            bytes: 120,
            wrongInterface: 0,
          },
          {
            source: '10.1.0.6',
            group: '239.1.1.1',
            inbound: 'lan0',
            outbound: ['wg-to-b'],
            packets: 3,
            bytes: 90,
            wrongInterface: 1,
          },
        ],
      },
    ];
    const status = await driver.multicastStatus(doc([{}, { group: '239.2.2.2', from: 'to-c', to: ['lan'] }]));
    assert.deepEqual(status, [
      {
        name: 'g0',
        group: '239.1.1.1',
        state: 'forwarding',
        detail: 'interface tun-c not there yet',
        packets: 7,
        bytes: 210,
        wrong_interface: 1,
        senders: [
          { source: '10.1.0.5', packets: 4, bytes: 120 },
          { source: '10.1.0.6', packets: 3, bytes: 90 },
        ],
      },
      {
        name: 'g1',
        group: '239.2.2.2',
        state: 'waiting',
        detail: 'interface tun-c not there yet',
        packets: 0,
        bytes: 0,
        wrong_interface: 0,
        senders: [],
      },
    ]);
  });

  void it('status: no LAN interface found, and a group whose links are all disabled', async () => {
    lan = undefined;
    const d = doc([{}, { group: '239.2.2.2', from: 'to-c', to: ['lan'] }]);
    const c = d.links[1];
    assert.ok(c);
    c.enabled = false;
    const [first, second] = await driver.multicastStatus(d);
    assert.equal(first?.state, 'waiting');
    assert.match(first?.detail ?? '', /set multicast\.lan_interface/);
    assert.equal(second?.state, 'disabled');
    assert.equal(second?.detail, 'link "to-c" is disabled');
  });
});
