// The core's NAT end to end, through the APIs alone. Four sites with the SAME LAN, 10.1.0.0/24:
//
//   LAN a 10.1.0.0/24 ── gw a ══ WireGuard (netmap: a as 10.11, b as 10.12) ══ gw b ── LAN b 10.1.0.0/24
//                            ╠══ IPsec     (netmap: a as 10.11, c as 10.13) ══ gw c ── LAN c 10.1.0.0/24
//                            ╚══ OpenVPN   (netmap: a as 10.11, d as 10.14) ══ gw d ── LAN d 10.1.0.0/24
//
// Host a (10.1.0.10) reaches host b at 10.12.0.10 and host c at 10.13.0.10; b and c see it as
// 10.11.0.10. Then masquerade (a LAN host reaches the fake internet's server, which sees gw a's
// underlay address) and a DNAT port forward (the internet reaches a LAN host through gw a's port).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  caOf,
  captureIn,
  ExecError,
  importPeerConfig,
  Lab,
  ping,
  waitFor,
  wireguardPublicKey,
  type Json,
  type Site,
} from '../../lib/index.js';

const LAN = '10.1.0.0/24';

async function post(site: Site, path: string, body: Json): Promise<void> {
  const res = await site.api.post(path, body);
  assert.equal(res.status, 201, `site ${site.name}: POST ${path}: ${JSON.stringify(res.body)}`);
}

/** The addresses tcpdump shows as sources of ICMP echo requests on `ifname` in `netns`. */
async function echoSources(netns: string, ifname: string, during: () => Promise<unknown>): Promise<string[]> {
  const lines = await captureIn(netns, ifname, 1, during, { filter: 'icmp[icmptype] = icmp-echo' });
  return lines.map((l) => /IP (\d+\.\d+\.\d+\.\d+) >/.exec(l)?.[1] ?? l);
}

