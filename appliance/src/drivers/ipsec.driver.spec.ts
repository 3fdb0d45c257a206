import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { EventEmitter, on } from 'node:events';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { CharonKeyType, CharonLogLine } from '@weft/ipsec';
import { normalize, type Link } from '../desired-state/document.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
import {
  CORP_ISSUING_CA,
  CORP_ROOT_CA,
  EC_LEAF,
  EC_LEAF_KEY,
  RSA_LEAF,
  RSA_LEAF_KEY,
} from '../testing/ipsec-x509.fixtures.js';
import { IpsecCredentials, type CertificateTool } from './ipsec.credentials.js';
import { IpsecDriver, type IpsecIkeSa, type IpsecPort, type ViciMessage } from './ipsec.driver.js';

const MemoryState = MemoryModuleState;

class FakeCharon implements IpsecPort {
  readonly dataplane = 'libipsec' as const;
  readonly reason = 'test';
  readonly interfaceName = 'ipsec0';
  running = false;
  conns = new Map<string, ViciMessage>();
  shared = new Map<string, ViciMessage>();
  sas: IpsecIkeSa[] = [];
  calls: string[] = [];
  keys: { type: CharonKeyType; data: string }[] = [];
  readonly logLines = new EventEmitter();
  start(): Promise<void> {
    this.calls.push('start');
    this.running = true;
    return Promise.resolve();
  }
  stop(): Promise<void> {
    this.calls.push('stop');
    this.running = false;
    this.conns.clear();
    return Promise.resolve();
  }
  isRunning(): boolean {
    return this.running;
  }
  loadShared(m: ViciMessage): Promise<void> {
    this.calls.push(`load-shared ${m.id as string}`);
    this.shared.set(m.id as string, m);
    return Promise.resolve();
  }
  loadCert(cert: { flag: 'CA' | 'NONE'; data: string }): Promise<void> {
    this.calls.push(`load-cert ${cert.flag} ${labelOf(cert.data)}`);
    return Promise.resolve();
  }
  loadKey(key: { type: CharonKeyType; data: string }): Promise<void> {
    this.keys.push(key);
    this.calls.push(`load-key ${key.type} ${key.data === KEY_PEM('key-1') ? 'key-1' : keyLabelOf(key.data)}`);
    return Promise.resolve();
  }
  unloadShared(id: string): Promise<void> {
    this.calls.push(`unload-shared ${id}`);
    this.shared.delete(id);
    return Promise.resolve();
  }
  loadConn(m: ViciMessage): Promise<void> {
    const name = Object.keys(m)[0] ?? '';
    this.calls.push(`load-conn ${name}`);
    this.conns.set(name, m);
    return Promise.resolve();
  }
  unloadConn(name: string): Promise<void> {
    this.calls.push(`unload-conn ${name}`);
    this.conns.delete(name);
    return Promise.resolve();
  }
  connections(): Promise<string[]> {
    return Promise.resolve([...this.conns.keys()]);
  }
  listSas(): Promise<IpsecIkeSa[]> {
    return Promise.resolve(this.sas);
  }
  async *logs(signal: AbortSignal): AsyncIterable<CharonLogLine> {
    try {
      for await (const [line] of on(this.logLines, 'line', { signal })) yield line as CharonLogLine;
    } catch {
      return;
    }
  }
  /** Addresses on lo: cidr → labelled lo:weft. */
  lo = new Map<string, boolean>([
    ['127.0.0.1/8', false],
    ['::1/128', false],
  ]);
  loopbackAddresses(): Promise<{ cidr: string; labelled: boolean }[]> {
    return Promise.resolve([...this.lo].map(([cidr, labelled]) => ({ cidr, labelled })));
  }
  addLoopbackAddress(cidr: string): Promise<void> {
    this.calls.push(`addr add ${cidr}`);
    this.lo.set(cidr, !cidr.includes(':'));
    return Promise.resolve();
  }
  removeLoopbackAddress(cidr: string): Promise<void> {
    this.calls.push(`addr del ${cidr}`);
    this.lo.delete(cidr);
    return Promise.resolve();
  }
}

