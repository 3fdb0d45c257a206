// Self-test of the lab harness: a two-site lab is wired as e2e/README.md draws it, the appliances are
// reachable over the management net, every site has a private /run, process control works, parallel labs
// do not collide, stale runs are swept, and destroy() leaves nothing behind.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  defaultAppliance,
  defaultLabRoot,
  describeAppliance,
  Lab,
  listNetns,
  listRootLinks,
  run,
  sweepStale,
  waitFor,
} from '../../lib/index.js';

async function leftovers(prefix: string): Promise<string[]> {
  return [...(await listNetns()), ...(await listRootLinks())].filter((n) => n.startsWith(prefix));
}

async function ping(exec: (argv: string[]) => Promise<unknown>, address: string): Promise<void> {
  await exec(['ping', '-n', '-q', '-c', '1', '-W', '5', address]);
}

describe(`lab harness (${describeAppliance(defaultAppliance())})`, { timeout: 180_000 }, () => {
  let lab: Lab | undefined;
  const theLab = (): Lab => {
    assert.ok(lab, 'the lab was not built');
    return lab;
  };

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b'], name: 'lab-self-test' });
  });

  after(async () => {
    await lab?.destroy();
  });

  it('names everything with a run id and picks a management net other than the demo one', () => {
    const l = theLab();
    assert.match(l.id, /^[0-9a-f]{4}$/);
    assert.equal(l.prefix, `weft-${l.id}-`);
    assert.notEqual(l.mgmtNet, 0);
    assert.deepEqual(
      l.sites.map((s) => [s.netns, s.lanNetns, s.lanPrefix, s.wanAddress, s.mgmtAddress]),
      [
        [`weft-${l.id}-gw-a`, `weft-${l.id}-lan-a`, '10.1.0.0/24', '203.0.113.10', `198.18.${l.mgmtNet}.10`],
        [`weft-${l.id}-gw-b`, `weft-${l.id}-lan-b`, '10.2.0.0/24', '203.0.113.11', `198.18.${l.mgmtNet}.11`],
      ],
    );
  });

  it('LAN host a reaches gateway a', async () => {
    const a = theLab().site('a');
    await ping((argv) => a.lanExec(argv), a.lanGateway);
  });

  it('gateway a reaches gateway b and the server address over the fake internet', async () => {
    const l = theLab();
    const a = l.site('a');
    await ping((argv) => a.exec(argv), l.site('b').wanAddress);
    await ping((argv) => a.exec(argv), l.internetServer);
    const { stdout } = await a.exec(['ip', '-4', 'route', 'show', 'default']);
    assert.match(stdout, /default via 203\.0\.113\.1 dev wan0/);
  });

  it('the root namespace reaches both appliances over the management net', async () => {
    for (const site of theLab().sites) {
      const health = await site.api.get('/health', { token: null });
      assert.equal(health.status, 200, `${site.apiUrl}/health`);
      assert.deepEqual(health.body, { status: 'ok' });
      // The admin token from the data dir is accepted, no token is not.
      assert.equal((await site.api.get('/config', { token: null })).status, 401);
      assert.notEqual((await site.api.get('/config')).status, 401);
    }
  });

  it('gives every appliance a private /run and /etc/swanctl', async () => {
    const l = theLab();
    const [a, b] = [l.site('a'), l.site('b')];
    const probe = `weft-e2e-probe-${l.id}`;
    await a.applianceExec(['touch', `/run/${probe}`, `/etc/swanctl/${probe}`]);
    await a.applianceExec(['test', '-e', `/run/${probe}`]);
    const inB = await b.applianceExec(['test', '-e', `/run/${probe}`], { check: false });
    assert.equal(inB.code, 1, 'site b sees the file site a wrote to its /run');
    const swanctlInB = await b.applianceExec(['test', '-e', `/etc/swanctl/${probe}`], { check: false });
    assert.equal(swanctlInB.code, 1, 'site b sees the file site a wrote to its /etc/swanctl');
    assert.ok(existsSync(join(a.dir, 'run', probe)), "site a's /run is <site dir>/run");
    assert.ok(existsSync(join(a.dir, 'etc-swanctl', probe)));
    assert.ok(!existsSync(join('/run', probe)), 'the root mount namespace sees the file');
    assert.ok(!existsSync(join('/etc/swanctl', probe)));
    // applianceExec runs in the appliance's network namespace too.
    const { stdout } = await a.applianceExec(['ip', '-4', '-o', 'addr', 'show', 'dev', 'mgmt0']);
    assert.match(stdout, new RegExp(`inet ${a.mgmtAddress.replace(/\./g, '\\.')}/24`));
  });

  it('stops, kills and restarts an appliance with the same data dir', async () => {
    const a = theLab().site('a');
    const token = await a.adminToken();
    const firstPid = a.pid;
    assert.ok(firstPid);

    const exit = await a.stop();
    assert.equal(a.running, false);
    assert.equal(a.pid, undefined);
    assert.ok(exit);
    await assert.rejects(a.api.get('/health', { token: null, timeoutMs: 2_000 }));

    await a.start();
    assert.notEqual(a.pid, firstPid);
    assert.equal(await a.adminToken(), token, 'a restart keeps the data dir and its token');

    const killed = await a.kill9();
    assert.equal(killed?.signal, 'SIGKILL');
    await a.start();
    assert.equal((await a.api.get('/health', { token: null })).status, 200);
  });

  it('builds a second lab alongside without collisions, and waitFor says what it awaited', async () => {
    const l = theLab();
    const other = await Lab.create({ sites: 1, name: 'lab-self-test-2' });
    try {
      assert.notEqual(other.id, l.id);
      assert.notEqual(other.mgmtNet, l.mgmtNet);
      const [mine, theirs] = [l.site('a'), other.site('a')];
      assert.equal((await theirs.api.get('/health', { token: null })).status, 200);
      assert.equal((await mine.api.get('/health', { token: null })).status, 200);
      // Same site name, same interface names inside, different namespaces and /run.
      assert.notEqual(theirs.netns, mine.netns);
      await assert.rejects(
        waitFor(() => theirs.running === false, {
          what: 'an appliance that keeps running to stop',
          timeoutMs: 200,
        }),
        /timed out after \d+ ms \(\d+ attempts\) waiting for an appliance that keeps running to stop; last observed: false/,
      );
    } finally {
      await other.destroy();
    }
    assert.deepEqual(await leftovers(other.prefix), []);
  });

  it('sweeps the leftovers of a dead run, and never a live one', async () => {
    const l = theLab();
    // A run whose owner died: its owner.pid names a process that has exited.
    const owner = spawn('true');
    await once(owner, 'exit');
    const deadPid = owner.pid;
    let staleId: string | undefined;
    for (const candidate of ['ffff', 'fffe', 'fffd', 'fffc']) {
      const free =
        !existsSync(join(defaultLabRoot, candidate)) && (await leftovers(`weft-${candidate}-`)).length === 0;
      if (free && candidate !== l.id) {
        staleId = candidate;
        break;
      }
    }
    assert.ok(staleId && deadPid);
    const stalePrefix = `weft-${staleId}-`;
    await mkdir(join(defaultLabRoot, staleId), { recursive: true });
    await writeFile(join(defaultLabRoot, staleId, 'owner.pid'), `${deadPid}\n`);
    await run(['ip', 'netns', 'add', `${stalePrefix}gw-a`]);
    await run(['ip', 'link', 'add', `${stalePrefix}m0`, 'type', 'veth', 'peer', 'name', `${stalePrefix}m1`]);
    await run(['ip', 'link', 'add', `${stalePrefix}br`, 'type', 'bridge']);

    const report = await sweepStale();
    assert.ok(report.swept.includes(staleId), JSON.stringify(report));
    assert.deepEqual(await leftovers(stalePrefix), []);
    // Our own lab (live owner) is untouched.
    assert.ok((await listNetns()).includes(l.site('a').netns));
    assert.ok(existsSync(join(l.dir, 'owner.pid')));
  });

  it('destroy() removes every namespace and interface of the run, and is idempotent', async () => {
    const l = theLab();
    const pids = l.sites.map((s) => s.pid);
    await l.destroy();
    assert.deepEqual(await leftovers(l.prefix), []);
    const { stdout } = await run(['ip', '-o', 'link', 'show']);
    assert.ok(!stdout.includes(l.prefix));
    for (const pid of pids) assert.ok(pid && !existsSync(`/proc/${pid}`), `appliance ${pid} still runs`);
    assert.ok(!existsSync(join(l.dir, 'owner.pid')));
    await l.destroy();
  });
});
