import assert from 'node:assert/strict';
import { EventEmitter, on } from 'node:events';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { normalize, type Link } from '../desired-state/document.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
import { TEST_CA_PEM } from '../testing/certificates.js';
import { fillOpenvpnDefaults } from './openvpn.link-spec.js';
import {
  OpenvpnDriver,
  type OpenvpnAuthFailures,
  type OpenvpnCredentials,
  type OpenvpnDiagnosis,
  type OpenvpnEnv,
  type OpenvpnInstance,
  type OpenvpnPortEvent,
  type OpenvpnObserved,
  type OpenvpnPort,
} from './openvpn.driver.js';

const KEY = [
  '-----BEGIN OpenVPN Static key V1-----',
  ...Array.from({ length: 16 }, () => 'cd'.repeat(16)),
  '-----END OpenVPN Static key V1-----',
  '',
].join('\n');

class FakeOpenvpn implements OpenvpnPort {
  readonly dco = false;
  readonly reason = 'no ovpn-dco in this kernel';
  calls: string[] = [];
  instances = new Map<string, { instance: OpenvpnInstance; hash: string }>();
  observed = new Map<string, OpenvpnObserved>();
  readonly lines = new EventEmitter();
  pendingReports: OpenvpnAuthFailures[] = [];
  ensure(instance: OpenvpnInstance, hash: string): Promise<void> {
    this.calls.push(
      `ensure ${instance.name} ${instance.kind === 'hub' ? 'hub' : instance.role} ${instance.listenPort ?? '-'}`,
    );
    this.instances.set(instance.name, { instance, hash });
    return Promise.resolve();
  }
  remove(name: string): Promise<void> {
    this.calls.push(`remove ${name}`);
    this.instances.delete(name);
    return Promise.resolve();
  }
  running(): string[] {
    return [...this.instances.keys()];
  }
  observe(name: string): Promise<OpenvpnObserved | undefined> {
    return Promise.resolve(this.observed.get(name));
  }
  async *events(signal: AbortSignal): AsyncIterable<OpenvpnPortEvent> {
    try {
      for await (const [event] of on(this.lines, 'event', { signal })) yield event as OpenvpnPortEvent;
    } catch {
      return;
    }
  }
  /** Windows still open: reported only when drained. */
  openReports: OpenvpnAuthFailures[] = [];
  authFailures(options: { drain?: boolean } = {}): OpenvpnAuthFailures[] {
    const out = [...this.pendingReports, ...(options.drain ? this.openReports : [])];
    this.pendingReports = [];
    if (options.drain) this.openReports = [];
    return out;
  }
  close(): Promise<void> {
    this.calls.push('close');
    return Promise.resolve();
  }
}

class FakeCredentials implements OpenvpnCredentials {
  caCertificate: string | undefined = 'OUR-CA';
  issuedFor: string[] = [];
  ensureCertificate(identity: string): Promise<{ caCert: string; cert: string; key: string }> {
    this.issuedFor.push(identity);
    return Promise.resolve({ caCert: 'OUR-CA', cert: `CERT ${identity}`, key: 'KEY' });
  }
}

