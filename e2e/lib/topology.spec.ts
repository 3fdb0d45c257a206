import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildSteps,
  MAX_IFNAME,
  mgmtBridgeSteps,
  namespacesOf,
  planTopology,
  rootLinksOf,
} from './topology.js';

describe('planTopology', () => {
  it('derives names and addresses from the run id, the site index and the management net', () => {
    const t = planTopology({ runId: '0a1b', sites: ['a', 'b', 'c'], mgmtNet: 7 });
    assert.equal(t.prefix, 'weft-0a1b-');
    assert.equal(t.inet.netns, 'weft-0a1b-inet');
    assert.equal(t.mgmt.bridge, 'weft-0a1b-br');
    assert.equal(t.mgmt.address, '198.18.7.1');
    const c = t.sites[2];
    assert.ok(c);
    assert.equal(c.gwNetns, 'weft-0a1b-gw-c');
    assert.equal(c.lanNetns, 'weft-0a1b-lan-c');
    assert.equal(c.wan.address, '203.0.113.12');
    assert.equal(c.lan.prefix, '10.3.0.0/24');
    assert.equal(c.lan.gwAddress, '10.3.0.1');
    assert.equal(c.lan.hostAddress, '10.3.0.10');
    assert.equal(c.mgmt.address, '198.18.7.12');
    assert.equal(c.mgmt.rootIfname, 'weft-0a1b-m2');
    assert.equal(c.apiUrl, 'http://198.18.7.12:8080/api/v1');
  });

  it('takes a count, and per-site LAN prefixes (equal ones too, for NAT scenarios)', () => {
    const t = planTopology({
      runId: 'ffff',
      sites: [
        { name: 'hq', lanPrefix: '192.168.1.0/24' },
        { name: 'branch-1', lanPrefix: '192.168.1.0/24' },
      ],
      mgmtNet: 0,
    });
    assert.deepEqual(
      t.sites.map((s) => [s.name, s.lan.gwAddress, s.lan.hostAddress]),
      [
        ['hq', '192.168.1.1', '192.168.1.10'],
        ['branch-1', '192.168.1.1', '192.168.1.10'],
      ],
    );
    assert.deepEqual(
      planTopology({ runId: 'ffff', sites: 3, mgmtNet: 0 }).sites.map((s) => s.name),
      ['a', 'b', 'c'],
    );
  });

  it('keeps every interface name within IFNAMSIZ', () => {
    const t = planTopology({ runId: 'abcd', sites: ['abcdefghijkl', 'b'], mgmtNet: 255 });
    const names = [
      ...rootLinksOf(t),
      ...t.sites.flatMap((s) => [
        s.wan.inetIfname,
        s.wan.ifname,
        s.lan.gwIfname,
        s.lan.hostIfname,
        s.mgmt.ifname,
      ]),
    ];
    for (const name of names) assert.ok(name.length <= MAX_IFNAME, `${name} is longer than ${MAX_IFNAME}`);
  });

  it('rejects what cannot work, saying why', () => {
    const plan =
      (sites: Parameters<typeof planTopology>[0]['sites'], extra = {}) =>
      () =>
        planTopology({ runId: 'abcd', sites, mgmtNet: 0, ...extra });
    assert.throws(plan(['A']), /site name "A"/);
    assert.throws(plan(['a', 'a']), /used twice/);
    assert.throws(plan(['abcdefghijklm']), /at most 12/);
    assert.throws(plan(0), /1\.\.26 sites/);
    assert.throws(
      plan([{ name: 'a', lanPrefix: '10.1.0.1/24' }]),
      /host bits set \(the network is 10\.1\.0\.0\)/,
    );
    assert.throws(plan([{ name: 'a', lanPrefix: '10.1.0.0/29' }]), /too small/);
    assert.throws(
      plan([{ name: 'a', lanPrefix: '203.0.113.0/25' }]),
      /overlaps the lab's 203\.0\.113\.0\/24/,
    );
    assert.throws(plan([{ name: 'a', lanPrefix: '198.18.0.0/16' }]), /overlaps the lab's 198\.18\.0\.0\/24/);
    assert.throws(plan(['a'], { runId: 'xyz' }), /run id/);
    assert.throws(plan(['a'], { mgmtNet: 256 }), /management net/);
  });
});

describe('buildSteps', () => {
  it('creates the namespaces first, touches the root namespace only for the management veths', () => {
    const t = planTopology({ runId: 'abcd', sites: ['a', 'b'], mgmtNet: 3 });
    const steps = buildSteps(t);
    assert.deepEqual(
      steps.slice(0, 5),
      namespacesOf(t).map((ns) => ['ip', 'netns', 'add', ns]),
    );
    for (const step of steps) {
      assert.equal(step[0], 'ip');
      const scoped = step[1] === '-n' || step[1] === 'netns';
      const rootVeth = step.some((arg) => arg.startsWith('weft-abcd-m'));
      assert.ok(scoped || rootVeth, `unscoped step: ${step.join(' ')}`);
    }
    assert.deepEqual(mgmtBridgeSteps(t.mgmt.bridge, 3)[1], [
      'ip',
      'addr',
      'add',
      '198.18.3.1/24',
      'dev',
      'weft-abcd-br',
    ]);
  });
});
