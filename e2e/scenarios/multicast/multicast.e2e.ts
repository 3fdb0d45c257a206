// Multicast over the overlay end to end, through the APIs alone. One group, 239.1.1.1, sent from LAN a
// with TTL 1 (the TTL lift on gw a lets it cross two routers) to three sites over three tunnel types:
//
//   LAN a 10.1.0.0/24 ── gw a ══ WireGuard ══ gw b ── LAN b 10.2.0.0/24   (receiver b)
//     (sender)              ╠══ OpenVPN   ══ gw c ── LAN c 10.3.0.0/24   (receiver c)
//                           ╚══ IPsec     ══ gw d ── LAN d 10.4.0.0/24   (receiver d)
//
// Every delivery is counted by an nftables counter in the receiving LAN host's namespace: what is
// counted there crossed a tunnel and a remote gateway's multicast route.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  caOf,
  importPeerConfig,
  Lab,
  linkIpsec,
  linkWireGuard,
  ping,
  waitFor,
  type Json,
  type Site,
} from '../../lib/index.js';

const GROUP = '239.1.1.1';

/**
 * The forwarder the appliances pick (multicast: auto): the kernel's multicast routing with smcrouted
 * where the kernel has it, else nftables dup rules.
 */
const ENGINE = existsSync('/proc/net/ip_mr_vif') ? 'mroute' : 'nftables';

/** Sends `count` UDP datagrams to GROUP:5000 with TTL 1, as discovery protocols do. */
const SEND = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for i in range(int(sys.argv[1])):
    s.sendto(b'weft-multicast', ('${GROUP}', 5000))
    time.sleep(0.02)
`;

const COUNTER_TABLE = `table ip mcount {
  chain pre { type filter hook prerouting priority 0; policy accept;
    ip daddr ${GROUP} udp dport 5000 counter comment "g1"
    ip daddr 224.0.0.251 ip ttl 1 udp dport 5353 counter comment "mdns"
  }
}
`;

/** Sends `count` mDNS-like datagrams (224.0.0.251:5353, TTL 1: never routed). */
const SEND_LINK_LOCAL = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
for i in range(int(sys.argv[1])): s.sendto(b'weft-l2', ('224.0.0.251', 5353))
`;

/** Datagrams to GROUP that reached the LAN host of `site`. */
async function received(site: Site, comment = 'g1'): Promise<number> {
  const { stdout } = await site.lanExec(['nft', '-j', 'list', 'table', 'ip', 'mcount']);
  const parsed = JSON.parse(stdout) as {
    nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
  };
  const rule = parsed.nftables.find((i) => i.rule?.comment === comment)?.rule;
  return rule?.expr.find((e) => e.counter)?.counter?.packets ?? 0;
}

interface GroupStatus {
  name: string;
  state: string;
  detail: string | null;
  packets: number;
  senders: { source: string; packets: number }[];
}

async function groupStatus(site: Site): Promise<GroupStatus | undefined> {
  const res = await site.api.get<{ multicast?: GroupStatus[] }>('/status');
  return res.body.multicast?.find((g) => g.name === 'g1');
}

async function putGroups(site: Site, groups: Json[], extra: Json = {}): Promise<void> {
  const current = await site.api.get<Json>('/config');
  const res = await site.api.put(
    '/config',
    { ...current.body, multicast: { ...extra, groups } },
    { headers: { 'if-match': String(current.headers.etag) } },
  );
  assert.equal(res.status, 200, `site ${site.name}: PUT /config: ${JSON.stringify(res.body)}`);
}

/** The PIDs whose argv names `socket` (smcrouted started with `-u <socket>`). */
function processesNaming(socket: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (argv.includes(socket)) pids.push(Number(entry));
  }
  return pids;
}

