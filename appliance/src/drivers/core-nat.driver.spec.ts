import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { NftDesired } from '@weft/core';
import { normalize, type ConfigDocument, type Link } from '../desired-state/document.js';
import { StepFailedError } from '../reconciler/module-driver.js';
import { MemoryModuleState, silentLogger } from '../testing/doubles.js';
import { CoreNatDriver, type NftPort } from './core-nat.driver.js';

class FakeNft implements NftPort {
  applied: NftDesired[] = [];
  drifts: string[] = [];
  missing: string | undefined;
  fail = false;
  cleaned = 0;
  unavailable(): Promise<string | undefined> {
    return Promise.resolve(this.missing);
  }
  apply(desired: NftDesired): Promise<void> {
    if (this.fail) return Promise.reject(new Error('/dev/stdin:3:1-20: Error: Could not process rule'));
    this.applied.push(desired);
    return Promise.resolve();
  }
  drift(): Promise<string[]> {
    return Promise.resolve(this.drifts);
  }
  cleanup(): Promise<void> {
    this.cleaned++;
    return Promise.resolve();
  }
}

const KEY = 'x'.repeat(43) + '=';
const wg = (name: string, extra: Partial<Link> = {}): Link =>
  ({
    name,
    type: 'wireguard',
    remote_subnets: ['10.2.0.0/24'],
    wireguard: { peer_public_key: KEY },
    ...extra,
  }) as Link;
const doc = (links: Link[], extra: Partial<ConfigDocument> = {}) =>
  normalize({
    appliance: { name: 'site-a', local_subnets: ['10.1.0.0/24'] },
    links,
    ...extra,
  });

