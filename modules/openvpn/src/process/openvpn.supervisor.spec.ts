import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openvpnFiles } from '../config/openvpn.config.js';
import type { OpenvpnHubServerSpec, OpenvpnP2pSpec } from '../config/openvpn.config.types.js';
import { openvpnLayout } from '../config/openvpn.layout.js';
import { CA_1, CA_1_SHA256, CA_2, CA_3, CA_3_SHA256 } from '../config/spoke-ca.fixtures.js';
import { generateTlsCryptKey } from '../config/tls-crypt.key.js';
import { FakeClock } from '../testing/fake-clock.js';
import { FakeOpenvpnSystem } from '../testing/fake-openvpn.js';
import { detectDco } from './dco.detect.js';
import { OpenvpnUnavailableError } from './openvpn.errors.js';
import {
  exitReason,
  OpenvpnSupervisor,
  type OpenvpnEvent,
  type OpenvpnSupervisorOptions,
} from './openvpn.supervisor.js';

const pem = (label: string): string => `-----BEGIN ${label}-----\nQUJD\n-----END ${label}-----\n`;
const SPEC: OpenvpnP2pSpec = {
  kind: 'p2p',
  name: 'link-1',
  device: 'ovpn1',
  role: 'connect',
  credentials: { caPem: pem('CERTIFICATE'), certPem: pem('CERTIFICATE'), keyPem: pem('PRIVATE KEY') },
  tlsCrypt: { kind: 'v1', key: generateTlsCryptKey((n) => new Uint8Array(n).fill(7)) },
  dco: false,
  remote: { host: '192.0.2.1', port: 1194 },
  tunnel: { local: '10.99.0.2', remote: '10.99.0.1' },
  peerCommonName: 'site-a',
};
const LAYOUT = openvpnLayout({ runtimeDir: '/run/weft/openvpn', name: SPEC.name });
const AUTH_FAILED = [
  '2026-12-03 14:50:01 AUTH: Received control message: AUTH_FAILED,Data channel cipher negotiation failed (no shared cipher)',
  '2026-12-03 14:50:01 SIGTERM[soft,auth-failure] received, process exiting',
];

