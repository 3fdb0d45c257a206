// RoutingCore against the real kernel and /proc/sys, inside the namespace tools/test.mjs creates.
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { RouteApplyError, RoutingCore } from './routing.service.js';
import type { OwnedRoute } from './route.types.js';
import { RtNetlinkAdapter } from '../netlink/netlink.adapter.js';
import { NodeFileAdapter } from '../system/file.adapter.js';
import { ProcSysctl } from '../system/sysctl.js';
import { OWNED } from '../owned.js';
import {
  addVeth,
  assertInsideThrowawayNetns,
  deleteLinkIfPresent,
  ip,
  ipJson,
  waitForItem,
} from '../testing/kernel-helpers.js';

const TABLE = String(OWNED.table.id);

interface IpRoute {
  type?: string;
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  metric?: number;
}
interface IpRule {
  priority: number;
  src: string;
  table: string;
  protocol?: string;
}

const showRoutes = async (): Promise<string[]> => {
  const all = [
    ...(await ipJson<IpRoute[]>('-4', 'route', 'show', 'table', TABLE)),
    ...(await ipJson<IpRoute[]>('-6', 'route', 'show', 'table', TABLE)),
  ];
  return all.map((r) =>
    [
      r.type ?? 'unicast',
      r.dst,
      r.gateway && `via ${r.gateway}`,
      r.type ? undefined : r.dev && `dev ${r.dev}`,
      `metric ${r.metric}`,
      `proto ${r.protocol}`,
    ]
      .filter(Boolean)
      .join(' '),
  );
};
const ourRules = async (flag: '-4' | '-6'): Promise<IpRule[]> =>
  (await ipJson<IpRule[]>(flag, 'rule')).filter((r) => r.table === TABLE);
