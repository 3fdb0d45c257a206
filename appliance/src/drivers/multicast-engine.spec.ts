import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { presentRoutes, type MulticastApplyResult, type MulticastDesired } from '@weft/core';
import { MulticastEngineSelector, type MulticastEngine } from './multicast-engine.js';

class FakeEngine implements MulticastEngine {
  applied = 0;
  cleaned = 0;
  stopped = 0;
  constructor(private readonly missing?: string) {}
  unavailable(): Promise<string | undefined> {
    return Promise.resolve(this.missing);
  }
  apply(desired: MulticastDesired): Promise<MulticastApplyResult> {
    this.applied++;
    return Promise.resolve(presentRoutes(desired, ['lan0', 'wg-b']));
  }
  drift(): Promise<string[]> {
    return Promise.resolve([]);
  }
  counters(): Promise<never[]> {
    return Promise.resolve([]);
  }
  stop(): Promise<void> {
    this.stopped++;
    return Promise.resolve();
  }
  cleanup(): Promise<void> {
    this.cleaned++;
    return Promise.resolve();
  }
}

const NO_MROUTE = 'the kernel has no IPv4 multicast routing (CONFIG_IP_MROUTE)';
const desired: MulticastDesired = { routes: [{ group: '239.1.1.1', inbound: 'lan0', outbound: ['wg-b'] }] };

void describe('MulticastEngineSelector', () => {
  void it('auto: takes mroute where it can run and cleans the nftables forwarder', async () => {
    const mroute = new FakeEngine();
    const nftables = new FakeEngine();
    const s = new MulticastEngineSelector('auto', { mroute, nftables });
    assert.deepEqual(await s.select(), {
      engine: 'mroute',
      why: 'the kernel has multicast routing and smcroute is installed',
    });
    assert.equal(s.engine, 'mroute');
    await s.apply(desired);
    assert.deepEqual([mroute.applied, nftables.applied, nftables.cleaned, mroute.cleaned], [1, 0, 1, 0]);
  });

  void it('auto: falls back to nftables where the kernel has no multicast routing, saying why', async () => {
    const mroute = new FakeEngine(NO_MROUTE);
    const nftables = new FakeEngine();
    const s = new MulticastEngineSelector('auto', { mroute, nftables });
    assert.equal(await s.unavailable(), undefined);
    assert.equal(s.engine, 'nftables');
    assert.match((await s.select()).why, /CONFIG_IP_MROUTE.*nftables dup forwards instead/);
    await s.apply(desired);
    await s.stop();
    assert.deepEqual([nftables.applied, nftables.stopped, mroute.cleaned, mroute.applied], [1, 1, 1, 0]);
  });

  void it('a forced engine that cannot run is unavailable, with the fix; nothing falls back behind it', async () => {
    const mroute = new FakeEngine(NO_MROUTE);
    const nftables = new FakeEngine();
    const s = new MulticastEngineSelector('mroute', { mroute, nftables });
    assert.equal(await s.unavailable(), `${NO_MROUTE} (multicast is set to mroute; set auto or nftables)`);
    assert.equal(s.engine, undefined);
    await assert.rejects(s.apply(desired), /multicast forwarding unavailable/);
    assert.equal(nftables.applied, 0);
  });

  void it('forced nftables runs nftables even where mroute could', async () => {
    const mroute = new FakeEngine();
    const nftables = new FakeEngine();
    const s = new MulticastEngineSelector('nftables', { mroute, nftables });
    assert.equal((await s.select()).engine, 'nftables');
    assert.equal(mroute.cleaned, 1);
  });

  void it('auto with neither: both reasons; cleanup still asks both', async () => {
    const mroute = new FakeEngine(NO_MROUTE);
    const nftables = new FakeEngine('nftables is not installed: apt install nftables');
    const s = new MulticastEngineSelector('auto', { mroute, nftables });
    assert.equal(await s.unavailable(), `${NO_MROUTE}; and nftables is not installed: apt install nftables`);
    await s.cleanup();
    assert.deepEqual([mroute.cleaned, nftables.cleaned], [1, 1]);
  });
});