void describe('OpenvpnSupervisor (fake openvpn, virtual clock)', () => {
  let sys: FakeOpenvpnSystem;
  let clock: FakeClock;
  let events: OpenvpnEvent[];
  let supervisor: OpenvpnSupervisor;

  const make = (extra: Partial<OpenvpnSupervisorOptions> = {}): OpenvpnSupervisor =>
    new OpenvpnSupervisor({
      processes: sys.runner,
      host: sys.host,
      clock,
      spec: SPEC,
      layout: LAYOUT,
      connectManagement: sys.connect,
      onEvent: (e) => events.push(e),
      // The virtual clock fires every timer at once: periodic log checks only where a test wants them.
      logCheckMs: 0,
      ...extra,
    });
  const types = (): string[] => events.filter((e) => e.type !== 'state').map((e) => e.type);
  const until = async (type: OpenvpnEvent['type'], count = 1): Promise<void> => {
    for (let i = 0; i < 3000 && events.filter((e) => e.type === type).length < count; i++) {
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
    sys = new FakeOpenvpnSystem();
    clock = new FakeClock();
    events = [];
    supervisor = make();
  });
  afterEach(async () => {
    await supervisor.stop().catch(() => undefined);
    for (const p of sys.alive) p.exit({ code: 0, signal: null });
    clock.dispose();
  });

  void it('writes every file 0600 in a 0700 dir, runs openvpn --config in the foreground, ready when management answers', async () => {
    const started = await supervisor.start();
    const [p] = sys.processes;
    assert.ok(p);
    assert.deepEqual(started, { type: 'started', pid: p.pid });
    assert.equal(p.file, '/usr/sbin/openvpn');
    assert.deepEqual(p.args, ['--config', LAYOUT.config]);
    assert.ok(!p.args.includes('--daemon'));
    assert.equal(p.outputPath, LAYOUT.log);
    for (const f of openvpnFiles(SPEC, LAYOUT))
      assert.deepEqual(sys.files.get(f.path), { text: f.text, mode: 0o600 });
    assert.equal(sys.files.get(LAYOUT.log)?.mode, 0o600);
    assert.equal(sys.files.get(LAYOUT.pidFile)?.text, `${p.pid}\n`);
    assert.equal(sys.dirs.get(LAYOUT.dir), 0o700);
    assert.equal(supervisor.state, 'running');
    assert.equal(supervisor.pid, p.pid);
    // The secret never reaches argv.
    assert.ok(!p.args.some((a) => a.includes('BEGIN')));
    assert.deepEqual(sys.commands, ['state on all']);
    assert.equal(supervisor.tunnelState?.name, 'CONNECTED');
  });

  void it('keeps the output file under logMaxBytes: over it, moved to <log>.1 at the next check and before a start', async () => {
    supervisor = make({ logMaxBytes: 1000, logCheckMs: 10_000 });
    const { pid } = (await supervisor.start()) as { pid: number };
    const p = sys.processes.find((x) => x.pid === pid);
    assert.ok(p);
    const flood = '2026-12-03 14:50:01 tls-crypt unwrapping failed from [AF_INET]203.0.113.9:40000';
    for (let i = 0; i < 12; i++) sys.log(p, flood);
    const before = sys.files.get(LAYOUT.log)?.text ?? '';
    assert.ok(before.length > 1000);
    const t0 = clock.now();
    await until('log-rotated');
    assert.ok(clock.now() - t0 >= 10_000, 'at the periodic check, not before');
    assert.deepEqual(events.at(-1), { type: 'log-rotated', path: LAYOUT.log });
    assert.deepEqual(sys.files.get(`${LAYOUT.log}.1`), { text: before, mode: 0o600 });
    assert.equal(sys.files.get(LAYOUT.log)?.text, '');
    // Under the cap, later checks leave it alone.
    sys.log(p, flood);
    await settle(200);
    assert.equal(events.filter((e) => e.type === 'log-rotated').length, 1);
    assert.match(sys.files.get(LAYOUT.log)?.text ?? '', /unwrapping failed/);
    await supervisor.stop();
    for (let i = 0; i < 12; i++) sys.files.get(LAYOUT.log)!.text += `${flood}\n`;
    await settle(500);
    assert.equal(events.filter((e) => e.type === 'log-rotated').length, 1, 'no check after stop()');
    assert.ok((sys.files.get(LAYOUT.log)?.text.length ?? 0) > 1000);
    // A restart after a flood starts from a small file.
    supervisor = make({ logMaxBytes: 1000 });
    await supervisor.start();
    assert.equal(events.filter((e) => e.type === 'log-rotated').length, 1, 'rotated without an event');
    assert.ok((sys.files.get(LAYOUT.log)?.text.length ?? 0) < 1000);
  });

  void it('exposes state and status over the management connection; fans out >STATE: and >BYTECOUNT:', async () => {
    supervisor = make({ byteCountIntervalSeconds: 1 });
    const { pid } = (await supervisor.start()) as { pid: number };
    assert.deepEqual(sys.commands, ['state on all', 'bytecount 1']);
    assert.equal((await supervisor.currentState()).name, 'CONNECTED');
    const status = await supervisor.status();
    assert.equal(status.mode, 'p2p');
    assert.equal(status.mode === 'p2p' ? status.tunReadBytes : undefined, 96);
    const link = sys.connections.at(-1);
    link?.notify('>STATE:1795345300,RECONNECTING,ping-restart,,,,,', '>BYTECOUNT:2111,2110');
    await until('bytecount');
    const state = events.find((e) => e.type === 'state');
    assert.ok(state?.type === 'state');
    assert.equal(state.pid, pid);
    assert.equal(state.state.name, 'RECONNECTING');
    assert.equal(state.state.description, 'ping-restart');
    assert.equal(supervisor.tunnelState?.name, 'RECONNECTING');
    assert.deepEqual(events.at(-1), { type: 'bytecount', pid, count: { bytesIn: 2111, bytesOut: 2110 } });
  });

  void it('a launcher prefix runs openvpn in another namespace (argv only); openvpn found via PATH', async () => {
    sys.installed.clear();
    sys.installed.add('/usr/bin/openvpn');
    supervisor = make({ launcher: ['nsenter', '-t', '4242', '-n', '--'] });
    // findExecutable('openvpn') misses (the fake knows absolute paths only), OPENVPN_PATHS finds it.
    await supervisor.start();
    const [p] = sys.processes;
    assert.equal(p?.file, 'nsenter');
    assert.deepEqual(p?.args, ['-t', '4242', '-n', '--', '/usr/bin/openvpn', '--config', LAYOUT.config]);
  });

  void it('openvpn not installed: a clear error, nothing spawned or scheduled', async () => {
    sys.installed.clear();
    await assert.rejects(supervisor.start(), /openvpn is not installed .* install the openvpn package/);
    assert.equal(sys.processes.length, 0);
    assert.equal(supervisor.state, 'stopped');
    assert.equal(clock.pending, 0);
  });

  void it('exits at start (options error): rejects with its code and log lines, no pid file, no restart', async () => {
    sys.next.push('options-error');
    await assert.rejects(supervisor.start(), (err: Error) => {
      assert.ok(err instanceof OpenvpnUnavailableError);
      assert.match(err.message, /exited at start \(code 1\): .*Options error: Unrecognized option/);
      return true;
    });
    assert.equal(sys.files.has(LAYOUT.pidFile), false);
    assert.equal(supervisor.state, 'stopped');
    await settle();
    assert.equal(sys.processes.length, 1);
  });

  void it('management never answers: times out, ends that openvpn, names the socket and log', async () => {
    sys.next.push('never-ready');
    supervisor = make({ startTimeoutMs: 3000 });
    await assert.rejects(
      supervisor.start(),
      /did not answer on \/run\/weft\/openvpn\/link-1\/management.sock within 3000 ms: see .*openvpn.log/,
    );
    assert.equal(sys.alive.length, 0);
    assert.ok(sys.connectAttempts >= 3000 / 50);
  });

  void it('concurrent start() calls start one openvpn', async () => {
    const [a, b] = await Promise.all([supervisor.start(), supervisor.start()]);
    assert.deepEqual(a, b);
    await supervisor.start();
    assert.equal(sys.processes.length, 1);
  });

  void it('kill -9: exited (signal, last lines) → restarted after 1 s with a fresh management connection', async () => {
    await supervisor.start();
    const first = sys.processes[0]!;
    sys.crash(first);
    await until('restarted');
    const exited = events.find((e) => e.type === 'exited');
    assert.ok(exited?.type === 'exited');
    assert.equal(exited.pid, first.pid);
    assert.equal(exited.signal, 'SIGKILL');
    assert.equal(exited.reason, 'signal');
    assert.equal(exited.restartInMs, 1000);
    assert.match(exited.lastLines[0] ?? '', /OpenVPN 2.6.14/);
    const second = sys.processes[1]!;
    assert.deepEqual(
      events.at(-1)?.type === 'restarted' ? events.at(-1) : events.find((e) => e.type === 'restarted'),
      {
        type: 'restarted',
        pid: second.pid,
        attempt: 1,
      },
    );
    assert.equal(supervisor.pid, second.pid);
    assert.equal(sys.files.get(LAYOUT.pidFile)?.text, `${second.pid}\n`);
    assert.equal(sys.connections.length, 2);
    assert.equal((await supervisor.currentState()).name, 'CONNECTED');
  });

  void it('a client refused with AUTH_FAILED exits by itself: reported as auth-failed and restarted', async () => {
    await supervisor.start();
    sys.processes[0]!.exit({ code: 0, signal: null }, ...AUTH_FAILED);
    await until('restarted');
    const exited = events.find((e) => e.type === 'exited');
    assert.ok(exited?.type === 'exited');
    assert.equal(exited.reason, 'auth-failed');
    assert.equal(exited.code, 0);
    assert.ok(exited.lastLines.some((l) => l.includes('AUTH_FAILED,Data channel cipher negotiation failed')));
  });

  void it('backoff 1, 2, 4 … 30 s while restarts fail; reset after a stable run', async () => {
    await supervisor.start();
    sys.next.push(...Array<'options-error'>(6).fill('options-error'));
    sys.crash(sys.processes[0]!);
    await until('restarted');
    assert.deepEqual(clock.scheduled, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
    const failed = events.filter((e) => e.type === 'restart-failed');
    assert.equal(failed.length, 6);
    assert.match(failed[0]?.type === 'restart-failed' ? failed[0].error.message : '', /exited at start/);
    // A crash right after: the backoff goes on …
    sys.crash(
      supervisor.pid !== undefined ? sys.processes.find((p) => p.pid === supervisor.pid)! : sys.processes[0]!,
    );
    await until('restarted', 2);
    assert.equal(clock.scheduled.at(-1), 30000);
    // … but one that ran past the stable period starts over at 1 s.
    clock.advance(60_000);
    sys.crash(sys.processes.find((p) => p.pid === supervisor.pid)!);
    await until('restarted', 3);
    assert.equal(clock.scheduled.at(-1), 1000);
  });

  void it('stop(): SIGTERM, no restart, pid file and socket removed, stopped emitted', async () => {
    await supervisor.start();
    const p = sys.processes[0]!;
    await supervisor.stop();
    assert.deepEqual(p.signals, ['SIGTERM']);
    assert.equal(p.alive, false);
    await settle();
    assert.equal(sys.processes.length, 1);
    assert.deepEqual(types(), ['started', 'stopped']);
    assert.equal(sys.files.has(LAYOUT.pidFile), false);
    assert.equal(supervisor.state, 'stopped');
    assert.equal(supervisor.management, undefined);
    await assert.rejects(supervisor.status(), /is not running/);
  });

  void it('stop() of one that ignores SIGTERM: SIGKILL after the grace period', async () => {
    sys.next.push('ignore-sigterm');
    supervisor = make({ stopTimeoutMs: 2000 });
    await supervisor.start();
    const p = sys.processes[0]!;
    await supervisor.stop();
    assert.deepEqual(p.signals, ['SIGTERM', 'SIGKILL']);
    assert.equal(p.alive, false);
  });

  void it('stop() during the backoff cancels the restart', async () => {
    await supervisor.start();
    sys.crash(sys.processes[0]!);
    await until('exited');
    await supervisor.stop();
    await settle(200);
    assert.equal(sys.processes.length, 1);
    assert.equal(clock.pending, 0);
    assert.deepEqual(types(), ['started', 'exited', 'stopped']);
  });

  void it('an openvpn of ours from an earlier run (our --config in its argv) is ended first', async () => {
    const stale = sys.addExternal(['--config', LAYOUT.config]);
    sys.files.set(LAYOUT.pidFile, { text: `${stale.pid}\n`, mode: 0o600 });
    await supervisor.start();
    assert.deepEqual(types(), ['stale-ended', 'started']);
    assert.deepEqual(stale.signals, ['SIGTERM']);
  });

  void it('a reused PID (another config, another program) is left alone', async () => {
    const other = sys.addExternal(['--config', '/etc/openvpn/other.conf']);
    sys.files.set(LAYOUT.pidFile, { text: `${other.pid}\n`, mode: 0o600 });
    await supervisor.start();
    assert.deepEqual(types(), ['started']);
    assert.deepEqual(other.signals, []);
  });

  void it('hub: ccd entries written per spoke, a removed spoke’s entry deleted (ccd-exclusive grants access)', async () => {
    const hub: OpenvpnHubServerSpec = {
      kind: 'hub-server',
      name: 'hub',
      device: 'ovpn-hub',
      credentials: SPEC.credentials,
      tlsCrypt: SPEC.tlsCrypt,
      dco: false,
      local: { port: 1194 },
      tunnel: { subnet: '10.200.0.0/24', serverAddress: '10.200.0.1' },
      spokes: [{ commonName: 'spoke-1', tunnelAddress: '10.200.0.11', subnets: ['10.1.0.0/16'] }],
    };
    const layout = openvpnLayout({ runtimeDir: '/run/weft/openvpn', name: 'hub' });
    sys.files.set(`${layout.ccdDir}/spoke-gone`, {
      text: 'ifconfig-push 10.200.0.9 255.255.255.0\n',
      mode: 0o600,
    });
    supervisor = make({ spec: hub, layout });
    await supervisor.start();
    assert.equal(sys.dirs.get(layout.ccdDir), 0o700);
    assert.match(
      sys.files.get(`${layout.ccdDir}/spoke-1`)?.text ?? '',
      /ifconfig-push 10.200.0.11 255.255.255.0/,
    );
    assert.equal(sys.files.has(`${layout.ccdDir}/spoke-gone`), false);
  });

  void it('hub with caPath: applySpokes writes/removes ccd entries, rehashes the CAs, kills removed CNs, no restart', async () => {
    const hub: OpenvpnHubServerSpec = {
      kind: 'hub-server',
      name: 'hub',
      device: 'ovpn-hub',
      credentials: SPEC.credentials,
      tlsCrypt: SPEC.tlsCrypt,
      dco: false,
      caPath: true,
      local: { port: 1194 },
      tunnel: { subnet: '10.200.0.0/24', serverAddress: '10.200.0.1' },
      spokes: [
        { commonName: 'spoke-1', tunnelAddress: '10.200.0.11', subnets: ['10.1.0.0/16'] },
        { commonName: 'spoke-2', tunnelAddress: '10.200.0.12', subnets: ['10.2.0.0/16'] },
      ],
    };
    const layout = openvpnLayout({ runtimeDir: '/run/weft/openvpn', name: 'hub' });
    supervisor = make({ spec: hub, layout, launcher: ['nsenter', '-t', '42', '-n', '--'] });
    await supervisor.start();
    let pid = supervisor.pid;
    const caFiles = (): string[] => [...sys.files.keys()].filter((p) => p.startsWith(`${layout.caDir}/`));
    assert.equal(caFiles().length, 1);
    assert.deepEqual(sys.ran, [['openssl', 'rehash', layout.caDir]]);
    assert.match(sys.files.get(layout.config)?.text ?? '', /^capath \/run\/weft\/openvpn\/hub\/ca\.d$/m);

    const ca3 = pem('CERTIFICATE').replace('QUJD', 'Q0Ez');
    const next: OpenvpnHubServerSpec = {
      ...hub,
      credentials: { ...hub.credentials, caPem: `${hub.credentials.caPem}${ca3}` },
      spokes: [
        hub.spokes[0]!,
        { commonName: 'spoke-3', tunnelAddress: '10.200.0.13', subnets: ['10.3.0.0/16'] },
      ],
    };
    sys.replies.set('kill spoke-2', ["SUCCESS: common name 'spoke-2' found, 1 client(s) killed"]);
    sys.ran.length = 0;
    const change = await supervisor.applySpokes(next);
    assert.deepEqual(
      [change.added.map((s) => s.commonName), change.removed.map((s) => s.commonName), change.caChanged],
      [['spoke-3'], ['spoke-2'], true],
    );
    assert.equal(supervisor.pid, pid, 'the same openvpn');
    assert.equal(sys.alive.length, 1);
    assert.match(sys.files.get(`${layout.ccdDir}/spoke-3`)?.text ?? '', /ifconfig-push 10.200.0.13 /);
    assert.equal(sys.files.get(`${layout.ccdDir}/spoke-3`)?.mode, 0o600);
    assert.equal(sys.files.has(`${layout.ccdDir}/spoke-2`), false);
    assert.equal(caFiles().length, 2);
    assert.deepEqual(sys.ran, [
      ['openssl', 'rehash', layout.caDir],
      [
        'nsenter',
        '-t',
        '42',
        '-n',
        '--',
        'ip',
        'route',
        'replace',
        '10.3.0.0/16',
        'via',
        '10.200.0.1',
        'dev',
        'ovpn-hub',
      ],
      [
        'nsenter',
        '-t',
        '42',
        '-n',
        '--',
        'ip',
        'route',
        'del',
        '10.2.0.0/16',
        'via',
        '10.200.0.1',
        'dev',
        'ovpn-hub',
      ],
    ]);
    assert.ok(sys.commands.includes('kill spoke-2'));
    assert.match(sys.files.get(layout.config)?.text ?? '', /^route 10\.3\.0\.0 255\.255\.0\.0$/m);
    assert.equal(supervisor.currentSpec, next);

    // The management connection gone mid-change: undone, the running spec and the files unchanged.
    sys.connections.at(-1)?.drop();
    await assert.rejects(supervisor.applySpokes({ ...next, spokes: [hub.spokes[0]!] }), /apply spokes/);
    assert.equal(supervisor.currentSpec, next);
    assert.ok(sys.files.has(`${layout.ccdDir}/spoke-3`), 'spoke 3 not killed, so its entry is back');
    sys.replies.clear();
    await supervisor.stop();
    await supervisor.start();
    pid = supervisor.pid;

    // Removing a spoke that is not connected: openvpn says `ERROR: common name … not found`; fine.
    await supervisor.applySpokes({ ...next, spokes: [hub.spokes[0]!] });
    assert.ok(sys.commands.includes('kill spoke-3'));
    await assert.rejects(
      supervisor.applySpokes({ ...next, local: { port: 1195 } }),
      /more than the spokes changed/,
    );
    assert.equal(supervisor.pid, pid);
  });

  void it('hub with bound spokes: the tls-verify script 0700 and its list 0600; a new CA for a spoke rewrites the list before its kill', async () => {
    const hub: OpenvpnHubServerSpec = {
      kind: 'hub-server',
      name: 'hub',
      device: 'ovpn-hub',
      credentials: { ...SPEC.credentials, caPem: `${CA_1}${CA_2}` },
      tlsCrypt: SPEC.tlsCrypt,
      dco: false,
      caPath: true,
      local: { port: 1194 },
      tunnel: { subnet: '10.200.0.0/24', serverAddress: '10.200.0.1' },
      spokes: [
        { commonName: 'spoke-1', tunnelAddress: '10.200.0.11', subnets: ['10.1.0.0/16'], caPem: CA_1 },
        { commonName: 'spoke-2', tunnelAddress: '10.200.0.12', subnets: ['10.2.0.0/16'], caPem: CA_2 },
      ],
    };
    const layout = openvpnLayout({ runtimeDir: '/run/weft/openvpn', name: 'hub' });
    // What was written, and how many management commands had been sent by then.
    const timeline: string[] = [];
    const host = {
      ...sys.host,
      writePrivate: (path: string, text: string, mode?: 0o600 | 0o700): Promise<void> => {
        timeline.push(`${path} after ${sys.commands.length} commands`);
        return sys.host.writePrivate(path, text, mode);
      },
    };
    supervisor = make({ spec: hub, layout, host });
    await supervisor.start();
    const pid = supervisor.pid;
    assert.equal(sys.files.get(layout.tlsVerifyScript)?.mode, 0o700);
    assert.match(sys.files.get(layout.tlsVerifyScript)?.text ?? '', /^#!\/bin\/sh\n/);
    assert.equal(sys.files.get(layout.spokeCaBindings)?.mode, 0o600);
    assert.match(
      sys.files.get(layout.config)?.text ?? '',
      /^tls-verify \/run\/weft\/openvpn\/hub\/tls-verify\.sh$/m,
    );

    const next: OpenvpnHubServerSpec = {
      ...hub,
      credentials: { ...hub.credentials, caPem: `${CA_1}${CA_3}` },
      spokes: [hub.spokes[0]!, { ...hub.spokes[1]!, caPem: CA_3 }],
    };
    sys.replies.set('kill spoke-2', ["SUCCESS: common name 'spoke-2' found, 1 client(s) killed"]);
    const sent = sys.commands.length;
    timeline.length = 0;
    const change = await supervisor.applySpokes(next);
    assert.deepEqual(
      [change.changed.map((s) => s.commonName), change.bindingsChanged, change.caChanged],
      [['spoke-2'], true, true],
    );
    assert.equal(
      sys.files.get(layout.spokeCaBindings)?.text.split('\n').slice(1).join('\n'),
      `spoke-1 ${CA_1_SHA256}\nspoke-2 ${CA_3_SHA256}\n`,
    );
    assert.deepEqual(sys.commands.slice(sent), ['kill spoke-2']);
    assert.ok(timeline.includes(`${layout.spokeCaBindings} after ${sent} commands`), timeline.join('; '));
    assert.equal(supervisor.pid, pid, 'the same openvpn: it execs the script per handshake');

    // The same spoke set: nothing to rewrite, nobody killed.
    timeline.length = 0;
    const again = await supervisor.applySpokes(next);
    assert.equal(again.bindingsChanged, false);
    assert.ok(!timeline.some((t) => t.startsWith(layout.spokeCaBindings)));
    assert.deepEqual(sys.commands.slice(sent), ['kill spoke-2']);

    // Unbinding is a restart (tls-verify is read at start); the next start leaves no script behind.
    const unbound: OpenvpnHubServerSpec = {
      ...next,
      spokes: next.spokes.map(({ caPem: _ca, ...rest }) => rest),
    };
    await assert.rejects(supervisor.applySpokes(unbound), /more than the spokes changed/);
    await supervisor.stop();
    supervisor = make({ spec: unbound, layout, host });
    await supervisor.start();
    assert.equal(sys.files.has(layout.tlsVerifyScript), false);
    assert.equal(sys.files.has(layout.spokeCaBindings), false);
    assert.match(sys.files.get(layout.config)?.text ?? '', /^script-security 1$/m);
  });

  void it('a bad spec fails at construction, before anything is written', () => {
    assert.throws(() => make({ spec: { ...SPEC, device: 'x y' } }), /device/);
    assert.equal(sys.files.size, 0);
  });
});

void describe('exitReason', () => {
  void it('reads auth failures and fatal errors from the last lines, else how it ended', () => {
    assert.equal(exitReason({ code: 0, signal: null }, AUTH_FAILED), 'auth-failed');
    assert.equal(exitReason({ code: 1, signal: null }, ['Options error: bad']), 'fatal-error');
    assert.equal(exitReason({ code: 1, signal: null }, ['Exiting due to fatal error']), 'fatal-error');
    assert.equal(exitReason({ code: null, signal: 'SIGKILL' }, []), 'signal');
    assert.equal(exitReason({ code: 1, signal: null }, []), 'exit');
  });
});

void describe('detectDco', () => {
  const probe = (present: boolean) => ({
    exists: (p: string) => Promise.resolve(present && p === '/sys/module/ovpn_dco_v2'),
  });

  void it('auto: on with ovpn-dco, disable-dco without it (this kernel)', async () => {
    assert.deepEqual(await detectDco(probe(true)), {
      enabled: true,
      reason: 'the kernel has ovpn-dco (/sys/module/ovpn_dco_v2): data channel offload on',
    });
    const off = await detectDco(probe(false));
    assert.equal(off.enabled, false);
    assert.match(off.reason, /no ovpn-dco .* disable-dco/);
  });

  void it('overrides: off always; on even without the module, saying openvpn will fall back', async () => {
    assert.equal((await detectDco(probe(true), 'off')).enabled, false);
    const forced = await detectDco(probe(false), 'on');
    assert.equal(forced.enabled, true);
    assert.match(forced.reason, /fall back/);
  });
});