/** PEM-shaped stand-ins whose body names what they are. */
const PEM = (label: string): string =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(label).toString('base64')}\n-----END CERTIFICATE-----\n`;
const KEY_PEM = (label: string): string =>
  `-----BEGIN EC PRIVATE KEY-----\n${Buffer.from(label).toString('base64')}\n-----END EC PRIVATE KEY-----\n`;
/** Real certificates (the fixtures) by name, stand-ins by what their body says. */
const FIXTURES: Record<string, string> = {
  'corp root': CORP_ROOT_CA,
  'corp issuing': CORP_ISSUING_CA,
  'rsa leaf': RSA_LEAF,
  'ec leaf': EC_LEAF,
};
function labelOf(pem: string): string {
  const fixture = Object.entries(FIXTURES).find(([, f]) => f.trim() === pem.trim());
  return fixture ? fixture[0] : Buffer.from(pem.split('\n')[1] ?? '', 'base64').toString();
}
/** A key charon got, by the fixture it is (compared as PKCS#8). */
function keyLabelOf(pem: string): string {
  const der = (k: string): string =>
    createPrivateKey(k).export({ type: 'pkcs8', format: 'der' }).toString('hex');
  const found = Object.entries({ 'rsa key': RSA_LEAF_KEY, 'ec key': EC_LEAF_KEY }).find(
    ([, k]) => der(k) === der(pem),
  );
  return found ? found[0] : '?';
}

/** pki as the credentials see it: keys and certificates named by what made them. */
class FakePki implements CertificateTool {
  keys = 0;
  issued: { dn: string; sans: readonly string[]; caKey: string; subjectKey: string }[] = [];
  selfSigned: string[] = [];
  fail = false;
  generateKey(): Promise<string> {
    if (this.fail) return Promise.reject(new Error('pki: generate an ECDSA P-256 key'));
    return Promise.resolve(KEY_PEM(`key-${this.keys++}`));
  }
  selfSignedCa(key: string, dn: string): Promise<string> {
    this.selfSigned.push(dn);
    return Promise.resolve(PEM(`ca ${dn} ${labelOf(key)}`));
  }
  issue(r: {
    caKey: string;
    caCert: string;
    subjectKey: string;
    dn: string;
    sans: readonly string[];
  }): Promise<string> {
    this.issued.push({ dn: r.dn, sans: r.sans, caKey: labelOf(r.caKey), subjectKey: labelOf(r.subjectKey) });
    return Promise.resolve(PEM(`cert ${r.sans.join(',')} #${this.issued.length}`));
  }
}

const PSK = 'correct-horse-battery-staple';
const toB = (extra: Record<string, unknown> = {}): Link => ({
  name: 'to-b',
  type: 'ipsec',
  remote_endpoint: '203.0.113.11:500',
  remote_subnets: ['10.2.0.0/24'],
  ipsec: { preshared_key: PSK, ...extra },
});
const doc = (links: Link[]) =>
  normalize({
    appliance: { name: 'site-a', public_endpoint: '203.0.113.10', local_subnets: ['10.1.0.0/24'] },
    links,
  });