const link = (
  name: string,
  openvpn: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Link => ({
  name,
  type: 'openvpn',
  remote_subnets: ['10.2.0.0/24'],
  openvpn: { remote_ca: TEST_CA_PEM, tls_crypt_key: KEY, remote_name: 'peer', ...openvpn },
  ...extra,
});
/** As committed: tunnel /30s filled in. */
const doc = (links: Link[]) => {
  const d = normalize({
    appliance: { name: 'site-a', public_endpoint: '203.0.113.10', local_subnets: ['10.1.0.0/24'] },
    links,
  });
  fillOpenvpnDefaults(d, undefined);
  return d;
};

describe('OpenvpnDriver', () => {
  let ovpn: FakeOpenvpn;
  let creds: FakeCredentials;
  let state: MemoryModuleState;
  let driver: OpenvpnDriver;
  let published: { type: string; data: Record<string, unknown> }[];
  let now: Date;

  beforeEach(async () => {
    ovpn = new FakeOpenvpn();
    creds = new FakeCredentials();
    state = new MemoryModuleState();
    published = [];
    now = new Date('2026-01-01T00:00:00Z');
    const env: OpenvpnEnv = {
      underlayMtu: () => Promise.resolve(1500),
      now: () => now,
      publish: (type, data) => published.push({ type, data }),
    };
    driver = new OpenvpnDriver(ovpn, state, creds, env, silentLogger());
    await driver.start();
  });
  afterEach(async () => {
    await driver.stop();
  });

  it('starts one process per link, each p2p end on the first free port from 1194 (a client sends from it), then has nothing to do', async () => {
    const d = doc([
      link('to-b', {}, { remote_endpoint: '203.0.113.11:1194' }),
      link('to-c'),
      link('to-d', { listen_port: 1194 }),
    ]);
    const steps = await driver.plan(d);
    assert.deepEqual(
      steps.map((s) => s.action.summary),
      [
        'start openvpn for link to-b (client, dials 203.0.113.11:1194 from UDP 1195, ovpn-to-b mtu 1448)',
        'start openvpn for link to-c (server, listens on UDP 1196, ovpn-to-c mtu 1448)',
        'start openvpn for link to-d (server, listens on UDP 1194, ovpn-to-d mtu 1448)',
      ],
    );
    await driver.apply(steps);
    assert.deepEqual(ovpn.calls, [
      'ensure to-b client 1195',
      'ensure to-c server 1196',
      'ensure to-d server 1194',
    ]);
    assert.deepEqual(creds.issuedFor, ['203.0.113.10', '203.0.113.10', '203.0.113.10']);
    const b = ovpn.instances.get('to-b')?.instance;
    assert.ok(b && b.kind !== 'hub');
    assert.equal(b.cert, 'CERT 203.0.113.10');
    assert.equal(b.remoteCa, TEST_CA_PEM);
    assert.equal(b.tlsCryptKey, KEY);
    assert.equal(driver.listenPortOf('to-b'), 1195);
    assert.equal(driver.listenPortOf('to-c'), 1196);
    assert.deepEqual(await driver.plan(d), []);
  });

  it('a changed link restarts its process only; a removed one is stopped; the chosen port is kept', async () => {
    const d1 = doc([link('to-b', {}, { remote_endpoint: '203.0.113.11:1194' }), link('to-c')]);
    await driver.apply(await driver.plan(d1));
    ovpn.calls = [];
    const d2 = doc([
      link('to-b', { data_ciphers: ['AES-128-GCM'] }, { remote_endpoint: '203.0.113.11:1194' }),
      link('to-c'),
    ]);
    const steps = await driver.plan(d2);
    assert.deepEqual(
      steps.map((s) => `${s.action.op} ${s.action.target}`),
      ['update openvpn to-b'],
    );
    await driver.apply(steps);
    assert.equal(ovpn.instances.get('to-b')?.instance.dataCiphers.join(), 'AES-128-GCM');
    // A new server link listed first does not take to-c's port; it gets to-b's, which stops first.
    const d3 = doc([link('to-a'), link('to-c')]);
    await driver.apply(await driver.plan(d3));
    assert.deepEqual(ovpn.calls, ['ensure to-b client 1194', 'remove to-b', 'ensure to-a server 1194']);
    assert.equal(state.get('conn:to-b'), undefined);
    assert.equal(driver.listenPortOf('to-c'), 1195, 'to-c keeps its port');
  });

  it('a hub whose spokes only change is planned as a live update, not a restart', async () => {
    const spoke = (name: string, cn: string, subnet: string) =>
      link(name, { topology: 'hub', remote_name: cn }, { remote_subnets: [subnet] });
    const d1 = doc([spoke('b', 'site-b', '10.2.0.0/24'), spoke('c', 'site-c', '10.3.0.0/24')]);
    await driver.apply(await driver.plan(d1));
    const d2 = doc([
      spoke('b', 'site-b', '10.2.0.0/24'),
      spoke('c', 'site-c', '10.3.0.0/24'),
      spoke('d', 'site-d', '10.4.0.0/24'),
    ]);
    const [step] = await driver.plan(d2);
    assert.match(
      step?.action.summary ?? '',
      /^apply the hub's spokes live, without a restart \(added site-d\)/,
    );
    await driver.apply(await driver.plan(d2));
    // A server-wide change (ciphers) is a restart again.
    const d3 = doc([
      link(
        'b',
        { topology: 'hub', remote_name: 'site-b', data_ciphers: ['AES-128-GCM'] },
        { remote_subnets: ['10.2.0.0/24'] },
      ),
    ]);
    const steps = await driver.plan(d3);
    assert.match(steps.map((x) => x.action.summary).join('\n'), /restart openvpn for the hub/);
  });

  it('a changed tls-crypt key restarts the process (the key is in the hash, not in the state)', async () => {
    const d1 = doc([link('to-c')]);
    await driver.apply(await driver.plan(d1));
    assert.ok(![...state.map.values()].some((v) => v.includes('OpenVPN Static key')));
    const other = KEY.replace(/cd/g, 'ef');
    assert.equal((await driver.plan(doc([link('to-c', { tls_crypt_key: other })]))).length, 1);
  });

  it('a process that is gone (appliance restarted) is started again', async () => {
    const d = doc([link('to-c')]);
    await driver.apply(await driver.plan(d));
    ovpn.instances.clear();
    const steps = await driver.plan(d);
    assert.deepEqual(
      steps.map((s) => s.action.summary),
      ['start openvpn for link to-c (server, listens on UDP 1194, ovpn-to-c mtu 1448)'],
    );
  });

  it('status: up with bytes and the peer address; waiting for the peer; the doctor’s cause from the log', async () => {
    const d = doc([link('to-b', {}, { remote_endpoint: '203.0.113.11:1194' }), link('to-c')]);
    await driver.apply(await driver.plan(d));
    ovpn.observed.set('to-b', {
      running: true,
      state: 'CONNECTED',
      since: new Date('2025-12-31T23:59:00Z'),
      remote: '203.0.113.11:1194',
      rxBytes: 100,
      txBytes: 200,
    });
    ovpn.observed.set('to-c', { running: true, state: 'WAIT', rxBytes: 0, txBytes: 0 });
    let [b, c] = await driver.linkStatus(d);
    assert.deepEqual(b, {
      name: 'to-b',
      type: 'openvpn',
      interface: 'ovpn-to-b',
      state: 'up',
      established_at: '2025-12-31T23:59:00.000Z',
      rx_bytes: 100,
      tx_bytes: 200,
      endpoint: '203.0.113.11:1194',
      diagnosis: null,
    });
    assert.equal(c?.state, 'connecting');
    assert.equal(c?.diagnosis?.code, 'waiting-for-peer');

    const changes = driver.changes()[Symbol.asyncIterator]();
    const mismatch: OpenvpnDiagnosis = {
      code: 'tls-key-mismatch',
      message: 'the tls-crypt keys differ',
      fix: 'set the same tls_crypt_key',
    };
    ovpn.lines.emit('event', { link: 'to-c', kind: 'finding', diagnosis: { ...mismatch, line: 'x' } });
    assert.equal((await changes.next()).value, 'OpenVPN to-c: tls-key-mismatch');
    [b, c] = await driver.linkStatus(d);
    assert.equal(c?.state, 'down');
    assert.deepEqual(Object.keys(c?.diagnosis ?? {}), ['code', 'message', 'fix'], 'the log line stays out');
    assert.equal(c?.diagnosis?.code, 'tls-key-mismatch');
    assert.equal(c?.diagnosis?.message, mismatch.message);
    assert.match(
      c?.diagnosis?.fix ?? '',
      /^both ends must hold the same tls_crypt_key: import .*\. On a third-party end: set the same tls_crypt_key$/,
    );

    ovpn.lines.emit('event', { link: 'to-c', kind: 'connected' });
    assert.equal((await changes.next()).value, 'OpenVPN to-c connected');
    now = new Date(now.getTime() + 60_000);
    ovpn.observed.set('to-c', { running: true, state: 'CONNECTED', rxBytes: 1, txBytes: 1 });
    [, c] = await driver.linkStatus(d);
    assert.equal(c?.state, 'up');
    assert.equal(c?.diagnosis, null);
  });

  it('status: disabled, and a link without a process is down with the reason', async () => {
    const d = doc([link('to-b', {}, { enabled: false }), link('to-c')]);
    const [b, c] = await driver.linkStatus(d);
    assert.equal(b?.state, 'disabled');
    assert.equal(c?.state, 'down');
    assert.equal(c?.diagnosis?.code, 'not-running');
  });

  it('flood reports become one warning and one link.auth-failures event each', async () => {
    ovpn.pendingReports = [
      { link: 'to-c', source: '198.51.100.7', count: 20_000, ports: 1, windowSeconds: 60 },
    ];
    // Stopping, a window still open is reported with its count so far, not lost.
    ovpn.openReports = [{ link: 'to-c', source: '203.0.113.9', count: 42, ports: 3, windowSeconds: 12 }];
    await driver.stop();
    assert.deepEqual(published, [
      {
        type: 'link.auth-failures',
        data: { name: 'to-c', source: '198.51.100.7', count: 20_000, ports: 1, window_seconds: 60 },
      },
      {
        type: 'link.auth-failures',
        data: { name: 'to-c', source: '203.0.113.9', count: 42, ports: 3, window_seconds: 12 },
      },
    ]);
    assert.ok(ovpn.calls.includes('close'));
  });

  it('verify: without a CA the appliance cannot prove itself', () => {
    creds.caCertificate = undefined;
    const problems = driver.verify(doc([link('to-c')]));
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['/links/0/type'],
    );
    assert.match(problems[0]?.message ?? '', /no certificate authority/);
  });
});
