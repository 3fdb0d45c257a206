import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { CharonEvent, CharonState } from '@weft/ipsec';
import { WEFT_LOOPBACK_LABEL } from '@weft/core';
import { FakeNetlink } from '@weft/core/testing';
import { FakeViciServer } from '@weft/ipsec/testing';
import { LIBIPSEC_INTERFACE, LoopbackAddresses, ViciIpsecPort, type CharonControl } from './ipsec.port.js';

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
    const port = new ViciIpsecPort(charon, LIBIPSEC, new LoopbackAddresses(new FakeNetlink()));
    const running = (['stopped', 'starting', 'running', 'adopted', 'restarting'] as const).filter((s) => {
      charon.state = s;
      return port.isRunning();
    });
    assert.deepEqual(running, ['running', 'adopted']);
  });

  void it('names the data plane, its reason and TUN device from the detection', () => {
    const lib = new ViciIpsecPort(charon, LIBIPSEC, new LoopbackAddresses(new FakeNetlink()));
    assert.equal(lib.dataplane, 'libipsec');
    assert.equal(lib.reason, 'the kernel has no ESP');
    assert.equal(lib.interfaceName, LIBIPSEC_INTERFACE);
    const kernel = new ViciIpsecPort(
      charon,
      { kind: 'kernel', reason: 'the kernel holds ESP states' },
      new LoopbackAddresses(new FakeNetlink()),
    );
    assert.equal(kernel.interfaceName, undefined);
  });

  void it('start() starts charon, then talks VICI on its socket; stop() stops it', async () => {
    const port = new ViciIpsecPort(charon, LIBIPSEC, new LoopbackAddresses(new FakeNetlink()));
    await port.start();
    assert.deepEqual(await port.connections(), ['to-b']);
    await port.stop();
    assert.deepEqual(charon.calls, ['start', 'stop']);
    assert.equal(port.isRunning(), false);
  });
});

void describe('LoopbackAddresses (the local addresses charon needs for NETMAP links)', () => {
  void it('adds IPv4 host prefixes on lo labelled lo:weft, IPv6 ones unlabelled; again is fine', async () => {
    const netlink = new FakeNetlink();
    const lo = new LoopbackAddresses(netlink);
    await lo.add('10.11.0.1/32');
    await lo.add('10.11.0.1/32');
    await lo.add('fd00:11::1/128');
    assert.deepEqual(
      netlink.calls.map((c) =>
        c.op === 'addAddress' ? [c.address.ifindex, c.address.cidr, c.address.label] : c.op,
      ),
      [
        [1, '10.11.0.1/32', WEFT_LOOPBACK_LABEL],
        [1, '10.11.0.1/32', WEFT_LOOPBACK_LABEL],
        [1, 'fd00:11::1/128', undefined],
      ],
    );
    assert.deepEqual(await lo.list(), [
      { cidr: '10.11.0.1/32', labelled: true },
      { cidr: 'fd00:11::1/128', labelled: false },
    ]);
  });

  void it('removes one, tolerates one already gone; cleanup removes only the labelled ones', async () => {
    const netlink = new FakeNetlink();
    const lo = new LoopbackAddresses(netlink);
    await lo.add('10.11.0.1/32');
    await lo.add('10.12.0.1/32');
    await netlink.addAddress({ ifindex: 1, cidr: '10.99.0.1/32', label: 'lo:other' });
    await lo.remove('10.11.0.1/32');
    await lo.remove('10.11.0.1/32');
    assert.deepEqual(await lo.removeLabelled(), ['10.12.0.1/32']);
    assert.deepEqual(
      netlink.addresses.map((a) => a.cidr),
      ['10.99.0.1/32'],
    );
  });

  void it('names the address when the kernel refuses it', async () => {
    const netlink = new FakeNetlink();
    netlink.failOn((c) => c.op === 'addAddress', 'EPERM');
    const lo = new LoopbackAddresses(netlink);
    await assert.rejects(lo.add('10.11.0.1/32'), /add address 10\.11\.0\.1\/32 dev lo label lo:weft/);
  });
});