const proc = (key: string): Promise<string> =>
  readFile(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').then((s) => s.trim());

const viaWt0: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unicast', dev: 'wt0', metric: 100 };
const viaGw: OwnedRoute = { destination: '10.2.0.0/16', kind: 'unicast', gateway: '192.0.2.2', metric: 100 };
const fallback: OwnedRoute = { destination: '10.1.0.0/16', kind: 'unreachable', metric: 4000 };
const v6hole: OwnedRoute = { destination: '2001:db8:1::/48', kind: 'blackhole', metric: 100 };
const v6viaWt0: OwnedRoute = { destination: '2001:db8:2::/48', kind: 'unicast', dev: 'wt0', metric: 0 };

// At load time, so that not even a hook runs outside a throw-away namespace.
assertInsideThrowawayNetns();

void describe('RoutingCore (kernel)', () => {
  let nl: RtNetlinkAdapter;
  let core: RoutingCore;

  beforeEach(async () => {
    nl = new RtNetlinkAdapter();
    core = new RoutingCore({ netlink: nl, sysctl: new ProcSysctl(new NodeFileAdapter()) });
    await addVeth('wt0', 'wt0p', { up: true });
    await ip('address', 'add', '192.0.2.1/24', 'dev', 'wt0');
  });
  afterEach(async () => {
    await core.cleanup();
    await nl.close();
    await deleteLinkIfPresent('wt0');
    await deleteLinkIfPresent('wt1');
  });
  after(async () => {
    await writeFile('/proc/sys/net/ipv4/ip_forward', '0\n');
  });

  void it('ensureBase turns forwarding on and leaves exactly one rule per family', async () => {
    await writeFile('/proc/sys/net/ipv4/ip_forward', '0\n');
    await writeFile('/proc/sys/net/ipv6/conf/all/forwarding', '0\n');
    // A leftover from an older priority and a duplicate from another originator.
    await ip('-4', 'rule', 'add', 'from', 'all', 'lookup', TABLE, 'priority', '6000');
    await ip('-6', 'rule', 'add', 'from', 'all', 'lookup', TABLE, 'priority', '5300');

    await core.ensureBase();
    await core.ensureBase();

    assert.equal(await proc('net.ipv4.ip_forward'), '1');
    assert.equal(await proc('net.ipv6.conf.all.forwarding'), '1');
    for (const flag of ['-4', '-6'] as const) {
      const rules = await ourRules(flag);
      assert.equal(rules.length, 1, `${flag}: ${JSON.stringify(rules)}`);
      assert.equal(rules[0]?.priority, 5300);
      assert.equal(rules[0]?.src, 'all');
    }
  });

  void it('ensureBase survives a foreign copy of its rule added after it', async () => {
    await core.ensureBase();
    await ip('-4', 'rule', 'add', 'from', 'all', 'lookup', TABLE, 'priority', '5300');
    await core.ensureBase();
    assert.ok(
      (await ourRules('-4')).some((r) => r.protocol === '87'),
      'our rule is still there',
    );
    await core.ensureBase();
    assert.deepEqual(await ourRules('-4'), [{ priority: 5300, src: 'all', table: TABLE, protocol: '87' }]);
  });

  void it('sync installs routes stamped proto 87 in table 7373, then has nothing left to do', async () => {
    const desired = [viaWt0, viaGw, fallback, v6hole, v6viaWt0];
    const actions = await core.sync(desired);
    assert.equal(actions.length, 5);
    assert.deepEqual((await showRoutes()).sort(), [
      'blackhole 2001:db8:1::/48 metric 100 proto 87',
      'unicast 10.1.0.0/16 dev wt0 metric 100 proto 87',
      'unicast 10.2.0.0/16 via 192.0.2.2 dev wt0 metric 100 proto 87',
      'unicast 2001:db8:2::/48 dev wt0 metric 1024 proto 87',
      'unreachable 10.1.0.0/16 metric 4000 proto 87',
    ]);
    assert.deepEqual(await core.sync(desired), [], 'second sync changes nothing');
  });

  void it('sync replaces a changed route and removes one no longer desired', async () => {
    await addVeth('wt1', 'wt1p', { up: true });
    await core.sync([viaWt0, fallback]);
    const actions = await core.sync([{ ...viaWt0, dev: 'wt1' }]);
    assert.deepEqual(
      actions.map((a) => a.op),
      ['replace', 'delete'],
    );
    assert.deepEqual(await showRoutes(), ['unicast 10.1.0.0/16 dev wt1 metric 100 proto 87']);
    assert.deepEqual(await core.observe(), [{ ...viaWt0, dev: 'wt1' }]);
  });

  void it('a failed step is reported with context and the earlier steps are undone', async () => {
    await core.sync([viaWt0]);
    const unreachableGw: OwnedRoute = {
      destination: '10.9.0.0/16',
      kind: 'unicast',
      gateway: '203.0.113.1',
      metric: 1,
    };
    await assert.rejects(core.sync([{ ...viaWt0, metric: 50 }, v6hole, unreachableGw]), (err: unknown) => {
      assert.ok(err instanceof RouteApplyError);
      assert.equal(err.message, 'add route 10.9.0.0/16 via 203.0.113.1 metric 1 table weft');
      assert.match(String((err.cause as Error).message), /ENETUNREACH/);
      // Creations run in prefix order, so only 10.1.0.0/16 metric 50 was in place to be undone.
      assert.deepEqual(err.undone, [{ op: 'create', route: { ...viaWt0, metric: 50 } }]);
      return true;
    });
    assert.deepEqual(await showRoutes(), ['unicast 10.1.0.0/16 dev wt0 metric 100 proto 87']);
  });

  void it('observe follows the kernel: routes via a deleted link are gone', async () => {
    await addVeth('wt1', 'wt1p', { up: true });
    await core.sync([{ ...viaWt0, dev: 'wt1' }, fallback]);
    const changes = nl.watch()[Symbol.asyncIterator]();
    try {
      await ip('link', 'del', 'wt1');
      await waitForItem(
        changes,
        (c) => c.kind === 'link' && c.action === 'del' && c.link.name === 'wt1',
        'RTM_DELLINK wt1',
      );
    } finally {
      await changes.return?.();
    }
    assert.deepEqual(await core.observe(), [fallback]);
    assert.deepEqual(
      (await core.sync([{ ...viaWt0, dev: 'wt0' }, fallback])).map((a) => a.op),
      ['create'],
    );
  });

  void it('cleanup leaves none of our routes or rules, and only ours', async () => {
    await ip('route', 'add', '10.77.0.0/16', 'dev', 'wt0');
    await core.ensureBase();
    await core.sync([viaWt0, fallback, v6hole, v6viaWt0]);
    await ip('route', 'add', 'prohibit', '10.8.0.0/16', 'table', TABLE); // someone else's, in our table

    assert.deepEqual(await core.cleanup(), { routes: 5, rules: 2 });
    assert.deepEqual(await showRoutes(), []);
    assert.deepEqual(await ourRules('-4'), []);
    assert.deepEqual(await ourRules('-6'), []);
    const main = await ipJson<IpRoute[]>('route', 'show', 'table', 'main');
    assert.ok(
      main.some((r) => r.dst === '10.77.0.0/16'),
      'main table untouched',
    );
  });

  void it('resolveInterface finds a link by name and names a missing one', async () => {
    assert.equal((await core.resolveInterface('wt0')).name, 'wt0');
    await assert.rejects(core.resolveInterface('nosuch0'), {
      kind: 'not-found',
      message: 'no interface named "nosuch0"',
    });
  });
});
