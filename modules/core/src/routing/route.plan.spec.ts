import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inverseOf, planRoutes, type RouteAction } from './route.plan.js';
import type { OwnedRoute } from './route.types.js';
import { InvalidArgumentError } from '../errors.js';

const viaWg: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unicast', dev: 'wg0', metric: 100 };
const fallback: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unreachable', metric: 4000 };
const v6: OwnedRoute = { destination: '2001:db8:1::/48', kind: 'blackhole', metric: 100 };

/** Applies actions to a list the way the kernel would, to check plans converge. */
function applyTo(observed: OwnedRoute[], actions: RouteAction[]): OwnedRoute[] {
  let out = [...observed];
  const same = (a: OwnedRoute, b: OwnedRoute): boolean =>
    a.destination === b.destination && a.metric === b.metric;
  for (const a of actions) {
    out = out.filter((r) => !same(r, a.route));
    if (a.op !== 'delete') out.push(a.route);
  }
  return out;
}

void describe('planRoutes', () => {
  void it('creates what is missing', () => {
    assert.deepEqual(planRoutes([viaWg, fallback], []), [
      { op: 'create', route: viaWg },
      { op: 'create', route: fallback },
    ]);
  });

  void it('deletes what is not desired', () => {
    assert.deepEqual(planRoutes([], [v6]), [{ op: 'delete', route: v6 }]);
  });

  void it('replaces a route whose destination and metric match but whose content differs', () => {
    const moved = { ...viaWg, dev: 'tun0' };
    assert.deepEqual(planRoutes([moved], [viaWg]), [{ op: 'replace', route: moved, previous: viaWg }]);
    const nowUnreachable: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unreachable', metric: 100 };
    assert.deepEqual(planRoutes([nowUnreachable], [viaWg]), [
      { op: 'replace', route: nowUnreachable, previous: viaWg },
    ]);
  });

  void it('treats the same destination with another metric as another route', () => {
    const better = { ...viaWg, metric: 50 };
    assert.deepEqual(planRoutes([better], [viaWg]), [
      { op: 'create', route: better },
      { op: 'delete', route: viaWg },
    ]);
  });

  void it('is idempotent: the same inputs after applying the plan give nothing to do', () => {
    const desired = [
      viaWg,
      fallback,
      v6,
      { destination: '10.9.0.0/16', kind: 'unicast' as const, gateway: '192.0.2.1', metric: 10 },
    ];
    const observed = [
      { ...viaWg, dev: 'eth0' },
      { destination: '10.8.0.0/16', kind: 'blackhole' as const, metric: 1 },
    ];
    const after = applyTo(observed, planRoutes(desired, observed));
    assert.deepEqual(planRoutes(desired, after), []);
    assert.deepEqual(planRoutes(desired, desired), []);
  });

  void it('orders creations before replacements before deletions (make before break)', () => {
    const plan = planRoutes(
      [
        { ...viaWg, metric: 50 },
        { ...fallback, kind: 'blackhole' },
      ],
      [viaWg, fallback],
    );
    assert.deepEqual(
      plan.map((a) => a.op),
      ['create', 'replace', 'delete'],
    );
  });

  void it('accepts a gateway route without dev whatever dev the kernel chose', () => {
    const desired: OwnedRoute = {
      destination: '10.2.0.0/16',
      kind: 'unicast',
      gateway: '192.0.2.2',
      metric: 100,
    };
    assert.deepEqual(planRoutes([desired], [{ ...desired, dev: 'eth0' }]), []);
    assert.equal(planRoutes([{ ...desired, dev: 'eth1' }], [{ ...desired, dev: 'eth0' }])[0]?.op, 'replace');
  });

  void it('compares canonical forms: IPv6 case, zero runs, and metric 0 stored as 1024', () => {
    const written: OwnedRoute = {
      destination: '2001:DB8:0:1::/64',
      kind: 'unicast',
      gateway: '2001:DB8::1',
      dev: 'wg0',
      metric: 0,
    };
    const read: OwnedRoute = {
      destination: '2001:db8:0:1::/64',
      kind: 'unicast',
      gateway: '2001:db8::1',
      dev: 'wg0',
      metric: 1024,
    };
    assert.deepEqual(planRoutes([written], [read]), []);
  });

  void it('collapses identical desired routes and refuses conflicting ones', () => {
    assert.deepEqual(planRoutes([viaWg, { ...viaWg }], [viaWg]), []);
    assert.throws(() => planRoutes([viaWg, { ...viaWg, dev: 'tun0' }], []), InvalidArgumentError);
  });

  void it('deletes a second observed route with the same destination and metric', () => {
    const plan = planRoutes([viaWg], [viaWg, { ...viaWg, dev: 'eth9' }]);
    assert.deepEqual(plan, [{ op: 'delete', route: { ...viaWg, dev: 'eth9' } }]);
  });

  void it('refuses routes that cannot exist', () => {
    const bad: OwnedRoute[] = [
      { destination: '10.1.0.1/16', kind: 'unicast', dev: 'wg0', metric: 1 },
      { destination: '10.1.0.0/16', kind: 'unicast', metric: 1 },
      { destination: '10.1.0.0/16', kind: 'blackhole', dev: 'wg0', metric: 1 },
      { destination: '10.1.0.0/16', kind: 'unicast', gateway: '2001:db8::1', metric: 1 },
      { destination: '10.1.0.0/16', kind: 'unicast', dev: 'wg0', metric: -1 },
      { destination: '10.1.0.0/16', kind: 'unicast', dev: 'wg0', metric: 1.5 },
    ];
    for (const route of bad)
      assert.throws(() => planRoutes([route], []), InvalidArgumentError, JSON.stringify(route));
  });
});

void describe('inverseOf', () => {
  void it('undoes each kind of action', () => {
    assert.deepEqual(inverseOf({ op: 'create', route: viaWg }), { op: 'delete', route: viaWg });
    assert.deepEqual(inverseOf({ op: 'delete', route: viaWg }), { op: 'create', route: viaWg });
    const moved = { ...viaWg, dev: 'tun0' };
    assert.deepEqual(inverseOf({ op: 'replace', route: moved, previous: viaWg }), {
      op: 'replace',
      route: viaWg,
      previous: moved,
    });
  });
});