describe(
  'multicast over the overlay: one group, three sites, three tunnel types',
  { timeout: 300_000 },
  () => {
    let lab: Lab;
    let a: Site;
    let b: Site;
    let c: Site;
    let d: Site;
    const linkOn: Record<string, string> = {};

    /** Sends `count` datagrams from LAN a and waits until each of `reach` counted them all. */
    async function sendAndExpect(count: number, reach: Site[], miss: Site[]): Promise<void> {
      const before = new Map<Site, number>();
      for (const s of [...reach, ...miss]) before.set(s, await received(s));
      await a.lanExec(['python3', '-c', SEND, String(count)]);
      for (const s of reach) {
        await waitFor(async () => (await received(s)) >= (before.get(s) ?? 0) + count, {
          what: `LAN ${s.name} to receive ${count} datagrams`,
          timeoutMs: 10_000,
        });
        assert.equal(await received(s), (before.get(s) ?? 0) + count, `LAN ${s.name}: exactly ${count} more`);
      }
      for (const s of miss) {
        assert.equal(await received(s), before.get(s), `LAN ${s.name} receives none of them`);
      }
    }

    before(async () => {
      lab = await Lab.create({
        sites: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'd' }],
        name: 'mcast',
      });
      [a, b, c, d] = [lab.site('a'), lab.site('b'), lab.site('c'), lab.site('d')];
      for (const s of [a, b, c, d]) await applySiteSettings(s);
      for (const s of [b, c, d]) await s.lanExec(['nft', '-f', '-'], { input: COUNTER_TABLE });

      linkOn.b = (await linkWireGuard(a, b)).onB;
      const made = await a.api.post('/links', {
        name: 'to-c',
        type: 'openvpn',
        remote_endpoint: `${c.wanAddress}:1194`,
        remote_subnets: [c.lanPrefix],
        openvpn: { remote_ca: await caOf(c) },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      linkOn.c = await importPeerConfig(a, c, 'to-c');
      linkOn.d = (await linkIpsec(a, d, 'multicast-e2e-psk-0123456789')).onB;
      for (const s of [b, c, d]) {
        await waitFor(() => ping(a, s.lanHost), {
          what: `LAN a reaches LAN ${s.name}`,
          timeoutMs: 40_000,
        });
      }
    });
    after(async () => {
      await lab?.destroy();
    });

    it('verify refuses a link-local group and an unknown link, naming the fields', async () => {
      const current = await a.api.get<Json>('/config');
      const res = await a.api.put(
        '/config',
        {
          ...current.body,
          multicast: { groups: [{ name: 'g1', group: '224.0.0.251', from: 'lan', to: ['to-x'] }] },
        },
        { headers: { 'if-match': String(current.headers.etag) } },
      );
      assert.equal(res.status, 422, JSON.stringify(res.body));
      const pointers = (res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer);
      assert.deepEqual(pointers, ['/multicast/groups/0/group', '/multicast/groups/0/to/0']);
    });

    it('a TTL-1 group from LAN a reaches LANs b (WireGuard), c (OpenVPN) and d (IPsec) at once; counters move', async () => {
      for (const s of [b, c, d]) {
        await putGroups(s, [{ name: 'g1', group: GROUP, from: linkOn[s.name] ?? '', to: ['lan'] }]);
      }
      await putGroups(a, [
        { name: 'g1', group: GROUP, from: 'lan', to: ['to-b', 'to-c', 'to-d'], ttl_lift: 8 },
      ]);
      await waitFor(async () => (await groupStatus(a))?.state === 'forwarding', {
        what: 'group g1 forwarding on a',
        timeoutMs: 10_000,
      });
      await sendAndExpect(5, [b, c, d], []);
      const onA = await groupStatus(a);
      assert.ok((onA?.packets ?? 0) >= 5, JSON.stringify(onA));
      assert.deepEqual(
        onA?.senders.map((s) => s.source),
        [a.lanHost],
      );
      for (const s of [b, c, d]) {
        const g = await groupStatus(s);
        assert.equal(g?.state, 'forwarding', `site ${s.name}: ${JSON.stringify(g)}`);
        assert.ok((g?.packets ?? 0) >= 5, `site ${s.name} counted what it forwarded: ${JSON.stringify(g)}`);
      }
      const metrics = await a.api.get<string>('/metrics');
      assert.match(
        String(metrics.body),
        /weft_multicast_packets_total\{name="g1",group="239\.1\.1\.1"\} [1-9]/,
      );
    });

    it('without the TTL lift the TTL-1 datagrams never leave LAN a (the control)', async () => {
      await putGroups(a, [{ name: 'g1', group: GROUP, from: 'lan', to: ['to-b', 'to-c', 'to-d'] }]);
      // a's kernel counts a datagram when it decides about it: once it has counted all three, none of
      // them is still on its way to b, c or d, so "none arrived" is not read too early.
      const a0 = (await groupStatus(a))?.packets ?? 0;
      const seen = new Map<Site, number>();
      for (const s of [b, c, d]) seen.set(s, await received(s));
      await a.lanExec(['python3', '-c', SEND, '3']);
      await waitFor(async () => ((await groupStatus(a))?.packets ?? 0) >= a0 + 3, {
        what: 'gw a to count the 3 TTL-1 datagrams it received',
        timeoutMs: 10_000,
      });
      for (const s of [b, c, d]) {
        assert.equal(await received(s), seen.get(s), `LAN ${s.name} receives none of them`);
      }
      await putGroups(a, [
        { name: 'g1', group: GROUP, from: 'lan', to: ['to-b', 'to-c', 'to-d'], ttl_lift: 8 },
      ]);
      await sendAndExpect(3, [b, c, d], []);
    });

    it('removing c from the group stops delivery to c only, without restarting or resetting the forwarder', async () => {
      const socket = join(a.dataDir, 'multicast', 'smcroute.sock');
      const [pid] = processesNaming(socket);
      if (ENGINE === 'mroute') assert.ok(pid, 'smcrouted runs for a');
      else assert.equal(pid, undefined, 'no smcrouted: the nftables forwarder runs');
      const counted = (await groupStatus(a))?.packets ?? 0;
      await putGroups(a, [{ name: 'g1', group: GROUP, from: 'lan', to: ['to-b', 'to-d'], ttl_lift: 8 }]);
      await sendAndExpect(4, [b, d], [c]);
      if (ENGINE === 'mroute') assert.deepEqual(processesNaming(socket), [pid], 'the same smcrouted');
      else {
        const after = (await groupStatus(a))?.packets ?? 0;
        assert.equal(after, counted + 4, 'the group counter goes on across the change (not reset)');
      }
      await putGroups(a, [
        { name: 'g1', group: GROUP, from: 'lan', to: ['to-b', 'to-c', 'to-d'], ttl_lift: 8 },
      ]);
      await sendAndExpect(4, [b, c, d], []);
    });

    it('L2 option: a TTL-1 link-local datagram (224.0.0.251) from LAN a reaches LANs b (WireGuard) and d (IPsec) in VXLAN, not c', async () => {
      const l2 = async (site: Site, peers: Json[]): Promise<number> => {
        const current = await site.api.get<Json>('/config');
        const res = await site.api.put(
          '/config',
          { ...current.body, multicast: { ...(current.body.multicast as Json), l2: { vni: 4242, peers } } },
          { headers: { 'if-match': String(current.headers.etag) } },
        );
        return res.status === 200
          ? 200
          : assert.fail(`site ${site.name}: ${res.status} ${JSON.stringify(res.body)}`);
      };
      const wrong = await a.api.get<Json>('/config');
      const refused = await a.api.put(
        '/config',
        {
          ...wrong.body,
          multicast: {
            ...(wrong.body.multicast as Json),
            l2: { vni: 4242, peers: [{ link: 'to-b', address: d.lanGateway }] },
          },
        },
        { headers: { 'if-match': String(wrong.headers.etag) } },
      );
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.deepEqual(
        (refused.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer),
        ['/multicast/l2/peers/0/address'],
      );
      await l2(a, [
        { link: 'to-b', address: b.lanGateway },
        { link: 'to-d', address: d.lanGateway },
      ]);
      await l2(b, [{ link: linkOn.b ?? '', address: a.lanGateway }]);
      await l2(d, [{ link: linkOn.d ?? '', address: a.lanGateway }]);
      const before = {
        b: await received(b, 'mdns'),
        c: await received(c, 'mdns'),
        d: await received(d, 'mdns'),
      };
      await a.lanExec(['python3', '-c', SEND_LINK_LOCAL, '4']);
      for (const [s, n] of [
        [b, before.b],
        [d, before.d],
      ] as const) {
        await waitFor(async () => (await received(s, 'mdns')) === n + 4, {
          what: `LAN ${s.name} to receive the 4 link-local datagrams with TTL 1`,
          timeoutMs: 10_000,
        });
      }
      assert.equal(await received(c, 'mdns'), before.c, 'c is not in the segment');
      const link = JSON.parse((await a.exec(['ip', '-j', 'link', 'show', 'weft-l2'])).stdout) as {
        mtu: number;
      }[];
      assert.ok((link[0]?.mtu ?? 0) <= 1420 - 50, `weft-l2 MTU ${link[0]?.mtu}: the links' MTU minus 50`);
    });

    it('kill -9 of the appliance and a restart: the same routes, no duplicate, delivery goes on', async () => {
      const socket = join(a.dataDir, 'multicast', 'smcroute.sock');
      const conf = (): string => readFileSync(join(a.dataDir, 'multicast', 'smcroute.conf'), 'utf8');
      /** The routes the kernel forwards by: group, inbound, then the outbound interfaces sorted. */
      const routes = async (): Promise<string> => {
        if (ENGINE === 'nftables') {
          // One rule per route; the counters and handles left out.
          return (await a.exec(['nft', 'list', 'chain', 'ip', 'weft_mcast', 'prerouting'])).stdout
            .split('\n')
            .filter((l) => l.includes('comment "route '))
            .map((l) => l.trim().replace(/ packets \d+ bytes \d+/, ''))
            .join('\n');
        }
        return (
          (await a.exec(['smcroutectl', '-p', '-u', socket, 'show', 'routes'])).stdout
            .split('\n')
            .filter((l) => l.startsWith('(*, '))
            // smcrouted lists the outbound interfaces by VIF index, and a tunnel device made again after
            // the restart gets a new one
            .map((l) => {
              const [star, group, iif, ...oifs] = l.split(/\s+/);
              return [star, group, iif, ...oifs.sort()].join(' ');
            })
            .join('\n')
        );
      };
      const counted = (await groupStatus(a))?.packets ?? 0;
      const before = {
        conf: ENGINE === 'mroute' ? conf() : '',
        routes: await routes(),
        pids: processesNaming(socket),
      };
      assert.equal(before.pids.length, ENGINE === 'mroute' ? 1 : 0);
      assert.equal(
        (before.routes.match(/239\.1\.1\.1/g) ?? []).length,
        ENGINE === 'mroute' ? 1 : 2,
        before.routes,
      );
      await a.kill9();
      await a.start();
      await waitFor(async () => (await a.api.get('/ready', { token: null })).status === 200, {
        timeoutMs: 20_000,
        what: 'appliance a ready again',
      });
      if (ENGINE === 'mroute') {
        assert.deepEqual(
          processesNaming(socket),
          before.pids,
          'the earlier smcrouted, adopted, and no second one',
        );
        assert.equal(conf(), before.conf);
        assert.equal(await routes(), before.routes);
      } else {
        assert.deepEqual(processesNaming(socket), [], 'no smcrouted started');
      }
      // The tunnels come back first (an openvpn whose appliance died is started again, with a new
      // tun); the multicast routes follow their devices.
      for (const s of [b, c, d]) {
        await waitFor(() => ping(a, s.lanHost), {
          what: `LAN a reaches LAN ${s.name} again`,
          timeoutMs: 40_000,
        });
      }
      await waitFor(async () => (await groupStatus(a))?.detail === null, {
        what: 'group g1 on a with every interface there',
        timeoutMs: 10_000,
      });
      await sendAndExpect(3, [b, c, d], []);
      if (ENGINE === 'nftables') {
        // Once the tunnels' devices are back the drift check re-resolves them: the same rules as before
        // (by name), one per route, and the counter went on from where it was.
        await waitFor(async () => (await routes()) === before.routes, {
          what: 'the multicast rules on a as before the kill',
          timeoutMs: 40_000,
        });
        assert.ok(((await groupStatus(a))?.packets ?? 0) >= counted + 3, 'the group counter kept its count');
      }
    });
  },
);
