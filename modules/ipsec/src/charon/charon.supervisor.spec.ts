import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CharonSupervisor, type CharonEvent, type CharonSupervisorOptions } from './charon.supervisor.js';
import { CharonConflictError, CharonUnavailableError } from './charon.errors.js';
import { renderStrongswanConf, type StrongswanConfOptions } from './strongswan-conf.js';
import { FakeCharonSystem } from './testing/fake-charon.js';
import { FakeClock } from './testing/fake-clock.js';

const RUN = '/run/weft/ipsec';
const CONFIG: StrongswanConfOptions = {
  viciSocket: `${RUN}/charon.vici`,
  dataplane: 'libipsec',
  log: { file: `${RUN}/charon.log` },
  routing: { table: 7374, priority: 5400 },
};
const CONF_FILE = `${RUN}/strongswan.conf`;
const PID_FILE = `${RUN}/charon.pid`;

void describe('CharonSupervisor (fake charon, virtual clock)', () => {
  let sys: FakeCharonSystem;
  let clock: FakeClock;
  let events: CharonEvent[];
  let supervisor: CharonSupervisor;

  const make = (extra: Partial<CharonSupervisorOptions> = {}): CharonSupervisor =>
    new CharonSupervisor({
      processes: sys.runner,
      host: sys.host,
      clock,
      config: CONFIG,
      runtimeDir: RUN,
      onEvent: (e) => events.push(e),
      ...extra,
    });
  const types = (): string[] => events.map((e) => e.type);
  /** Lets the virtual clock run until `count` events of `type` arrived. */
  const until = async (type: CharonEvent['type'], count = 1): Promise<void> => {
    for (let i = 0; i < 2000 && events.filter((e) => e.type === type).length < count; i++) {
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(
      events.filter((e) => e.type === type).length >= count,
      `no ${count}× ${type} in ${types().join()}`,
    );
  };
  const settle = async (turns = 50): Promise<void> => {
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
  };

  beforeEach(() => {
    sys = new FakeCharonSystem(CONFIG.viciSocket);
    clock = new FakeClock();
    events = [];
    supervisor = make();
  });
  afterEach(async () => {
    await supervisor.stop().catch(() => undefined);
    for (const p of sys.alive) p.exit({ code: 0, signal: null });
    clock.dispose();
  });

  void it('writes strongswan.conf 0600, starts charon with STRONGSWAN_CONF, ready when VICI answers', async () => {
    const started = await supervisor.start();
    const [p] = sys.processes;
    assert.ok(p);
    assert.deepEqual(started, { type: 'started', pid: p.pid });
    assert.deepEqual(events, [started]);
    assert.equal(p.file, '/usr/lib/ipsec/charon');
    assert.deepEqual(p.args, []);
    assert.deepEqual(p.env, { STRONGSWAN_CONF: CONF_FILE });
    assert.equal(p.outputPath, CONFIG.log.file);
    assert.deepEqual(sys.files.get(CONF_FILE), { text: renderStrongswanConf(CONFIG), mode: 0o600 });
    assert.equal(sys.files.get(CONFIG.log.file)?.mode, 0o600);
    assert.equal(sys.files.get(PID_FILE)?.text, `${p.pid}\n`);
    assert.ok(sys.dirs.has(RUN));
    assert.equal(supervisor.state, 'running');
    assert.equal(supervisor.pid, p.pid);
  });

  void it('runs charon under the launcher prefix (argv only); finds charon where the distribution put it', async () => {
    sys.installed.clear();
    sys.installed.add('/usr/libexec/strongswan/charon');
    supervisor = make({ launcher: ['unshare', '--mount', '--', 'bash', '/x/private-run.sh'] });
    await supervisor.start();
    const [p] = sys.processes;
    assert.equal(p?.file, 'unshare');
    assert.deepEqual(p?.args, [
      '--mount',
      '--',
      'bash',
      '/x/private-run.sh',
      '/usr/libexec/strongswan/charon',
    ]);
  });

  void it('concurrent start() calls start one charon; start() on a running one changes nothing', async () => {
    const [a, b] = await Promise.all([supervisor.start(), supervisor.start()]);
    assert.deepEqual(a, b);
    await supervisor.start();
    assert.equal(sys.processes.length, 1);
  });

  void it('charon not installed: a clear error naming where it looked, nothing spawned', async () => {
    sys.installed.clear();
    await assert.rejects(supervisor.start(), (err: Error) => {
      assert.ok(err instanceof CharonUnavailableError);
      assert.match(
        err.message,
        /\/usr\/lib\/ipsec\/charon, \/usr\/libexec\/ipsec\/charon.*install strongswan-charon/,
      );
      return true;
    });
    assert.equal(sys.processes.length, 0);
    assert.equal(supervisor.state, 'stopped');
  });

  void it('exits at start: rejects with its code and last log lines, leaves no pid file, no restart', async () => {
    sys.next.push('exit-at-start');
    await assert.rejects(supervisor.start(), (err: Error) => {
      assert.ok(err instanceof CharonUnavailableError);
      assert.match(err.message, /exited at start \(code 66\): .*initialization failed - aborting charon/);
      return true;
    });
    assert.equal(sys.files.has(PID_FILE), false);
    assert.equal(supervisor.state, 'stopped');
    await settle();
    assert.equal(sys.processes.length, 1);
    assert.deepEqual(events, []);
  });

  void it('another charon holds /run/charon.pid: a CharonConflictError that says what to do', async () => {
    sys.next.push('conflict');
    await assert.rejects(supervisor.start(), (err: Error) => {
      assert.ok(err instanceof CharonConflictError);
      assert.match(err.message, /another charon holds \/var\/run\/charon\.pid/);
      assert.match(err.message, /its own \/run \(a private mount namespace\)/);
      return true;
    });
  });

  void it('never answers: times out (virtual 15 s), and the charon it started is ended', async () => {
    sys.next.push('never-ready');
    await assert.rejects(
      supervisor.start(),
      /did not answer on \/run\/weft\/ipsec\/charon\.vici within 15000 ms/,
    );
    const [p] = sys.processes;
    assert.equal(p?.alive, false);
    assert.deepEqual(p?.signals, ['SIGTERM']);
    assert.ok(clock.now() >= 15_000);
  });

  void it('kill -9: reports pid, signal and last log lines, restarts after 1 s, emits restarted', async () => {
    await supervisor.start();
    const [first] = sys.processes;
    assert.ok(first);
    sys.crash(first);
    await until('restarted');
    const exited = events.find((e) => e.type === 'exited');
    assert.deepEqual(exited, {
      type: 'exited',
      pid: first.pid,
      code: null,
      signal: 'SIGKILL',
      adopted: false,
      lastLines: ['00[DMN] Starting IKE charon daemon (strongSwan 5.9.8, Linux, x86_64)', 'received SIGKILL'],
      restartInMs: 1000,
    });
    const second = sys.processes[1];
    assert.deepEqual(events.at(-1), { type: 'restarted', pid: second?.pid, attempt: 1 });
    assert.equal(supervisor.pid, second?.pid);
    assert.equal(sys.files.get(PID_FILE)?.text, `${second?.pid}\n`);
    assert.equal(supervisor.state, 'running');
  });

  void it('backoff doubles per failed restart up to 30 s, then a good start resets it', async () => {
    await supervisor.start();
    sys.next.push(...Array<'exit-at-start'>(6).fill('exit-at-start'));
    sys.crash(sys.processes[0]!);
    await until('restarted');
    const delays = events.flatMap((e) =>
      e.type === 'exited' || e.type === 'restart-failed' ? [e.restartInMs] : [],
    );
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    const failed = events.filter((e) => e.type === 'restart-failed');
    assert.match(failed[0]?.type === 'restart-failed' ? failed[0].error.message : '', /exited at start/);
    assert.deepEqual(events.at(-1), { type: 'restarted', pid: sys.processes[7]?.pid, attempt: 7 });
  });

  void it('a charon that ran for the stable period restarts after 1 s again; a short-lived one after 2 s', async () => {
    await supervisor.start();
    sys.crash(sys.processes[0]!);
    await until('restarted');
    sys.crash(sys.processes[1]!); // right after its restart
    await until('restarted', 2);
    clock.advance(60_000);
    sys.crash(sys.processes[2]!);
    await until('restarted', 3);
    const delays = events.flatMap((e) => (e.type === 'exited' ? [e.restartInMs] : []));
    assert.deepEqual(delays, [1000, 2000, 1000]);
  });

  void it('stop(): SIGTERM by PID, no restart, socket and pid file removed', async () => {
    await supervisor.start();
    sys.files.set(CONFIG.viciSocket, { text: '', mode: 0o770 });
    const [p] = sys.processes;
    await supervisor.stop();
    assert.deepEqual(p?.signals, ['SIGTERM']);
    assert.equal(p?.alive, false);
    assert.equal(sys.files.has(CONFIG.viciSocket), false);
    assert.equal(sys.files.has(PID_FILE), false);
    assert.equal(sys.files.has(CONF_FILE), true);
    await settle();
    assert.equal(sys.processes.length, 1);
    assert.deepEqual(types(), ['started', 'stopped']);
    assert.equal(supervisor.state, 'stopped');
  });

  void it('stop(): SIGKILL when SIGTERM is ignored for stopTimeoutMs', async () => {
    sys.next.push('ignore-sigterm');
    supervisor = make({ stopTimeoutMs: 3000 });
    await supervisor.start();
    await supervisor.stop();
    assert.deepEqual(sys.processes[0]?.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(sys.alive.length, 0);
  });

  void it('stop() while a restart is pending cancels it', async () => {
    await supervisor.start();
    sys.crash(sys.processes[0]!);
    await until('exited');
    await supervisor.stop();
    await settle();
    assert.equal(sys.processes.length, 1);
    assert.equal(clock.pending, 0);
  });

  void it('start() while a restart is launching waits for it: one new charon, not ended as stale', async () => {
    await supervisor.start();
    sys.crash(sys.processes[0]!);
    sys.next.push('never-ready'); // the restarted one answers only when the test says so
    for (let i = 0; i < 2000 && sys.processes.length < 2; i++) await new Promise((r) => setImmediate(r));
    const second = sys.processes[1];
    assert.ok(second, types().join());
    const started = supervisor.start(); // e.g. the reconciler's "start charon" step, seeing it down
    await settle();
    second.answers = true;
    assert.deepEqual(await started, { type: 'started', pid: second.pid });
    assert.deepEqual(types(), ['started', 'exited', 'restarted']);
    assert.deepEqual(second.signals, []);
    assert.equal(sys.processes.length, 2);
    assert.equal(supervisor.pid, second.pid);
  });

  void it('adopts a charon that answers on our socket (PID from our pid file, checked in /proc)', async () => {
    const old = sys.addExternal(CONF_FILE, { answers: true });
    sys.files.set(PID_FILE, { text: `${old.pid}\n`, mode: 0o600 });
    const adopted = await supervisor.start();
    assert.deepEqual(adopted, { type: 'adopted', pid: old.pid });
    assert.equal(sys.processes.length, 1);
    assert.equal(supervisor.state, 'adopted');
    assert.equal(supervisor.pid, old.pid);
    await supervisor.stop();
    assert.deepEqual(old.signals, ['SIGTERM']);
    assert.equal(old.alive, false);
  });

  void it('an adopted charon that stops answering is replaced by our own (after 2 missed probes)', async () => {
    const old = sys.addExternal(CONF_FILE, { answers: true });
    await supervisor.start();
    assert.deepEqual(events, [{ type: 'adopted', pid: undefined }]);
    old.exit({ code: null, signal: 'SIGKILL' });
    await until('restarted');
    assert.deepEqual(
      events.map((e) => (e.type === 'exited' ? { ...e, lastLines: [] } : e)),
      [
        { type: 'adopted', pid: undefined },
        {
          type: 'exited',
          pid: undefined,
          code: null,
          signal: null,
          adopted: true,
          lastLines: [],
          restartInMs: 1000,
        },
        { type: 'restarted', pid: sys.processes[1]?.pid, attempt: 1 },
      ],
    );
    assert.equal(supervisor.state, 'running');
  });

  void it('an adopted charon that hangs (alive, not answering) is ended by PID before ours starts', async () => {
    const old = sys.addExternal(CONF_FILE, { answers: true });
    sys.files.set(PID_FILE, { text: `${old.pid}\n`, mode: 0o600 });
    await supervisor.start();
    old.answers = false;
    await until('restarted');
    assert.deepEqual(types(), ['adopted', 'exited', 'stale-ended', 'restarted']);
    assert.deepEqual(old.signals, ['SIGTERM']);
    assert.equal(old.alive, false);
  });

  void it('a charon of ours from an earlier run that no longer answers is ended before starting', async () => {
    const stale = sys.addExternal(CONF_FILE, { answers: false, ignoreSigterm: true });
    stale.answers = false;
    sys.files.set(PID_FILE, { text: `${stale.pid}\n`, mode: 0o600 });
    await supervisor.start();
    assert.deepEqual(types(), ['stale-ended', 'started']);
    assert.deepEqual(stale.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(sys.alive.length, 1);
  });

  void it('a reused PID in our pid file (another strongswan.conf) is never signalled', async () => {
    const other = sys.addExternal('/run/other/strongswan.conf', { answers: false });
    sys.files.set(PID_FILE, { text: `${other.pid}\n`, mode: 0o600 });
    await supervisor.start();
    assert.deepEqual(types(), ['started']);
    assert.deepEqual(other.signals, []);
  });

  void it('detach(): charon keeps running, nothing signalled, the pid file stays for the next run', async () => {
    await supervisor.start();
    const [p] = sys.processes;
    supervisor.detach();
    assert.equal(p?.detached, true);
    assert.deepEqual(p?.signals, []);
    assert.equal(sys.files.has(PID_FILE), true);
    assert.equal(supervisor.state, 'stopped');
    // The next appliance run adopts it.
    const next = make();
    assert.deepEqual(await next.start(), { type: 'adopted', pid: p?.pid });
    next.detach();
  });

  void it('an invalid config fails at construction, before anything runs', () => {
    assert.throws(
      () => make({ config: { ...CONFIG, viciSocket: '/run/x\n}' } }),
      /viciSocket must be an absolute path/,
    );
  });
});
