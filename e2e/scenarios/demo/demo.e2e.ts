// The set-up `make demo` makes (e2e/lib/demo-setup.ts), on a lab of its own: every link of it carries
// pings between the LAN hosts, and the demo's multicast group, sent with TTL 1 from LAN a, is counted
// by the LAN hosts of b and c — packets that crossed a WireGuard and an IPsec tunnel.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  DEMO_GROUP,
  demoMulticast,
  Lab,
  linkDemoSites,
  ping,
  waitFor,
  type DemoLink,
  type Site,
} from '../../lib/index.js';

const COUNTER = `table ip democount {
  chain pre { type filter hook prerouting priority 0; policy accept;
    ip daddr ${DEMO_GROUP} udp dport 5000 counter comment "demo"
  }
}
`;

const SEND = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for i in range(3):
    s.sendto(b'hello', ('${DEMO_GROUP}', 5000))
    time.sleep(0.02)
`;

async function counted(site: Site): Promise<number> {
  const { stdout } = await site.lanExec(['nft', '-j', 'list', 'table', 'ip', 'democount']);
  const parsed = JSON.parse(stdout) as {
    nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[];
  };
  for (const item of parsed.nftables) {
    const c = item.rule?.expr.find((e) => e.counter)?.counter;
    if (c) return c.packets;
  }
  return 0;
}

describe('the demo lab: three sites, three tunnel types, one multicast group', { timeout: 240_000 }, () => {
  let lab: Lab;
  let links: DemoLink[];

  before(async () => {
    lab = await Lab.create({ sites: [{ name: 'a' }, { name: 'b' }, { name: 'c' }], name: 'demo-e2e' });
    const [a, b, c] = [lab.site('a'), lab.site('b'), lab.site('c')];
    for (const s of [a, b, c]) await applySiteSettings(s);
    for (const s of [b, c]) await s.lanExec(['nft', '-f', '-'], { input: COUNTER });
    links = await linkDemoSites(a, b, c);
    await demoMulticast(links);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('each link carries pings both ways between its LANs', async () => {
    assert.deepEqual(
      links.map((l) => `${l.from.name}-${l.to.name} ${l.type}`),
      ['a-b wireguard', 'a-c ipsec', 'b-c openvpn'],
    );
    for (const l of links) {
      await waitFor(() => ping(l.from, l.to.lanHost), {
        what: `LAN ${l.from.name} reaches LAN ${l.to.name} over ${l.type}`,
        timeoutMs: 40_000,
      });
      assert.ok(await ping(l.to, l.from.lanHost), `LAN ${l.to.name} reaches LAN ${l.from.name}`);
    }
  });

  it('the demo group sent with TTL 1 from LAN a reaches LANs b and c', async () => {
    const [b, c] = [lab.site('b'), lab.site('c')];
    const before = [await counted(b), await counted(c)];
    await lab.site('a').lanExec(['python3', '-c', SEND]);
    for (const [i, s] of [b, c].entries()) {
      await waitFor(async () => (await counted(s)) >= (before[i] ?? 0) + 3, {
        what: `LAN ${s.name} to count the 3 datagrams`,
        timeoutMs: 10_000,
      });
    }
  });
});
