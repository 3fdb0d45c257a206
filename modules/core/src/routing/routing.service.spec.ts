import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RouteApplyError, RoutingCore } from './routing.service.js';
import type { OwnedRoute } from './route.types.js';
import { FakeNetlink, MemorySysctl } from '../testing/fake-netlink.js';
import { InterfaceNotFoundError, KernelError } from '../errors.js';
import { OWNED } from '../owned.js';

const TABLE = OWNED.table.id;
const wg0Route: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unicast', dev: 'wg0', metric: 100 };
const fallback: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unreachable', metric: 4000 };
const v6hole: OwnedRoute = { destination: '2001:db8:1::/48', kind: 'blackhole', metric: 100 };

void describe('RoutingCore', () => {
  let nl: FakeNetlink;
  let sysctl: MemorySysctl;
  let core: RoutingCore;

  beforeEach(() => {
    nl = new FakeNetlink();
    nl.addLink('wg0');
    sysctl = new MemorySysctl({ 'net.ipv4.ip_forward': '0', 'net.ipv6.conf.all.forwarding': '0' });
    core = new RoutingCore({ netlink: nl, sysctl });
  });

  void describe('ensureBase', () => {
    void it('turns forwarding on and adds one rule per family, stamped with our protocol', async () => {
      await core.ensureBase();
      assert.equal(sysctl.values.get('net.ipv4.ip_forward'), '1');
      assert.equal(sysctl.values.get('net.ipv6.conf.all.forwarding'), '1');
      assert.deepEqual(
        nl.rules.map((r) => [r.family, r.priority, r.table, r.protocol, r.fromAll]),
        [
          ['inet', 5300, TABLE, 87, true],
          ['inet6', 5300, TABLE, 87, true],
        ],
      );
    });

    void it('changes nothing the second time', async () => {
      await core.ensureBase();
      const calls = nl.calls.length;
      const writes = sysctl.writes.length;
      await core.ensureBase();
      assert.equal(nl.calls.length, calls);
      assert.equal(sysctl.writes.length, writes);
    });

    void it('removes duplicates and rules for our table at another priority', async () => {
      nl.seedRule({ family: 'inet', table: TABLE, priority: 5300 });
      nl.seedRule({ family: 'inet', table: TABLE, priority: 5300 });
      nl.seedRule({ family: 'inet6', table: TABLE, priority: 9000 });
      nl.seedRule({ family: 'inet', table: 254, priority: 32766 });
      await core.ensureBase();
      assert.deepEqual(
        nl.rules.map((r) => [r.family, r.priority, r.table]),
        [
          ['inet', 5300, TABLE],
          ['inet6', 5300, TABLE],
          ['inet', 32766, 254],
        ],
      );
    });

    void it('keeps its own rule when a foreign copy sits after it, and converges on one', async () => {
      await core.ensureBase();
      nl.seedRule({ family: 'inet', table: TABLE, priority: 5300 }); // `ip rule add … lookup 7373 priority 5300`
      const ours = (): number => nl.rules.filter((r) => r.family === 'inet' && r.protocol === 87).length;
      await core.ensureBase();
      assert.equal(ours(), 1);
      await core.ensureBase();
      assert.deepEqual(
        nl.rules.filter((r) => r.family === 'inet').map((r) => [r.priority, r.protocol]),
        [[5300, 87]],
      );
    });

    void it('says which sysctl it could not set', async () => {
      sysctl.values.delete('net.ipv6.conf.all.forwarding');
      await assert.rejects(core.ensureBase(), /enable IPv6 forwarding \(net\.ipv6\.conf\.all\.forwarding\)/);
    });
  });

  void describe('sync', () => {
    void it('installs desired routes with our table and protocol, then does nothing more', async () => {
      const actions = await core.sync([wg0Route, fallback, v6hole]);
      assert.deepEqual(
        actions.map((a) => a.op),
        ['create', 'create', 'create'],
      );
      assert.ok(nl.routes.every((r) => r.table === TABLE && r.protocol === 87));
      assert.deepEqual(await core.sync([wg0Route, fallback, v6hole]), []);
    });

    void it('reads back what it wrote, in OwnedRoute terms', async () => {
      await core.sync([
        wg0Route,
        v6hole,
        { destination: '2001:db8:2::/48', kind: 'unicast', dev: 'wg0', metric: 0 },
      ]);
      assert.deepEqual(await core.observe(), [
        wg0Route,
        v6hole,
        { destination: '2001:db8:2::/48', kind: 'unicast', dev: 'wg0', metric: 1024 },
      ]);
    });

    void it('removes routes no longer desired, and only from our table', async () => {
      nl.routes.push({ ...(await kernelRouteIn(254)), destination: '10.1.0.0/16' });
      await core.sync([wg0Route, fallback]);
      const actions = await core.sync([fallback]);
      assert.deepEqual(actions, [{ op: 'delete', route: wg0Route }]);
      assert.equal(nl.routes.filter((r) => r.table === 254).length, 1);
    });

    void it('wraps a kernel refusal with the step, and undoes the steps already done', async () => {
      nl.failOn((c) => c.op === 'addRoute' && c.route.destination === '2001:db8:1::/48', 'ENETUNREACH');
      await assert.rejects(core.sync([wg0Route, fallback, v6hole]), (err: unknown) => {
        assert.ok(err instanceof RouteApplyError);
        assert.equal(err.message, 'add route blackhole 2001:db8:1::/48 metric 100 table weft');
        assert.ok(err.cause instanceof KernelError);
        assert.equal(err.cause.code, 'ENETUNREACH');
        assert.equal(err.undone.length, 2);
        assert.deepEqual(err.undoFailures, []);
        return true;
      });
      assert.deepEqual(nl.routes, []);
    });

    void it('restores the previous route when a later step fails after a replace', async () => {
      await core.sync([wg0Route]);
      nl.addLink('tun0');
      nl.failOn((c) => c.op === 'addRoute');
      await assert.rejects(core.sync([{ ...wg0Route, dev: 'tun0' }, fallback]), RouteApplyError);
      assert.deepEqual(await core.observe(), [wg0Route]);
    });

    void it('reports an undo that failed too', async () => {
      nl.failOn((c) => c.op === 'addRoute' && c.route.metric === 4000);
      nl.failOn((c) => c.op === 'delRoute');
      await assert.rejects(core.sync([wg0Route, fallback]), (err: unknown) => {
        assert.ok(err instanceof RouteApplyError);
        assert.match(err.message, /undo incomplete: 1 step\(s\) failed/);
        assert.equal(err.undoFailures[0]?.action.op, 'delete');
        return true;
      });
    });

    void it('names a missing interface', async () => {
      await assert.rejects(core.sync([{ ...wg0Route, dev: 'wg9' }]), (err: unknown) => {
        assert.ok(err instanceof RouteApplyError);
        assert.equal(err.message, 'add route 10.1.0.0/16 dev wg9 metric 100 table weft');
        assert.ok(err.cause instanceof InterfaceNotFoundError);
        assert.equal(err.cause.kind, 'not-found');
        return true;
      });
    });

    void it('treats a route that vanished before its delete as deleted', async () => {
      await core.sync([wg0Route]);
      const observed = await core.observe();
      nl.routes.length = 0;
      await core.apply([{ op: 'delete', route: observed[0] ?? wg0Route }]);
    });

    void it('does not interleave two syncs', async () => {
      const [a, b] = await Promise.all([core.sync([wg0Route]), core.sync([wg0Route])]);
      assert.equal(a.length + b.length, 1);
    });
  });

  void describe('cleanup', () => {
    void it('removes every route in our table and every rule pointing at it, nothing else', async () => {
      await core.ensureBase();
      await core.sync([wg0Route, fallback, v6hole]);
      nl.seedRule({ family: 'inet', table: 254, priority: 32766 });
      nl.routes.push(await kernelRouteIn(254));
      const report = await core.cleanup();
      assert.deepEqual(report, { routes: 3, rules: 2 });
      assert.deepEqual(
        nl.routes.map((r) => r.table),
        [254],
      );
      assert.deepEqual(
        nl.rules.map((r) => r.table),
        [254],
      );
      assert.deepEqual(await core.cleanup(), { routes: 0, rules: 0 });
    });

    void it('keeps going past a failure and reports them all', async () => {
      await core.sync([wg0Route, fallback]);
      nl.failOn((c) => c.op === 'delRoute' && c.route.metric === 100, 'EPERM');
      await assert.rejects(core.cleanup(), (err: unknown) => {
        assert.ok(err instanceof AggregateError);
        assert.equal(err.errors.length, 1);
        assert.match(String(err.message), /clean up table weft/);
        return true;
      });
      assert.equal(nl.routes.length, 1);
    });
  });

  void describe('resolveInterface', () => {
    void it('returns the link, or InterfaceNotFoundError', async () => {
      assert.equal((await core.resolveInterface('wg0')).name, 'wg0');
      await assert.rejects(core.resolveInterface('nope'), InterfaceNotFoundError);
    });
  });
});

/** A route someone else put in another table. */
async function kernelRouteIn(table: number): Promise<import('../netlink/netlink.types.js').KernelRoute> {
  return Promise.resolve({
    family: 'inet',
    destination: '0.0.0.0/0',
    type: 'unicast',
    table,
    protocol: 4,
    scope: 0,
    metric: 0,
    ifindex: 2,
    gateway: '192.0.2.1',
    prefsrc: undefined,
    multipath: false,
  });
}
