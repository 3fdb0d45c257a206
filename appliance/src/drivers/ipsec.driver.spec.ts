import assert from 'node:assert/strict';
import { EventEmitter, on } from 'node:events';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { CharonLogLine } from '@weft/ipsec';
import { normalize, type Link } from '../desired-state/document.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
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
});
