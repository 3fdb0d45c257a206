import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { L2Desired } from '@weft/core';
import { normalize, type Link } from '../desired-state/document.js';
import { StepFailedError } from '../reconciler/module-driver.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
import { CoreMulticastL2Driver, type L2Port } from './core-multicast-l2.driver.js';

class FakeL2 implements L2Port {
  applied: (L2Desired | undefined)[] = [];
  drifts: string[] = [];
  fail = false;
  apply(d: L2Desired | undefined): Promise<void> {
    if (this.fail) return Promise.reject(new Error('ip link add weft-l2 … failed'));
    this.applied.push(d);
    return Promise.resolve();
  }
  drift(): Promise<string[]> {
    return Promise.resolve(this.drifts);
  }
  cleanup(): Promise<void> {
    return Promise.resolve();
  }
}

const KEY = 'x'.repeat(43) + '=';
const wg = (name: string, remote: string, extra: Partial<Link> = {}): Link =>
  ({
    name,
    type: 'wireguard',
    remote_subnets: [remote],
    wireguard: { peer_public_key: KEY },
    ...extra,
  }) as Link;
const doc = (
  l2: Record<string, unknown> | undefined,
  links = [wg('to-b', '10.2.0.0/24'), wg('to-c', '10.3.0.0/24', { mtu: 1300 })],
) =>
  normalize({
    appliance: { name: 'a', local_subnets: ['10.1.0.0/24'] },
    links,
    ...(l2 ? { multicast: { groups: [], l2: l2 as never } } : {}),
  });

void describe('CoreMulticastL2Driver', () => {
  let l2: FakeL2;
  let state: MemoryModuleState;
  let driver: CoreMulticastL2Driver;
  let lan: { ifname: string; address: string } | undefined;

  beforeEach(() => {
    l2 = new FakeL2();
    state = new MemoryModuleState();
    lan = { ifname: 'lan0', address: '10.1.0.1' };
    driver = new CoreMulticastL2Driver(
      l2,
      (link) => `wg-${link.name}`,
      {
        lan: () => Promise.resolve(lan),
        mtuOf: (ifname) => Promise.resolve(ifname === 'wg-to-b' ? 1420 : undefined),
      },
      state,
      silentLogger(),
    );
  });

  const peers = [
    { link: 'to-b', address: '10.2.0.1' },
    { link: 'to-c', address: '10.3.0.1' },
  ];

  void it('the segment: this LAN address as the local end, every peer, the smallest link MTU minus 50', async () => {
    assert.deepEqual(await driver.desired(doc({ vni: 9, peers })), {
      vni: 9,
      port: 4789,
      local: '10.1.0.1',
      lan: 'lan0',
      mtu: 1250,
      peers: ['10.2.0.1', '10.3.0.1'],
      groups: ['224.0.0.0/24'],
      broadcast: false,
    });
    assert.equal((await driver.desired(doc({ vni: 9, peers, mtu: 1000 })))?.mtu, 1000);
  });

  void it('leaves out peers behind disabled links; none left, or no LAN, is no segment', async () => {
    const d = doc({ vni: 9, peers }, [
      wg('to-b', '10.2.0.0/24', { enabled: false }),
      wg('to-c', '10.3.0.0/24'),
    ]);
    assert.deepEqual((await driver.desired(d))?.peers, ['10.3.0.1']);
    const off = doc({ vni: 9, peers: [peers[0]] }, [wg('to-b', '10.2.0.0/24', { enabled: false })]);
    assert.equal(await driver.desired(off), undefined);
    assert.match(driver.detail(), /every peer's link is disabled/);
    lan = undefined;
    assert.equal(await driver.desired(doc({ vni: 9, peers })), undefined);
    assert.match(driver.detail(), /no LAN interface/);
  });

  void it('plans create, nothing while in place, put back on drift, delete when removed', async () => {
    assert.deepEqual(await driver.plan(doc(undefined)), []);
    const [create] = await driver.plan(doc({ vni: 9, peers }));
    assert.equal(create?.action.op, 'create');
    assert.match(
      create?.action.summary ?? '',
      /VXLAN 9 from 10\.1\.0\.1 on lan0 to 10\.2\.0\.1, 10\.3\.0\.1 \(MTU 1250\)/,
    );
    await driver.apply(create ? [create] : []);
    assert.deepEqual(await driver.plan(doc({ vni: 9, peers })), []);
    l2.drifts = ['no flood entry to 10.3.0.1'];
    const [back] = await driver.plan(doc({ vni: 9, peers }));
    assert.match(back?.action.summary ?? '', /^put back \(no flood entry to 10\.3\.0\.1\)/);
    const [del] = await driver.plan(doc(undefined));
    assert.equal(del?.action.op, 'delete');
    await driver.apply(del ? [del] : []);
    assert.equal(l2.applied.at(-1), undefined);
    assert.deepEqual(await driver.plan(doc(undefined)), []);
  });

  void it('names the step that failed and remembers nothing', async () => {
    l2.fail = true;
    await assert.rejects(driver.apply(await driver.plan(doc({ vni: 9, peers }))), StepFailedError);
    assert.equal(state.get('segment'), undefined);
  });
});
