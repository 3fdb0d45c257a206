// L2Service against the real kernel: two sites, hA — gA ══ routed path ══ gB — hB, each in its own
// namespace; what reaches hB is counted by an nftables counter in hB's namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NodeProcessRunner } from '../system/process.adapter.js';
import { assertInsideThrowawayNetns } from '../testing/kernel-helpers.js';
import { HeldNetns, linkNetns, waitUntil } from '../testing/netns-lab.js';
import { L2Service, type L2Desired } from './l2.js';

assertInsideThrowawayNetns();

const processes = new NodeProcessRunner();

const SEND = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for _ in range(int(sys.argv[2])): s.sendto(b'weft-l2', (sys.argv[1], 5353))
`;

void describe('L2Service (VXLAN head-end replication, nft netdev)', () => {
  let hA: HeldNetns;
  let gA: HeldNetns;
  let gB: HeldNetns;
  let hB: HeldNetns;
  let l2a: L2Service;
  let l2b: L2Service;

  const segment = (local: string, peers: string[], extra: Partial<L2Desired> = {}): L2Desired => ({
    vni: 4242,
    port: 4789,
    local,
    lan: 'lan0',
    mtu: 1400,
    peers,
    groups: ['224.0.0.0/24'],
    broadcast: false,
    ...extra,
  });
  const atB = async (): Promise<Record<string, number>> => {
    const parsed = JSON.parse(await hB.run('nft', '-j', 'list', 'table', 'ip', 'count')) as {
      nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
    };
    const out: Record<string, number> = {};
    for (const i of parsed.nftables) {
      if (i.rule?.comment) out[i.rule.comment] = i.rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
    }
    return out;
  };
  const send = (to: string, count = 3): Promise<string> => hA.run('python3', '-c', SEND, to, String(count));

  before(async () => {
    [hA, gA, gB, hB] = (await Promise.all(
      ['l2-ha', 'l2-ga', 'l2-gb', 'l2-hb'].map((n) => HeldNetns.create(n, processes)),
    )) as [HeldNetns, HeldNetns, HeldNetns, HeldNetns];
    await linkNetns(
      { ns: hA, name: 'eth0', address: '10.1.0.10/24' },
      { ns: gA, name: 'lan0', address: '10.1.0.1/24' },
    );
    await linkNetns(
      { ns: hB, name: 'eth0', address: '10.2.0.10/24' },
      { ns: gB, name: 'lan0', address: '10.2.0.1/24' },
    );
    await linkNetns(
      { ns: gA, name: 'wan0', address: '192.0.2.1/24' },
      { ns: gB, name: 'wan1', address: '192.0.2.2/24' },
    );
    await hA.run('ip', 'route', 'add', 'default', 'via', '10.1.0.1');
    await hB.run('ip', 'route', 'add', 'default', 'via', '10.2.0.1');
    await gA.run('ip', 'route', 'add', '10.2.0.0/24', 'via', '192.0.2.2');
    await gB.run('ip', 'route', 'add', '10.1.0.0/24', 'via', '192.0.2.1');
    await processes.run('nsenter', [...hB.launcher.slice(1), 'nft', '-f', '-'], {
      input: `table ip count {
  chain pre { type filter hook prerouting priority 0; policy accept;
    ip daddr 224.0.0.251 ip ttl 1 counter comment "mdns ttl 1"
    ip daddr 239.255.255.250 counter comment "ssdp"
    ip daddr 255.255.255.255 counter comment "broadcast"
  }
}
`,
    });
    l2a = new L2Service(processes, { launcher: gA.launcher });
    l2b = new L2Service(processes, { launcher: gB.launcher });
  });

  after(async () => {
    await Promise.all([hA, gA, gB, hB].map((n) => n?.destroy()));
  });

  void it('carries a TTL-1 link-local group from LAN a to LAN b, and nothing it was not told to', async () => {
    const a = segment('10.1.0.1', ['10.2.0.1']);
    const b = segment('10.2.0.1', ['10.1.0.1']);
    await l2a.apply(a);
    await l2b.apply(b);
    assert.deepEqual(await l2a.drift(a), []);
    const before = await atB();
    await send('224.0.0.251');
    await send('239.255.255.250');
    await waitUntil(
      async () => (await atB())['mdns ttl 1'] === (before['mdns ttl 1'] ?? 0) + 3,
      'hB to get 3',
    );
    assert.equal((await atB()).ssdp, before.ssdp ?? 0, 'a group outside groups stays on LAN a');
    const mtu = JSON.parse(await gA.run('ip', '-j', 'link', 'show', 'weft-l2')) as { mtu: number }[];
    assert.equal(mtu[0]?.mtu, 1400);
  });

  void it('broadcasts and more groups when asked; drift names what a hand edit changed', async () => {
    const a = segment('10.1.0.1', ['10.2.0.1'], {
      groups: ['224.0.0.0/24', '239.255.255.250'],
      broadcast: true,
    });
    const b = segment('10.2.0.1', ['10.1.0.1'], {
      groups: ['224.0.0.0/24', '239.255.255.250'],
      broadcast: true,
    });
    await l2a.apply(a);
    await l2b.apply(b);
    const before = await atB();
    await send('239.255.255.250');
    await send('255.255.255.255');
    await waitUntil(async () => (await atB()).ssdp === (before.ssdp ?? 0) + 3, 'ssdp at hB');
    await waitUntil(async () => (await atB()).broadcast === (before.broadcast ?? 0) + 3, 'broadcast at hB');
    await gA.run('bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', 'weft-l2', 'dst', '10.2.0.1');
    await gA.run('ip', 'link', 'set', 'weft-l2', 'mtu', '1300');
    assert.deepEqual(await l2a.drift(a), ['weft-l2: mtu 1300, not 1400', 'no flood entry to 10.2.0.1']);
    await l2a.apply(a);
    assert.deepEqual(await l2a.drift(a), []);
  });

  void it('a new vni makes the device again; cleanup removes the device and the table', async () => {
    const a = segment('10.1.0.1', ['10.2.0.1', '10.3.0.1'], { vni: 7 });
    await l2a.apply(a);
    assert.deepEqual(await l2a.drift(a), []);
    const detail = JSON.parse(await gA.run('ip', '-j', '-d', 'link', 'show', 'weft-l2')) as {
      linkinfo: { info_data: { id: number } };
    }[];
    assert.equal(detail[0]?.linkinfo.info_data.id, 7);
    await l2a.cleanup();
    assert.deepEqual(await l2a.drift(undefined), []);
    assert.doesNotMatch(await gA.run('nft', 'list', 'tables'), /weft_l2/);
    await l2b.cleanup();
  });
});
