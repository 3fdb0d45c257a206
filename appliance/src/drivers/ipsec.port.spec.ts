import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { CharonEvent, CharonState } from '@weft/ipsec';
import { FakeViciServer } from '@weft/ipsec/testing';
import { LIBIPSEC_INTERFACE, ViciIpsecPort, type CharonControl } from './ipsec.port.js';

/** A strict stand-in for CharonSupervisor: its state is what the test sets, every call recorded. */
class FakeCharon implements CharonControl {
  state: CharonState = 'stopped';
  readonly calls: string[] = [];
  constructor(readonly viciSocket: string) {}
  start(): Promise<CharonEvent> {
    this.calls.push('start');
    this.state = 'running';
    return Promise.resolve({ type: 'started', pid: 4242 });
  }
  stop(): Promise<void> {
    this.calls.push('stop');
    this.state = 'stopped';
    return Promise.resolve();
  }
}

const LIBIPSEC = { kind: 'libipsec', reason: 'the kernel has no ESP' } as const;

void describe('ViciIpsecPort over the charon supervisor', () => {
  let dir: string;
  let server: FakeViciServer;
  let charon: FakeCharon;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-ipsec-port-'));
    server = await FakeViciServer.listen(join(dir, 'charon.vici'), {
      commands: { 'get-conns': () => ({ conns: ['to-b'] }) },
    });
    charon = new FakeCharon(join(dir, 'charon.vici'));
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  void it('runs only while charon answers: running or adopted, not starting, restarting or stopped', () => {
    const port = new ViciIpsecPort(charon, LIBIPSEC);
    const running = (['stopped', 'starting', 'running', 'adopted', 'restarting'] as const).filter((s) => {
      charon.state = s;
      return port.isRunning();
    });
    assert.deepEqual(running, ['running', 'adopted']);
  });

  void it('names the data plane, its reason and TUN device from the detection', () => {
    const lib = new ViciIpsecPort(charon, LIBIPSEC);
    assert.equal(lib.dataplane, 'libipsec');
    assert.equal(lib.reason, 'the kernel has no ESP');
    assert.equal(lib.interfaceName, LIBIPSEC_INTERFACE);
    const kernel = new ViciIpsecPort(charon, { kind: 'kernel', reason: 'the kernel holds ESP states' });
    assert.equal(kernel.interfaceName, undefined);
  });

  void it('start() starts charon, then talks VICI on its socket; stop() stops it', async () => {
    const port = new ViciIpsecPort(charon, LIBIPSEC);
    await port.start();
    assert.deepEqual(await port.connections(), ['to-b']);
    await port.stop();
    assert.deepEqual(charon.calls, ['start', 'stop']);
    assert.equal(port.isRunning(), false);
  });
});