describe('NAT: NETMAP for overlapping LANs, masquerade, port forwards', { timeout: 300_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let c: Site;
  let d: Site;

  before(async () => {
    lab = await Lab.create({
      sites: [
        { name: 'a', lanPrefix: LAN },
        { name: 'b', lanPrefix: LAN },
        { name: 'c', lanPrefix: LAN },
        { name: 'd', lanPrefix: LAN },
      ],
      name: 'nat',
    });
    [a, b, c, d] = [lab.site('a'), lab.site('b'), lab.site('c'), lab.site('d')];
    for (const s of [a, b, c, d]) await applySiteSettings(s);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('verify refuses an overlapping remote subnet without netmap, naming the field and the fix', async () => {
    const res = await a.api.post('/links', {
      name: 'to-b',
      type: 'wireguard',
      remote_subnets: [LAN],
      wireguard: { peer_public_key: await wireguardPublicKey(b) },
    });
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.match(JSON.stringify(res.body), /netmap/);
  });

  it('WireGuard with netmap: host a reaches host b at 10.12.0.10, b sees 10.11.0.10, the reply comes back', async () => {
    await post(a, '/links', {
      name: 'to-b',
      type: 'wireguard',
      remote_subnets: [LAN],
      netmap: { local: '10.11.0.0/24', remote: '10.12.0.0/24' },
      wireguard: { peer_public_key: await wireguardPublicKey(b) },
    });
    await importPeerConfig(a, b, 'to-b');
    const onB = await b.api.get<Json>('/links/site-a');
    assert.deepEqual(onB.body.netmap, { local: '10.12.0.0/24', remote: '10.11.0.0/24' });
    await waitFor(() => ping(a, '10.12.0.10'), {
      what: 'host a pings host b at 10.12.0.10',
      timeoutMs: 20_000,
    });
    const sources = await echoSources(b.lanNetns, 'eth0', () => ping(a, '10.12.0.10'));
    assert.deepEqual(sources, ['10.11.0.10'], 'b sees a under its mapped address');
    assert.ok(await ping(b, '10.11.0.10'), 'and host b reaches host a the other way');
  });

  it('multicast over the netmap link: a TTL-1 group from host a reaches LAN b from a’s mapped address 10.11.0.10', async () => {
    const putGroups = async (site: Site, groups: Json[]): Promise<void> => {
      const current = await site.api.get<Json>('/config');
      const res = await site.api.put(
        '/config',
        { ...current.body, multicast: { groups } },
        { headers: { 'if-match': String(current.headers.etag) } },
      );
      assert.equal(res.status, 200, `site ${site.name}: ${JSON.stringify(res.body)}`);
    };
    await b.lanExec(['nft', '-f', '-'], {
      input: `table ip mcount {
  chain pre { type filter hook prerouting priority 0; policy accept;
    ip saddr 10.11.0.10 ip daddr 239.1.1.1 udp dport 5000 counter comment "mapped"
    ip daddr 239.1.1.1 udp dport 5000 counter comment "all"
  }
}
`,
    });
    const count = async (comment: string): Promise<number> => {
      const { stdout } = await b.lanExec(['nft', '-j', 'list', 'table', 'ip', 'mcount']);
      const parsed = JSON.parse(stdout) as {
        nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
      };
      const rule = parsed.nftables.find((i) => i.rule?.comment === comment)?.rule;
      return rule?.expr.find((e) => e.counter)?.counter?.packets ?? 0;
    };
    await putGroups(b, [{ name: 'g1', group: '239.1.1.1', from: 'site-a', to: ['lan'] }]);
    await putGroups(a, [{ name: 'g1', group: '239.1.1.1', from: 'lan', to: ['to-b'], ttl_lift: 8 }]);
    try {
      await a.lanExec([
        'python3',
        '-c',
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)\nfor i in range(3): s.sendto(b'netmap', ('239.1.1.1', 5000))\n",
      ]);
      await waitFor(async () => (await count('mapped')) === 3, {
        what: 'LAN b to receive the 3 datagrams from 10.11.0.10',
        timeoutMs: 10_000,
      });
      assert.equal(await count('all'), 3, 'every one of them from the mapped address');
    } finally {
      await putGroups(a, []);
      await putGroups(b, []);
    }
  });

  it('IPsec with netmap to a third site with the same LAN: both links work at once', async () => {
    await post(a, '/links', {
      name: 'to-c',
      type: 'ipsec',
      remote_endpoint: `${c.wanAddress}:500`,
      remote_subnets: [LAN],
      netmap: { local: '10.11.0.0/24', remote: '10.13.0.0/24' },
      ipsec: { preshared_key: 'nat-e2e-psk-0123456789abcdef' },
    });
    await importPeerConfig(a, c, 'to-c');
    await waitFor(() => ping(a, '10.13.0.10'), {
      what: 'host a pings host c at 10.13.0.10',
      timeoutMs: 30_000,
    });
    const sources = await echoSources(c.lanNetns, 'eth0', () => ping(a, '10.13.0.10'));
    assert.deepEqual(sources, ['10.11.0.10'], 'c sees a under its mapped address');
    assert.ok(await ping(c, '10.11.0.10'), 'host c reaches host a');
    assert.ok(await ping(a, '10.12.0.10'), 'b still answers over WireGuard');
  });

  it('OpenVPN with netmap to a fourth site with the same LAN; the other two links keep working', async () => {
    await post(a, '/links', {
      name: 'to-d',
      type: 'openvpn',
      remote_endpoint: `${d.wanAddress}:1194`,
      remote_subnets: [LAN],
      netmap: { local: '10.11.0.0/24', remote: '10.14.0.0/24' },
      openvpn: { remote_ca: await caOf(d) },
    });
    await importPeerConfig(a, d, 'to-d');
    await waitFor(() => ping(a, '10.14.0.10'), {
      what: 'host a pings host d at 10.14.0.10',
      timeoutMs: 30_000,
    });
    const sources = await echoSources(d.lanNetns, 'eth0', () => ping(a, '10.14.0.10'));
    assert.deepEqual(sources, ['10.11.0.10'], 'd sees a under its mapped address');
    assert.ok(await ping(d, '10.11.0.10'), 'host d reaches host a');
    assert.ok(await ping(a, '10.12.0.10'), 'b still answers over WireGuard');
    assert.ok(await ping(a, '10.13.0.10'), 'c still answers over IPsec');
  });

  it('masquerade: a LAN host reaches the internet server, which sees gw a’s underlay address', async () => {
    const sources = await echoSources(lab.inetNetns, 'br0', () => ping(a, lab.internetServer));
    assert.deepEqual(sources, [a.wanAddress]);
    assert.ok(await ping(a, lab.internetServer));
  });

  it('a DNAT port forward reaches a LAN host from the internet namespace', async () => {
    const current = await a.api.get<Json>('/config');
    const doc = {
      ...current.body,
      nat: { port_forwards: [{ name: 'web', protocol: 'tcp', port: 8081, to: a.lanHost }] },
    };
    const put = await a.api.put('/config', doc, { headers: { 'if-match': String(current.headers.etag) } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    // A one-connection TCP server on the LAN host, and a client on the internet (node: always there).
    const server = a.lanExec(
      [
        'timeout',
        '20',
        process.execPath,
        '-e',
        "const s = require('net').createServer((c) => { c.pipe(process.stdout); c.on('end', () => s.close()); }); s.listen(8081, () => console.log('listening'));",
      ],
      {},
    );
    await waitFor(async () => (await a.lanExec(['ss', '-Hltn', 'sport = :8081'])).stdout.includes('8081'), {
      what: 'the LAN host listens on 8081',
      timeoutMs: 5_000,
    });
    // The client ends when its line is sent; a refused or dropped connection fails the exec (an error
    // exits 1, no answer at all is cut off by the exec's own time limit).
    await lab.inetExec(
      [
        process.execPath,
        '-e',
        `const c = require('net').connect(8081, '${a.wanAddress}', () => c.end('hello-from-the-internet\\n')); c.on('error', () => process.exit(1));`,
      ],
      { timeoutMs: 10_000 },
    );
    const { stdout } = await server;
    assert.match(stdout, /hello-from-the-internet/);
  });

  it('the underlay input filter: a service on the gateway is not reachable from the internet, but from the LAN; the tunnels kept working under it', async () => {
    // Every link above came up with the filter on (it is the default): their ports are open.
    const listener = a
      .exec(
        [
          'timeout',
          '6',
          process.execPath,
          '-e',
          "require('net').createServer((c) => { c.on('error', () => undefined); c.end('hi\\n'); }).listen(9090, '0.0.0.0');",
        ],
        {},
      )
      .catch(() => undefined); // ended by its timeout
    await waitFor(async () => (await a.exec(['ss', '-Hltn', 'sport = :9090'])).stdout.includes('9090'), {
      what: 'the gateway listens on 9090',
      timeoutMs: 5_000,
    });
    const connect = (from: (argv: string[]) => Promise<unknown>, host: string) =>
      from([
        process.execPath,
        '-e',
        `const c = require('net').connect(9090, '${host}', () => { c.destroy(); process.exit(0); }); c.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), 2000);`,
      ]).then(
        () => true,
        () => false,
      );
    assert.equal(
      await connect((argv) => lab.inetExec(argv), a.wanAddress),
      false,
      'dropped from the underlay',
    );
    assert.equal(await connect((argv) => a.lanExec(argv), a.lanGateway), true, 'open from the LAN');
    const table = await a.exec(['nft', 'list', 'chain', 'inet', 'weft', 'input']);
    assert.match(table.stdout, /counter packets [1-9]\d* bytes \d+ drop comment "underlay: everything else"/);
    await listener;
  });

  it('a forward rule per link and direction: b can no longer open pings to a, a still pings b; removed, b pings again', async () => {
    const put = async (rules: Json[]): Promise<void> => {
      const current = await a.api.get<Json>('/config');
      const res = await a.api.put(
        '/config',
        { ...current.body, firewall: { rules } },
        { headers: { 'if-match': String(current.headers.etag) } },
      );
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await put([{ name: 'no-ping-in', link: 'to-b', direction: 'in', protocol: 'icmp', action: 'reject' }]);
    assert.equal(await ping(b, '10.11.0.10'), false, 'b → a refused');
    assert.ok(await ping(a, '10.12.0.10'), 'a → b still works (its replies pass)');
    assert.ok(await ping(c, '10.11.0.10'), 'c → a untouched (another link)');
    await put([]);
    assert.ok(await ping(b, '10.11.0.10'), 'b → a again');
  });

  it('fail-closed: with link to-b disabled, a ping to b’s LAN gets "unreachable" from gw a and nothing leaves by the underlay', async () => {
    const setEnabled = async (enabled: boolean): Promise<void> => {
      const link = (await a.api.get<Json>('/links/to-b')).body;
      const res = await a.api.put('/links/to-b', { ...link, enabled });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    };
    await setEnabled(false);
    let answer = '';
    const leaked = await captureIn(
      a.netns,
      'wan0',
      1,
      async () => {
        answer = await a
          .lanExec(['ping', '-n', '-c', '2', '-W', '1', '10.12.0.10'])
          .then((r) => r.stdout)
          .catch((e: unknown) => (e instanceof ExecError ? e.result.stdout : String(e)));
      },
      { filter: 'host 10.12.0.10 or host 10.1.0.10', timeoutMs: 3_000 },
    ).catch(() => [] as string[]);
    assert.match(answer, /Destination (Net|Host) Unreachable/, answer);
    assert.deepEqual(leaked, [], 'no packet for b’s LAN (nor from a’s) on the underlay');
    await setEnabled(true);
    // A's new device knows no endpoint for b (b dials in): b's traffic, or its 25 s keepalive, makes the
    // new handshake (WireGuard re-handshakes ≤ 15 s after its packets go unanswered).
    await waitFor(() => ping(b, '10.11.0.10'), {
      what: 'b reaches a again after enabling',
      timeoutMs: 40_000,
    });
    assert.ok(await ping(a, '10.12.0.10'), 'and a reaches b');
  });

  it('kill -9 of the appliance and a restart: the same nft table (no duplicates), traffic flows again', async () => {
    const table = async (): Promise<string> =>
      (await a.exec(['nft', 'list', 'table', 'inet', 'weft'])).stdout.replace(
        /counter packets \d+ bytes \d+/g,
        'counter',
      );
    const before = await table();
    await a.kill9();
    await a.start();
    await waitFor(async () => (await a.api.get('/ready', { token: null })).status === 200, {
      timeoutMs: 20_000,
      what: 'appliance a ready again',
    });
    assert.equal(await table(), before);
    const handles = (await a.exec(['nft', '-a', 'list', 'chain', 'inet', 'weft', 'postrouting'])).stdout;
    assert.equal((handles.match(/comment "masquerade"/g) ?? []).length, 1, handles);
    await waitFor(() => ping(b, '10.11.0.10'), { what: 'b reaches a after the restart', timeoutMs: 40_000 });
    await waitFor(() => ping(a, '10.13.0.10'), { what: 'a reaches c after the restart', timeoutMs: 40_000 });
    assert.ok(await ping(a, '10.12.0.10'), 'and b');
  });
});