describe('IpsecDriver', () => {
  let charon: FakeCharon;
  let state: MemoryModuleState;
  let driver: IpsecDriver;
  const now = new Date('2026-01-01T00:00:00Z');

  beforeEach(async () => {
    charon = new FakeCharon();
    state = new MemoryState();
    driver = new IpsecDriver(charon, state, silentLogger(), () => now);
    await driver.start();
  });
  afterEach(async () => {
    await driver.stop();
  });

  it('starts charon with the first link, loads key and connection, then has nothing to do', async () => {
    assert.deepEqual(await driver.plan(doc([])), []);
    const d = doc([toB()]);
    const steps = await driver.plan(d);
    assert.deepEqual(
      steps.map((s) => s.action.target),
      ['charon', 'connection to-b'],
    );
    await driver.apply(steps);
    assert.deepEqual(charon.calls, ['start', 'load-shared weft-to-b', 'load-conn to-b']);
    assert.deepEqual(await driver.plan(d), []);
  });

  it('reloads only a changed connection (a new key too), unloads a removed one, stops charon with the last', async () => {
    await driver.apply(await driver.plan(doc([toB()])));
    charon.calls = [];
    await driver.apply(await driver.plan(doc([toB({ preshared_key: 'another-long-secret-value' })])));
    assert.deepEqual(charon.calls, ['unload-conn to-b', 'load-shared weft-to-b', 'load-conn to-b']);
    charon.calls = [];
    await driver.apply(await driver.plan(doc([])));
    assert.deepEqual(charon.calls, ['stop']);
    assert.deepEqual(state.entries(), []);
  });

  it('a restarted charon has lost its connections: the next plan loads them again', async () => {
    const d = doc([toB()]);
    await driver.apply(await driver.plan(d));
    charon.conns.clear(); // what a crash and restart look like over VICI
    const again = await driver.plan(d);
    assert.deepEqual(
      again.map((s) => s.action.summary),
      ['load IPsec connection to-b (ikev2, initiates)'],
    );
  });

  it('status: up from list-sas, with SPIs, bytes and the NAT-T flag', async () => {
    const d = doc([toB()]);
    await driver.apply(await driver.plan(d));
    charon.sas = [
      {
        connection: 'to-b',
        uniqueId: '1',
        state: 'ESTABLISHED',
        version: 2,
        remoteHost: '203.0.113.11',
        remotePort: 4500,
        establishedSeconds: 30,
        encap: true,
        proposal: 'AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519',
        children: [
          {
            name: 'to-b',
            state: 'INSTALLED',
            bytesIn: 840,
            bytesOut: 840,
            spiIn: 'c1',
            spiOut: 'c2',
            proposal: 'AES_GCM_16-256',
          },
        ],
      },
    ];
    const [s] = await driver.linkStatus(d);
    assert.equal(s?.state, 'up');
    assert.equal(s?.interface, 'ipsec0');
    assert.equal(s?.endpoint, '203.0.113.11:4500');
    assert.equal(s?.established_at, '2025-12-31T23:59:30.000Z');
    assert.deepEqual(s?.ipsec, {
      ike_state: 'ESTABLISHED',
      ike_version: 2,
      ike_proposal: 'AES_GCM_16-256/PRF_HMAC_SHA2_256/CURVE_25519',
      child_state: 'INSTALLED',
      esp_proposal: 'AES_GCM_16-256',
      spi_in: 'c1',
      spi_out: 'c2',
      nat_t: true,
    });
    assert.equal(s?.diagnosis, null);
  });

  it('a failure in charon’s log becomes the link’s cause, placed by peer address when unnamed', async () => {
    const d = doc([toB()]);
    await driver.apply(await driver.plan(d));
    const changes: string[] = [];
    void (async () => {
      for await (const c of driver.changes()) changes.push(c);
    })();
    for (const msg of [
      'looking for IKEv2 configs for 203.0.113.10...203.0.113.11',
      'received proposals: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048',
      'configured proposals: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
      'received proposals unacceptable',
    ]) {
      charon.logLines.emit('line', { msg, ikeId: '9', ikeName: '(unnamed)' });
    }
    for (let i = 0; i < 50 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const [s] = await driver.linkStatus(d);
    assert.equal(s?.state, 'down');
    assert.equal(s?.diagnosis?.code, 'no-proposal-chosen');
    assert.match(s?.diagnosis?.message ?? '', /AES_CBC_128.*AES_GCM_16_256|AES_GCM_16_256.*AES_CBC_128/);
    assert.deepEqual(changes, ['IPsec to-b: no-proposal-chosen']);
  });

  it('both sides initiating: the initiator’s later, vaguer finding keeps the cause with both lists', async () => {
    const d = doc([toB()]);
    await driver.apply(await driver.plan(d));
    const changes: string[] = [];
    void (async () => {
      for await (const c of driver.changes()) changes.push(c);
    })();
    // As charon logs them when both initiate: b's IKE_SA arrives first (we respond, with both lists),
    // then our own initiation comes back with the peer's NO_PROPOSAL_CHOSEN, and no list at all.
    const lines: CharonLogLine[] = [
      { msg: 'looking for IKEv2 configs for 203.0.113.10...203.0.113.11', ikeId: '9', ikeName: '(unnamed)' },
      {
        msg: 'received proposals: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048',
        ikeId: '9',
        ikeName: '(unnamed)',
      },
      {
        msg: 'configured proposals: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
        ikeId: '9',
        ikeName: '(unnamed)',
      },
      { msg: 'received proposals unacceptable', ikeId: '9', ikeName: '(unnamed)' },
      { msg: 'initiating IKE_SA to-b[10] to 203.0.113.11', ikeId: '10', ikeName: 'to-b' },
      { msg: 'received NO_PROPOSAL_CHOSEN notify error', ikeId: '10', ikeName: 'to-b' },
    ];
    for (const line of lines) charon.logLines.emit('line', line);
    for (let i = 0; i < 50 && changes.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    const [s] = await driver.linkStatus(d);
    assert.equal(s?.diagnosis?.code, 'no-proposal-chosen');
    assert.match(s?.diagnosis?.message ?? '', /this side offers IKE:AES_GCM_16_256/);
    assert.match(s?.diagnosis?.message ?? '', /the remote side offers IKE:AES_CBC_128/);
    assert.deepEqual(changes, ['IPsec to-b: no-proposal-chosen']);
  });

  it('a vaguer finding replaces the cause with both lists once that is a minute old; another cause at once', async () => {
    let clock = now.getTime();
    const timed = new IpsecDriver(charon, new MemoryState(), silentLogger(), () => new Date(clock));
    await driver.stop();
    await timed.start();
    try {
      const d = doc([toB()]);
      await timed.apply(await timed.plan(d));
      const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 20));
      const responder = (id: string): CharonLogLine[] =>
        [
          'looking for IKEv2 configs for 203.0.113.10...203.0.113.11',
          'received proposals: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048',
          'configured proposals: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
          'received proposals unacceptable',
        ].map((msg) => ({ msg, ikeId: id, ikeName: '(unnamed)' }));
      const rejected = (id: string): CharonLogLine => ({
        msg: 'received NO_PROPOSAL_CHOSEN notify error',
        ikeId: id,
        ikeName: 'to-b',
      });
      const message = async (): Promise<string> => (await timed.linkStatus(d))[0]?.diagnosis?.message ?? '';
      for (const line of responder('1')) charon.logLines.emit('line', line);
      await settle();
      clock += 30_000;
      charon.logLines.emit('line', rejected('2'));
      await settle();
      assert.match(await message(), /the remote side offers IKE:AES_CBC_128/, 'kept within the minute');
      clock += 31_000;
      charon.logLines.emit('line', rejected('3'));
      await settle();
      assert.match(await message(), /rejected all of ours/, 'replaced after it');
      charon.logLines.emit('line', {
        msg: 'received AUTHENTICATION_FAILED notify error',
        ikeId: '4',
        ikeName: 'to-b',
      });
      await settle();
      assert.equal((await timed.linkStatus(d))[0]?.diagnosis?.code, 'authentication-failed');
    } finally {
      await timed.stop();
    }
  });
});