void describe('CoreNatDriver', () => {
  let nft: FakeNft;
  let state: MemoryModuleState;
  let driver: CoreNatDriver;
  let underlay: string | undefined;

  beforeEach(async () => {
    nft = new FakeNft();
    state = new MemoryModuleState();
    underlay = 'wan0';
    driver = new CoreNatDriver(
      nft,
      (link) => (link.type === 'ipsec' ? 'ipsec0' : `wg-${link.name}`),
      {
        underlay: (ifname) => Promise.resolve(ifname ?? underlay),
        tunnelPorts: () => ({ udp: [51820, 500, 4500], tcp: [] }),
        apiPort: 8080,
        lanInterface: (d) => Promise.resolve(d.multicast?.lan_interface ?? 'lan0'),
      },
      state,
      silentLogger(),
    );
    await driver.start();
  });

  void it('lifts the TTL of multicast groups sent from the LAN, one rule per TTL, on the LAN interface', async () => {
    const d = doc([wg('to-b')], {
      multicast: {
        groups: [
          { name: 'g1', group: '239.1.1.1', from: 'lan', to: ['to-b'], ttl_lift: 8 },
          { name: 'g2', group: '239.2.0.0/16', from: 'lan', to: ['to-b'], ttl_lift: 8 },
          { name: 'g3', group: '239.3.3.3', from: 'lan', to: ['to-b'], ttl_lift: 4 },
          { name: 'g4', group: '239.4.4.4', from: 'lan', to: ['to-b'] },
          { name: 'g5', group: '239.5.5.5', from: 'to-b', to: ['lan'] },
        ],
      },
    });
    assert.deepEqual((await driver.desired(d)).multicastTtl, [
      { iif: 'lan0', groups: ['239.3.3.3'], ttl: 4 },
      { iif: 'lan0', groups: ['239.1.1.1', '239.2.0.0/16'], ttl: 8 },
    ]);
    const [step] = await driver.plan(d);
    assert.match(step?.action.summary ?? '', /multicast TTL lift on lan0 to 4, lan0 to 8/);
    assert.equal((await driver.desired(doc([wg('to-b')]))).multicastTtl, undefined);
  });

  void it('renders masquerade by the underlay, MSS clamping per tunnel device, a netmap with the wire remote', async () => {
    const d = doc(
      [
        wg('to-b', {
          remote_subnets: ['10.1.0.0/24'],
          netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
        }),
        wg('to-c', { type: 'ipsec', remote_subnets: ['10.3.0.0/24'] }),
        wg('off', { enabled: false }),
      ],
      {
        nat: {
          masquerade: true,
          port_forwards: [{ name: 'web', protocol: 'tcp', port: 8081, to: '10.1.0.10' }],
        },
      },
    );
    const desired = await driver.desired(d);
    assert.deepEqual(desired, {
      // Never masqueraded: what goes to the remote sites (the wire prefixes).
      masquerade: { underlay: 'wan0', sources: ['10.1.0.0/24'], exceptTo: ['10.12.0.0/24', '10.3.0.0/24'] },
      input: { underlay: 'wan0', udpPorts: [51820, 500, 4500], tcpPorts: [] },
      forwardRules: [],
      portForwards: [
        { name: 'web', iif: 'wan0', protocol: 'tcp', port: 8081, to: '10.1.0.10', toPort: 8081 },
      ],
      netmaps: [
        {
          link: 'to-b',
          device: 'wg-to-b',
          real: '10.1.0.0/24',
          mapped: '10.11.0.0/24',
          remote: ['10.12.0.0/24'],
        },
      ],
      mssClamp: [{ device: 'ipsec0' }, { device: 'wg-to-b' }],
    });
  });

  void it('firewall: the input filter opens the API from api_from only; rules per link and direction, in order', async () => {
    const d = doc([wg('to-b'), wg('off', { enabled: false })], {
      firewall: {
        api_from: ['198.51.100.0/24'],
        rules: [
          { name: 'no-ssh', link: 'to-b', direction: 'in', protocol: 'tcp', port: '22', action: 'reject' },
          {
            name: 'web',
            link: 'to-b',
            destination: '10.2.0.0/24',
            protocol: 'tcp',
            port: '8000-8100',
            action: 'accept',
          },
          { name: 'gone', link: 'off', action: 'drop' },
          { name: 'no-icmp', protocol: 'icmp', action: 'drop' },
        ],
      },
    });
    const desired = await driver.desired(d);
    assert.deepEqual(desired.input?.api, { port: 8080, from: ['198.51.100.0/24'] });
    assert.deepEqual(desired.forwardRules, [
      { name: 'no-ssh', iif: 'wg-to-b', protocol: 'tcp', ports: { from: 22, to: 22 }, action: 'reject' },
      {
        name: 'web.in',
        iif: 'wg-to-b',
        dst: ['10.2.0.0/24'],
        protocol: 'tcp',
        ports: { from: 8000, to: 8100 },
        action: 'accept',
      },
      {
        name: 'web.out',
        oif: 'wg-to-b',
        dst: ['10.2.0.0/24'],
        protocol: 'tcp',
        ports: { from: 8000, to: 8100 },
        action: 'accept',
      },
      { name: 'no-icmp', protocol: 'icmp', action: 'drop' },
    ]);
    const open = await driver.desired(doc([wg('to-b')], { firewall: { underlay_input: 'open' } }));
    assert.equal(open.input, undefined);
  });

  void it('masquerade off, or no underlay known: no masquerade rule; a forward from a link enters by its device', async () => {
    const d = doc([wg('to-b')], {
      nat: {
        masquerade: false,
        port_forwards: [
          { name: 'ssh', protocol: 'tcp', port: 2222, to: '10.1.0.10', to_port: 22, from_link: 'to-b' },
        ],
      },
    });
    const desired = await driver.desired(d);
    assert.equal(desired.masquerade, undefined);
    assert.deepEqual(desired.portForwards, [
      { name: 'ssh', iif: 'wg-to-b', protocol: 'tcp', port: 2222, to: '10.1.0.10', toPort: 22 },
    ]);
    underlay = undefined;
    assert.equal((await driver.desired(doc([]))).masquerade, undefined);
  });

  void it('one step replaces the table; then nothing to do until the document or the kernel differs', async () => {
    const d = doc([wg('to-b')]);
    const steps = await driver.plan(d);
    assert.equal(steps.length, 1);
    assert.equal(steps[0]?.action.op, 'create');
    assert.match(
      steps[0]?.action.summary ?? '',
      /one transaction: masquerade via wan0, 0 port forward\(s\), 0 netmap\(s\), MSS clamping on 1 tunnel device/,
    );
    await driver.apply(steps);
    assert.equal(nft.applied.length, 1);
    assert.deepEqual(await driver.plan(d), []);
    // Someone changed our table by hand: put back.
    nft.drifts = ['rule added in chain postrouting: oifname "eth9" masquerade'];
    const again = await driver.plan(d);
    assert.equal(again[0]?.action.op, 'update');
    assert.match(again[0]?.action.summary ?? '', /put back \(rule added in chain postrouting/);
    nft.drifts = [];
    // A new link: a new table.
    assert.equal((await driver.plan(doc([wg('to-b'), wg('to-c')]))).length, 1);
  });

  void it('a refused apply is a StepFailedError with nft’s message; the state keeps the old table', async () => {
    await driver.apply(await driver.plan(doc([])));
    const before = state.get('table');
    nft.fail = true;
    const steps = await driver.plan(doc([wg('to-b')]));
    await assert.rejects(driver.apply(steps), (err: unknown) => {
      assert.ok(err instanceof StepFailedError);
      assert.match(String((err.cause as Error).message), /Could not process rule/);
      return true;
    });
    assert.equal(state.get('table'), before);
  });

  void it('verify: a UDP forward from the underlay onto a port a tunnel picked for itself is refused', () => {
    const d = doc([wg('to-b')], {
      nat: {
        masquerade: true,
        port_forwards: [
          { name: 'wg', protocol: 'udp', port: 51820, to: '10.1.0.10' },
          { name: 'tcp-ok', protocol: 'tcp', port: 51820, to: '10.1.0.10' },
          { name: 'from-link-ok', protocol: 'udp', port: 500, to: '10.1.0.10', from_link: 'to-b' },
        ],
      },
    });
    const problems = driver.verify(d);
    assert.deepEqual(
      problems.map((p) => p.pointer),
      ['/nat/port_forwards/0/port'],
    );
    assert.match(problems[0]?.message ?? '', /picked for itself/);
  });

  void it('without nft: plans nothing and says why; cleanup removes the table', async () => {
    nft.missing = 'nftables is not installed: apt install nftables';
    await driver.start();
    assert.deepEqual(await driver.plan(doc([wg('to-b')])), []);
    assert.match(driver.detail(), /not installed/);
    await driver.cleanup();
    assert.equal(nft.cleaned, 1);
  });
});
