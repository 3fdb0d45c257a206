// The real charon 5.9.8 under the supervisor, in this file's own network namespace (the test runner's
// `unshare --net`) and — because charon's pid file is /run/charon.pid — each charon in a private mount
// namespace with a tmpfs on /run (testing/private-run.sh, given as the launcher: argv only). charon's
// routing table and rule priority are the appliance's, from core's owned.ts.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHARON_RULE_PRIORITY, CHARON_TABLE, NodeProcessRunner } from '@weft/core';
import { systemClock, waitFor } from './charon.clock.js';
import { NodeCharonHost } from './charon.host.js';
import { CharonSupervisor, type CharonEvent } from './charon.supervisor.js';
import { detectDataplane } from './dataplane.detect.js';
import { FAST_RETRANSMIT, type StrongswanConfOptions } from './strongswan-conf.js';
import { PRIVATE_RUN_LAUNCHER } from './testing/private-run.js';

/** The appliance's (7374 at 5400); charon's rule for it goes when charon exits cleanly. */
const ROUTING = { table: CHARON_TABLE.id, priority: CHARON_RULE_PRIORITY };
const LAUNCHER = PRIVATE_RUN_LAUNCHER;

void describe('CharonSupervisor with the real charon (integration)', () => {
  const processes = new NodeProcessRunner();
  const host = new NodeCharonHost();
  const events: CharonEvent[] = [];
  let dir: string;
  let config: StrongswanConfOptions;
  let supervisor: CharonSupervisor;
  const pids: number[] = [];

  const until = async (what: string, condition: () => Promise<boolean> | boolean): Promise<void> =>
    waitFor(systemClock, async () => condition(), {
      timeoutMs: 10_000,
      onTimeout: () => new Error(`${what} did not happen; events: ${JSON.stringify(events)}`),
    });
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  /** How many `ip rule`s point at charon's table. */
  const charonRules = async (): Promise<number> => {
    const { stdout } = await processes.run('ip', ['-4', 'rule', 'show', 'table', String(ROUTING.table)]);
    return stdout.split('\n').filter((l) => l.trim() !== '').length;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-charon-'));
    await processes.run('ip', ['link', 'set', 'lo', 'up']);
    const dataplane = await detectDataplane({ processes, host });
    // This machine's kernel has xfrm but no ESP: the choice must be kernel-libipsec.
    assert.equal(dataplane.kind, 'libipsec', dataplane.reason);
    assert.match(dataplane.reason, /the kernel has no ESP/);
    config = {
      viciSocket: join(dir, 'charon.vici'),
      dataplane: dataplane.kind,
      log: { file: join(dir, 'charon.log') },
      routing: ROUTING,
      retransmit: FAST_RETRANSMIT,
    };
    supervisor = new CharonSupervisor({
      processes,
      host,
      config,
      runtimeDir: join(dir, 'run'),
      launcher: LAUNCHER,
      onEvent: (e) => {
        events.push(e);
        if (e.type === 'started' || e.type === 'restarted') pids.push(e.pid);
      },
      restartBackoff: { initialMs: 100, maxMs: 400 },
      stopTimeoutMs: 3000,
    });
  });

  after(async () => {
    await supervisor.stop().catch(() => undefined);
    // Every charon this file started, by PID: none may outlive it.
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  void it('starts charon with kernel-libipsec; ready when VICI answers; files 0600; charon’s ip rule where we put it', async () => {
    const started = await supervisor.start();
    assert.equal(started.type, 'started');
    assert.equal(supervisor.state, 'running');
    assert.ok(await host.viciAnswers(config.viciSocket, 1000));
    const log = (await host.readText(config.log.file)) ?? '';
    assert.match(log, /created TUN device: ipsec0/);
    assert.match(log, /loaded plugins: charon .* kernel-libipsec kernel-netlink socket-default vici/);
    const { stdout: link } = await processes.run('ip', ['-o', 'link', 'show', 'ipsec0']);
    assert.match(link, /POINTOPOINT/);
    for (const file of [supervisor.confFile, config.log.file, supervisor.pidFile]) {
      assert.equal((await stat(file)).mode & 0o777, 0o600, file);
    }
    // charon's rule is ours to place: table 7374 at 5400, not its default 220 in front of everything.
    const { stdout: rules } = await processes.run('ip', ['rule', 'show']);
    assert.match(rules, new RegExp(`^${ROUTING.priority}:\\s+from all lookup ${ROUTING.table}`, 'm'));
    assert.doesNotMatch(rules, /lookup 220/);
    assert.ok(supervisor.pid !== undefined && (await host.commandOf(supervisor.pid))?.endsWith('/charon'));
  });

  void it('a second supervisor on the same socket adopts the running charon instead of starting one', async () => {
    const second = new CharonSupervisor({
      processes,
      host,
      config,
      runtimeDir: join(dir, 'run'),
      launcher: LAUNCHER,
    });
    const adopted = await second.start();
    assert.deepEqual(adopted, { type: 'adopted', pid: supervisor.pid });
    second.detach();
  });

  void it('kill -9 of charon: reported with the signal, restarted, answering again', async () => {
    const pid = supervisor.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    await until('restart', () => events.some((e) => e.type === 'restarted'));
    const exited = events.find((e) => e.type === 'exited');
    assert.ok(exited?.type === 'exited');
    assert.equal(exited.pid, pid);
    assert.equal(exited.signal, 'SIGKILL');
    assert.ok(exited.lastLines.length > 0);
    const restarted = events.find((e) => e.type === 'restarted');
    assert.ok(restarted?.type === 'restarted');
    assert.notEqual(restarted.pid, pid);
    assert.equal(supervisor.pid, restarted.pid);
    assert.equal(alive(pid), false);
    assert.ok(await host.viciAnswers(config.viciSocket, 1000));
    // SIGKILL left the first one's rule; the new charon put it back without a duplicate.
    assert.equal(await charonRules(), 1);
  });

  void it('stop(): ends charon by PID, leaves no process, socket or pid file, and no restart follows', async () => {
    const pid = supervisor.pid;
    assert.ok(pid);
    await supervisor.stop();
    assert.equal(supervisor.state, 'stopped');
    assert.equal(alive(pid), false);
    assert.equal(await host.exists(config.viciSocket), false);
    assert.equal(await host.exists(supervisor.pidFile), false);
    const log = (await host.readText(config.log.file)) ?? '';
    assert.match(log, /SIGTERM received, shutting down/);
    assert.equal(await charonRules(), 0, 'a clean exit removes charon’s rule');
    // Nothing may start again: watch for twice the longest backoff (400 ms) for a charon that must not come.
    const restarted = await waitFor(systemClock, () => host.exists(config.viciSocket), {
      timeoutMs: 1000,
      onTimeout: () => new Error('none'),
    }).then(
      () => true,
      () => false,
    );
    assert.equal(restarted, false);
    assert.deepEqual(
      events.map((e) => e.type),
      ['started', 'exited', 'restarted', 'stopped'],
    );
  });
});