describe('IpsecDriver: local addresses for NETMAP links (kernel-libipsec)', () => {
  let charon: FakeCharon;
  let state: MemoryModuleState;
  let driver: IpsecDriver;
  const mapped = (name: string, local: string, remote = '10.2.0.0/24'): Link => ({
    ...toB(),
    name,
    remote_subnets: [remote],
    netmap: { local },
  });

  beforeEach(async () => {
    charon = new FakeCharon();
    state = new MemoryState();
    driver = new IpsecDriver(charon, state, silentLogger());
    await driver.start();
  });
  afterEach(async () => {
    await driver.stop();
  });

  it('plans the first host of netmap.local on lo before the connection, once per mapped net', async () => {
    const d = doc([mapped('to-b', '10.11.0.0/24'), mapped('to-c', '10.11.0.0/24', '10.3.0.0/24')]);
    const steps = await driver.plan(d);
    assert.deepEqual(
      steps.map((s) => [s.action.op, s.action.target]),
      [
        ['create', 'charon'],
        ['create', 'address 10.11.0.1/32 dev lo'],
        ['create', 'connection to-b'],
        ['create', 'connection to-c'],
      ],
    );
    assert.match(steps[1]?.action.summary ?? '', /lo:weft.*netmap\.local of "to-b", "to-c"/);
    await driver.apply(steps);
    assert.deepEqual(charon.calls.slice(0, 2), ['start', 'addr add 10.11.0.1/32']);
    assert.equal(charon.lo.get('10.11.0.1/32'), true, 'labelled');
    assert.deepEqual(state.get('addr:10.11.0.1/32'), '1');
    assert.deepEqual(await driver.plan(d), [], 'nothing left to do');
  });

  it('the traffic selectors name the mapped net', async () => {
    await driver.apply(await driver.plan(doc([mapped('to-b', '10.11.0.0/24')])));
    const children = (charon.conns.get('to-b')?.['to-b'] as Record<string, unknown>)?.children as Record<
      string,
      Record<string, unknown>
    >;
    assert.deepEqual(children['to-b']?.local_ts, ['10.11.0.0/24']);
  });

  it('removes the address when the last link mapping to it goes, after unloading it; charon stops', async () => {
    await driver.apply(
      await driver.plan(doc([mapped('to-b', '10.11.0.0/24'), mapped('to-c', '10.11.0.0/24', '10.3.0.0/24')])),
    );
    const fewer = await driver.plan(doc([mapped('to-b', '10.11.0.0/24')]));
    assert.deepEqual(
      fewer.map((s) => s.action.target),
      ['connection to-c'],
      'still needed by to-b',
    );
    await driver.apply(fewer);
    const other = await driver.plan(doc([mapped('to-b', '10.21.0.0/24')]));
    assert.deepEqual(
      other.map((s) => [s.action.op, s.action.target]),
      [
        ['create', 'address 10.21.0.1/32 dev lo'],
        ['update', 'connection to-b'],
        ['delete', 'address 10.11.0.1/32 dev lo'],
      ],
    );
    await driver.apply(other);
    const none = await driver.plan(doc([]));
    assert.deepEqual(
      none.map((s) => [s.action.op, s.action.target]),
      [
        ['delete', 'charon'],
        ['delete', 'connection to-b'],
        ['delete', 'address 10.21.0.1/32 dev lo'],
      ],
    );
    await driver.apply(none);
    assert.deepEqual([...charon.lo.keys()], ['127.0.0.1/8', '::1/128']);
    assert.deepEqual(state.entries(), []);
  });

  it('a labelled address state forgot (a crash) is removed; someone else’s is used and left alone', async () => {
    charon.lo.set('10.31.0.1/32', true);
    charon.lo.set('10.11.0.1/32', false);
    const steps = await driver.plan(doc([mapped('to-b', '10.11.0.0/24')]));
    assert.deepEqual(
      steps.map((s) => s.action.target),
      ['charon', 'connection to-b', 'address 10.31.0.1/32 dev lo'],
    );
    await driver.apply(steps);
    assert.equal(state.get('addr:10.11.0.1/32'), undefined, 'not ours');
    const later = await driver.plan(doc([]));
    assert.deepEqual(
      later.map((s) => s.action.target),
      ['charon', 'connection to-b'],
      'never removes an address it did not add',
    );
  });

  it('an IPv6 mapped net: its /128 is remembered in state (no label) and removed from there', async () => {
    const v6 = (local: string): Link => ({
      ...toB(),
      remote_subnets: ['fd00:2::/64'],
      netmap: { local },
    });
    const d = normalize({
      appliance: { name: 'site-a', public_endpoint: '203.0.113.10', local_subnets: ['fd00:1::/64'] },
      links: [v6('fd00:11::/64')],
    });
    await driver.apply(await driver.plan(d));
    assert.equal(charon.lo.get('fd00:11::1/128'), false);
    assert.equal(state.get('addr:fd00:11::1/128'), '1');
    await driver.apply(await driver.plan(doc([])));
    assert.equal(charon.lo.has('fd00:11::1/128'), false);
  });

  it('cleanup removes labelled and remembered addresses, nothing else', async () => {
    await driver.apply(await driver.plan(doc([mapped('to-b', '10.11.0.0/24')])));
    charon.lo.set('10.41.0.1/32', true);
    charon.lo.set('10.51.0.1/32', false);
    await driver.cleanup();
    assert.deepEqual([...charon.lo.keys()].sort(), ['10.51.0.1/32', '127.0.0.1/8', '::1/128']);
    assert.deepEqual(state.entries(), []);
  });
});

