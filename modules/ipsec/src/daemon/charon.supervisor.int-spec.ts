// The real charon under the supervisor, in this file's own network namespace and — because charon's pid
// file is /run/charon.pid — a private mount namespace with a tmpfs on /run (testing/fixtures).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { NodeFileAdapter, NodeProcessRunner } from '@weft/core';
import { CharonSupervisor, viciAnswers, type CharonEvent } from './charon.supervisor.js';
import { renderStrongswanConf } from './strongswan-conf.js';

const RUN_SCRIPT = fileURLToPath(
  new URL('../../src/testing/fixtures/charon-private-run.sh', import.meta.url),
);

describe('CharonSupervisor with the real charon (integration)', () => {
  let dir: string;
  let supervisor: CharonSupervisor;
  const events: CharonEvent[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-charon-'));
    await new NodeProcessRunner().run('ip', ['link', 'set', 'lo', 'up']);
    const viciSocket = join(dir, 'charon.vici');
    const logFile = join(dir, 'charon.log');
    supervisor = new CharonSupervisor({
      processes: new NodeProcessRunner(),
      files: new NodeFileAdapter(),
      launcher: ['unshare', '--mount', '--propagation', 'private', '--', 'bash', RUN_SCRIPT],
      confFile: join(dir, 'strongswan.conf'),
      confText: renderStrongswanConf({ viciSocket, dataplane: 'libipsec', logFile }),
      viciSocket,
      logFile,
      onEvent: (e) => events.push(e),
      restartBackoff: { initialMs: 100, maxMs: 400 },
    });
  });
  after(async () => {
    await supervisor.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts charon with kernel-libipsec; ready when VICI answers', async () => {
    await supervisor.start();
    assert.ok(supervisor.isRunning());
    assert.ok(await viciAnswers(join(dir, 'charon.vici')));
    assert.equal(events[0]?.type, 'started');
    const log = await new NodeFileAdapter().readText(join(dir, 'charon.log'));
    assert.match(log, /created TUN device: ipsec0/);
  });

  it('kill -9: reported with the signal, restarted, answering again', async () => {
    const pid = supervisor.pid;
    assert.ok(pid);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && !events.some((e) => e.type === 'restarted'); i++)
      await new Promise((r) => setTimeout(r, 50));
    const exited = events.find((e) => e.type === 'exited');
    assert.equal(exited?.type === 'exited' ? exited.signal : undefined, 'SIGKILL');
    assert.ok(
      events.some((e) => e.type === 'restarted'),
      JSON.stringify(events),
    );
    assert.notEqual(supervisor.pid, pid);
    assert.ok(await viciAnswers(join(dir, 'charon.vici')));
  });

  it('stop ends it by PID, and it is not restarted', async () => {
    const pid = supervisor.pid;
    assert.ok(pid);
    await supervisor.stop();
    assert.equal(supervisor.isRunning(), false);
    assert.throws(() => process.kill(pid, 0), /ESRCH/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(supervisor.isRunning(), false);
  });
});
