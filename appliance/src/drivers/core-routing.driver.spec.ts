import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalize, type Link } from '../desired-state/document.js';
import { StepFailedError } from '../reconciler/module-driver.js';
import { silentLogger } from '../testing/doubles.js';
import {
  CoreRoutingDriver,
  FALLBACK_METRIC,
  type CoreRoute,
  type CoreRouteAction,
  type RoutingPort,
} from './core-routing.driver.js';

class FakeRouting implements RoutingPort {
  readonly tableId = 7373;
  routes: CoreRoute[] = [];
  up = new Set<string>();
  failOn: string | undefined;
  ensureBase(): Promise<void> {
    return Promise.resolve();
  }
  observe(): Promise<CoreRoute[]> {
    return Promise.resolve([...this.routes]);
  }
  plan(desired: CoreRoute[], observed: CoreRoute[]): CoreRouteAction[] {
    const key = (r: CoreRoute) => `${r.destination} ${r.metric}`;
    const have = new Map(observed.map((r) => [key(r), r]));
    const want = new Map(desired.map((r) => [key(r), r]));
    const out: CoreRouteAction[] = [];
    for (const [k, r] of want) {
      const h = have.get(k);
      if (!h) out.push({ op: 'create', route: r });
      else if (JSON.stringify(h) !== JSON.stringify(r)) out.push({ op: 'replace', route: r, previous: h });
    }
    for (const [k, r] of have) if (!want.has(k)) out.push({ op: 'delete', route: r });
    return out;
  }
  apply(actions: CoreRouteAction[]): Promise<void> {
    for (const a of actions) {
      if (a.route.destination === this.failOn) {
        return Promise.reject(
          Object.assign(new Error('RTNETLINK answers: Network is unreachable'), { failed: a }),
        );
      }
      this.routes = this.routes.filter(
        (r) => !(r.destination === a.route.destination && r.metric === a.route.metric),
      );
      if (a.op !== 'delete') this.routes.push(a.route);
    }
    return Promise.resolve();
  }
  interfaceUp(name: string): Promise<boolean> {
    return Promise.resolve(this.up.has(name));
  }
  async *changes(): AsyncIterable<string> {}
  cleanup(): Promise<void> {
    this.routes = [];
    return Promise.resolve();
  }
  close(): void {}
}

const KEY = 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=';
const link: Link = {
  name: 'to-b',
  type: 'wireguard',
  remote_subnets: ['10.2.0.0/24'],
  wireguard: { peer_public_key: KEY },
};

describe('CoreRoutingDriver', () => {
  it('a primary and a backup link to one prefix: both routes at their metrics over the fallback', async () => {
    const routing = new FakeRouting();
    routing.up = new Set(['wg-to-b', 'ovpn-to-b2']);
    const driver = new CoreRoutingDriver(
      routing,
      (l) => (l.type === 'openvpn' ? `ovpn-${l.name}` : `wg-${l.name}`),
      silentLogger(),
    );
    const backup = {
      name: 'to-b2',
      type: 'openvpn',
      remote_subnets: ['10.2.0.0/24'],
      metric: 200,
      openvpn: {},
    } as Link;
    const doc = normalize({ appliance: { name: 'a' }, links: [link, backup] });
    await driver.apply(await driver.plan(doc));
    const shown = (): string[] =>
      routing.routes.map((r) => `${r.destination} ${r.kind} ${r.dev ?? ''} ${r.metric}`).sort();
    assert.deepEqual(shown(), [
      '10.2.0.0/24 unicast ovpn-to-b2 200',
      '10.2.0.0/24 unicast wg-to-b 100',
      `10.2.0.0/24 unreachable  ${FALLBACK_METRIC}`,
    ]);
    // The primary disabled: its route leaves, the backup's carries the prefix.
    const off = normalize({ appliance: { name: 'a' }, links: [{ ...link, enabled: false }, backup] });
    await driver.apply(await driver.plan(off));
    assert.deepEqual(shown(), [
      '10.2.0.0/24 unicast ovpn-to-b2 200',
      `10.2.0.0/24 unreachable  ${FALLBACK_METRIC}`,
    ]);
  });

  it('puts an unreachable fallback under every remote prefix while the link has no interface', async () => {
    const routing = new FakeRouting();
    const driver = new CoreRoutingDriver(routing, () => undefined, silentLogger());
    const doc = normalize({
      appliance: { name: 'a' },
      links: [link],
      routes: [
        { name: 'via-b', destination: '10.20.0.0/16', link: 'to-b' },
        { name: 'lan2', destination: '10.50.0.0/24', gateway: '10.1.0.254', metric: 50 },
      ],
    });
    await driver.apply(await driver.plan(doc));
    assert.deepEqual(
      routing.routes.map((r) => `${r.destination} ${r.kind} ${r.gateway ?? ''} ${r.metric}`).sort(),
      [
        `10.2.0.0/24 unreachable  ${FALLBACK_METRIC}`,
        `10.20.0.0/16 unreachable  ${FALLBACK_METRIC}`,
        '10.50.0.0/24 unicast 10.1.0.254 50',
      ],
    );
    assert.deepEqual(await driver.plan(doc), [], 'a second plan is empty');
  });

  it('routes into the link interface when it is up, keeping the fallback below', async () => {
    const routing = new FakeRouting();
    routing.up.add('wg-to-b');
    const driver = new CoreRoutingDriver(routing, (l) => `wg-${l.name}`, silentLogger());
    const doc = normalize({ appliance: { name: 'a' }, links: [link] });
    await driver.apply(await driver.plan(doc));
    assert.deepEqual(routing.routes.map((r) => `${r.kind} ${r.dev ?? ''} ${r.metric}`).sort(), [
      'unicast wg-to-b 100',
      `unreachable  ${FALLBACK_METRIC}`,
    ]);
    const disabled = normalize({ appliance: { name: 'a' }, links: [{ ...link, enabled: false }] });
    await driver.apply(await driver.plan(disabled));
    assert.deepEqual(
      routing.routes.map((r) => r.kind),
      ['unreachable'],
    );
  });

  it('routes a netmapped link’s mapped remote net, never its real one (it overlaps our own LAN)', async () => {
    const routing = new FakeRouting();
    routing.up.add('wg-to-b');
    const driver = new CoreRoutingDriver(routing, (l) => `wg-${l.name}`, silentLogger());
    const doc = normalize({
      appliance: { name: 'a', local_subnets: ['10.1.0.0/24'] },
      links: [
        {
          ...link,
          remote_subnets: ['10.1.0.0/24'],
          netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
        },
      ],
    });
    await driver.apply(await driver.plan(doc));
    assert.deepEqual(routing.routes.map((r) => `${r.destination} ${r.kind} ${r.dev ?? ''}`).sort(), [
      '10.12.0.0/24 unicast wg-to-b',
      '10.12.0.0/24 unreachable ',
    ]);
  });

  it('names the step that failed', async () => {
    const routing = new FakeRouting();
    routing.failOn = '10.50.0.0/24';
    const driver = new CoreRoutingDriver(routing, () => undefined, silentLogger());
    const doc = normalize({
      appliance: { name: 'a' },
      routes: [{ name: 'x', destination: '10.50.0.0/24', gateway: '10.1.0.254' }],
    });
    const err = await driver.apply(await driver.plan(doc)).catch((e: unknown) => e);
    assert.ok(err instanceof StepFailedError);
    assert.equal(err.step.target, 'route 10.50.0.0/24 via 10.1.0.254 metric 100 table weft');
  });
});