describe('IpsecDriver with certificates', () => {
  let charon: FakeCharon;
  let state: MemoryModuleState;
  let pki: FakePki;
  let driver: IpsecDriver;
  const remoteCa = PEM('ca of site-b');
  const certLink = (extra: Record<string, unknown> = {}): Link =>
    toB({ auth: 'certificate', remote_ca: remoteCa, preshared_key: undefined, ...extra });

  const make = async (): Promise<IpsecDriver> => {
    const d = new IpsecDriver(
      charon,
      state,
      silentLogger(),
      () => new Date(),
      new IpsecCredentials(state, pki),
      () => 'site-a',
    );
    await d.start();
    return d;
  };

  beforeEach(async () => {
    charon = new FakeCharon();
    state = new MemoryState();
    pki = new FakePki();
    driver = await make();
  });
  afterEach(async () => {
    await driver.stop();
  });

  it('makes the CA once, on first start, and shows its certificate; a restart keeps it', async () => {
    assert.equal(pki.selfSigned.length, 1);
    assert.match(pki.selfSigned[0] ?? '', /^CN=Weft CA site-a [0-9a-f]{8}$/);
    const ca = driver.caCertificate;
    assert.match(labelOf(ca ?? ''), /^ca CN=Weft CA site-a [0-9a-f]{8} key-0$/);
    await driver.stop();
    driver = await make();
    assert.equal(driver.caCertificate, ca);
    assert.equal(pki.selfSigned.length, 1);
  });

  it('loads the remote CA, our CA, our certificate and key before the connection; no shared key', async () => {
    const d = doc([certLink()]);
    await driver.apply(await driver.plan(d));
    assert.deepEqual(charon.calls, [
      'start',
      'load-cert CA ca of site-b',
      `load-cert CA ${labelOf(driver.caCertificate ?? '')}`,
      'load-cert NONE cert 203.0.113.10 #1',
      'load-key ecdsa key-1',
      'load-conn to-b',
    ]);
    // Issued by our CA for the public endpoint, which is also the IKE identity the conn claims.
    assert.deepEqual(pki.issued, [
      { dn: 'CN=203.0.113.10', sans: ['203.0.113.10'], caKey: 'key-0', subjectKey: 'key-1' },
    ]);
    const conn = charon.conns.get('to-b')?.['to-b'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(conn.local, {
      auth: 'pubkey',
      id: '203.0.113.10',
      certs: [PEM('cert 203.0.113.10 #1').trim()],
      cacerts: undefined,
    });
    assert.deepEqual(conn.remote, {
      auth: 'pubkey',
      id: '203.0.113.11',
      certs: undefined,
      cacerts: [remoteCa.trim()],
    });
    assert.deepEqual(await driver.plan(d), []);
  });

  it('a changed remote CA reloads the link; a changed public endpoint gets a new certificate', async () => {
    await driver.apply(await driver.plan(doc([certLink()])));
    charon.calls = [];
    const steps = await driver.plan(doc([certLink({ remote_ca: PEM('another ca') })]));
    assert.deepEqual(
      steps.map((s) => s.action.summary),
      ['reload IPsec connection to-b (ikev2, initiates)'],
    );
    await driver.apply(steps);
    assert.deepEqual(charon.calls.slice(0, 2), ['unload-conn to-b', 'load-cert CA another ca']);
    assert.equal(pki.issued.length, 1, 'same identity: same certificate');

    const moved = normalize({
      appliance: { name: 'site-a', public_endpoint: 'gw-a.example.net', local_subnets: ['10.1.0.0/24'] },
      links: [certLink({ remote_ca: PEM('another ca') })],
    });
    await driver.apply(await driver.plan(moved));
    assert.deepEqual(pki.issued[1]?.sans, ['gw-a.example.net']);
    assert.equal(pki.issued[1]?.subjectKey, 'key-1', 'the key pair stays, the certificate is reissued');
  });

  it('verify: without a CA (pki failed) a certificate link is refused with the fix', async () => {
    await driver.stop();
    state = new MemoryState();
    pki.fail = true;
    driver = await make();
    assert.equal(driver.caCertificate, undefined);
    // (The stand-in remote_ca is no real certificate: verify names that too, on remote_ca.)
    const problems = driver.verify(doc([certLink()])).filter((p) => p.pointer.endsWith('/auth'));
    assert.equal(problems.length, 1);
    assert.match(
      problems[0]?.message ?? '',
      /no IPsec certificate authority \(pki: .*\): install .*strongswan-pki/,
    );
  });
});

describe('IpsecDriver with an imported certificate', () => {
  let charon: FakeCharon;
  let state: MemoryModuleState;
  let pki: FakePki;
  let driver: IpsecDriver;
  const remoteCa = PEM('ca of site-b');
  const importedLink = (extra: Record<string, unknown> = {}): Link =>
    toB({
      auth: 'certificate',
      remote_ca: remoteCa,
      preshared_key: undefined,
      local_certificate: RSA_LEAF + CORP_ISSUING_CA,
      local_private_key: RSA_LEAF_KEY,
      local_ca: CORP_ROOT_CA,
      ...extra,
    });
  const LOADS = [
    'load-cert CA ca of site-b',
    'load-cert CA corp root',
    'load-cert NONE corp issuing',
    'load-cert NONE rsa leaf',
    'load-key rsa rsa key',
    'load-conn to-b',
  ];

  const make = async (): Promise<IpsecDriver> => {
    const d = new IpsecDriver(
      charon,
      state,
      silentLogger(),
      () => new Date('2030-01-01T00:00:00Z'),
      new IpsecCredentials(state, pki),
      () => 'site-a',
    );
    await d.start();
    return d;
  };

  beforeEach(async () => {
    charon = new FakeCharon();
    state = new MemoryState();
    pki = new FakePki();
    driver = await make();
  });
  afterEach(async () => {
    await driver.stop();
  });

  it('loads the CAs, the intermediate, the certificate and its RSA key, then the connection; issues nothing', async () => {
    const d = doc([importedLink()]);
    const steps = await driver.plan(d);
    await driver.apply(steps);
    assert.deepEqual(charon.calls, ['start', ...LOADS]);
    assert.deepEqual(pki.issued, [], 'the appliance CA issues no certificate for this link');
    // The key goes over load-key only, as PKCS#8; it is in no plan action.
    assert.match(charon.keys[0]?.data ?? '', /^-----BEGIN PRIVATE KEY-----/);
    assert.doesNotMatch(JSON.stringify(steps.map((x) => x.action)), /PRIVATE|BEGIN/);
    const stored = JSON.stringify(state.entries());
    for (const k of [RSA_LEAF_KEY, charon.keys[0]?.data ?? ''])
      assert.ok(!stored.includes(k.split('\n')[1] ?? 'x'), 'nor in module state');
    const conn = charon.conns.get('to-b')?.['to-b'] as Record<string, Record<string, unknown>>;
    assert.deepEqual(conn.local, {
      auth: 'pubkey',
      id: 'C=CH, O=Corp, CN=gw-a.corp',
      certs: [RSA_LEAF.trim()],
      cacerts: [CORP_ROOT_CA.trim()],
    });
    assert.deepEqual((conn.remote as Record<string, unknown>).cacerts, [remoteCa.trim()]);
    assert.deepEqual(await driver.plan(d), []);
  });

  it('a changed certificate or key reloads the link, with the new ones', async () => {
    await driver.apply(await driver.plan(doc([importedLink()])));
    charon.calls = [];
    const ec = doc([importedLink({ local_certificate: EC_LEAF, local_private_key: EC_LEAF_KEY })]);
    const steps = await driver.plan(ec);
    assert.deepEqual(
      steps.map((x) => x.action.summary),
      ['reload IPsec connection to-b (ikev2, initiates)'],
    );
    await driver.apply(steps);
    assert.deepEqual(charon.calls, [
      'unload-conn to-b',
      'load-cert CA ca of site-b',
      'load-cert CA corp root',
      'load-cert NONE ec leaf',
      'load-key ecdsa ec key',
      'load-conn to-b',
    ]);
    // Only the key differs (verify would refuse the pair; the hash must still see it).
    const keyOnly = doc([importedLink({ local_certificate: EC_LEAF, local_private_key: RSA_LEAF_KEY })]);
    assert.equal((await driver.plan(keyOnly))[0]?.action.op, 'update');
  });

  it('after a charon restart everything is loaded again, certificates and key before the connection', async () => {
    const d = doc([importedLink()]);
    await driver.apply(await driver.plan(d));
    charon.calls = [];
    charon.conns.clear(); // a restarted charon holds no connection, certificate or key
    await driver.apply(await driver.plan(d));
    assert.deepEqual(charon.calls, LOADS);
  });

  it('verify: an imported certificate needs no appliance CA; charon refusing the key names the link only', async () => {
    await driver.stop();
    state = new MemoryState();
    pki.fail = true;
    driver = await make();
    const problems = driver.verify(doc([importedLink({ remote_ca: CORP_ROOT_CA })]));
    assert.deepEqual(problems, []);
    charon.loadKey = () => Promise.reject(new Error('VICI load-key failed: parsing RSA private key failed'));
    await assert.rejects(driver.apply(await driver.plan(doc([importedLink()]))), (err: Error) => {
      const cause = err.cause as Error;
      assert.equal(
        cause.message,
        'IPsec connection to-b: charon refused the private key of local_certificate',
      );
      assert.doesNotMatch(`${err.message} ${cause.message}`, /BEGIN|PRIVATE KEY-----/);
      return true;
    });
  });
});
