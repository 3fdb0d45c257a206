// NftService against the real nft and kernel, inside the namespace tools/test.mjs creates (and, for the
// translation tests, in namespaces of its own: h1 — router — h2).
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftError, NftService } from './nft.service.js';
import { describeNftRule } from './nft.observe.js';
import { emptyNftDesired, type NftDesired } from './nft.types.js';
import {
  NodeProcessRunner,
  type ProcessRunner,
  type RunOptions,
  type SpawnOptions,
} from '../system/process.adapter.js';
import { assertInsideThrowawayNetns } from '../testing/kernel-helpers.js';
import { HeldNetns, linkNetns, waitUntil } from '../testing/netns-lab.js';

// At load time, so that not even a hook runs outside a throw-away namespace.
assertInsideThrowawayNetns();

const processes = new NodeProcessRunner();
const nftCli = async (args: string[], input?: string): Promise<string> =>
  (await processes.run('nft', args, input === undefined ? {} : { input })).stdout;
/** `nft list table …` without handles: what an operator would read. */
const listTable = (family: string, name: string): Promise<string> => nftCli(['list', 'table', family, name]);
const ruleLines = (listing: string): string[] =>
  listing
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^(table|chain|type|\})/.test(l));

const representative = (): NftDesired => ({
  masquerade: { underlay: 'wan0', sources: ['10.1.0.0/24', 'fd00:1::/64'] },
  portForwards: [
    { name: 'web', iif: 'wan0', protocol: 'tcp', port: 8080, to: '10.1.0.5', toPort: 80 },
    { name: 'dns', iif: 'wan0', protocol: 'udp', port: 53, to: '2001:db8::5', toPort: 5353 },
  ],
  netmaps: [
    {
      link: 'site-b',
      device: 'ipsec0',
      real: '10.1.0.0/24',
      mapped: '10.11.0.0/24',
      remote: ['10.2.0.0/24'],
    },
    {
      link: 'site-c',
      device: 'ipsec0',
      real: '10.1.0.0/24',
      mapped: '10.12.0.0/24',
      remote: ['10.3.0.0/24', '10.33.0.0/24'],
    },
  ],
  mssClamp: [{ device: 'wg0', mss: 1380 }],
});

/** A test-only seam: hands nft our script with one more rule the kernel refuses (nat in a filter chain). */
class CorruptingRunner implements ProcessRunner {
  constructor(
    private readonly inner: ProcessRunner,
    private readonly line: string,
  ) {}
  spawn(file: string, args: readonly string[], options?: SpawnOptions): ReturnType<ProcessRunner['spawn']> {
    return this.inner.spawn(file, args, options);
  }
  run(file: string, args: readonly string[], options: RunOptions = {}): ReturnType<ProcessRunner['run']> {
    const input = options.input?.replace(
      'type filter hook forward priority mangle; policy accept;\n',
      `$&\t\t${this.line}\n`,
    );
    return this.inner.run(file, args, { ...options, ...(input !== undefined ? { input } : {}) });
  }
  findExecutable(name: string): Promise<string | undefined> {
    return this.inner.findExecutable(name);
  }
}

void describe('NftService (kernel)', () => {
  let nft: NftService;

  beforeEach(() => {
    nft = new NftService(processes);
  });
  afterEach(async () => {
    await nft.cleanup();
    await nftCli(['-f', '-'], 'table inet someone_else {}\ndelete table inet someone_else\n');
    await nftCli(['-f', '-'], 'table ip weft {}\ndelete table ip weft\n');
  });

  void it('applies the rendered table, and nft lists every rule the way describeNftRule tells it', async () => {
    await nft.apply(representative());
    const observed = await nft.observe();
    assert.ok(observed);
    const described = ['prerouting', 'postrouting', 'forward'].flatMap((name) =>
      (observed.chains.find((c) => c.name === name)?.rules ?? []).map(describeNftRule),
    );
    assert.deepEqual(described, ruleLines(await listTable('inet', 'weft')));
    assert.equal(described.length, 4 + 4 + 2);
    assert.ok(described.includes('oifname "wan0" ip6 saddr fd00:1::/64 masquerade comment "masquerade"'));
  });

  void it('applied twice, with a change in between, leaves each rule once', async () => {
    await nft.apply(representative());
    const first = await listTable('inet', 'weft');
    await nft.apply(representative());
    assert.equal(await listTable('inet', 'weft'), first, 'the same desired again changes nothing');

    const changed = representative();
    changed.portForwards = changed.portForwards.filter((f) => f.name !== 'dns');
    changed.mssClamp.push({ device: 'ovpn-a' });
    await nft.apply(changed);
    const rules = ruleLines(await listTable('inet', 'weft'));
    assert.equal(new Set(rules).size, rules.length, `duplicated rules: ${rules.join('\n')}`);
    assert.equal(rules.length, 3 + 4 + 3);
    assert.ok(!rules.some((r) => r.includes('forward dns')));
    assert.ok(
      rules.includes('oifname "ovpn-a" tcp flags syn tcp option maxseg size set rt mtu comment "mss ovpn-a"'),
    );

    await nft.apply(emptyNftDesired());
    assert.deepEqual(ruleLines(await listTable('inet', 'weft')), []);
    assert.deepEqual(
      (await nft.observe())?.chains.map((c) => `${c.name} ${c.type} ${c.hook} ${c.prio} ${c.policy}`),
      [
        'filter_forward filter forward 0 accept',
        'forward filter forward -150 accept',
        'input filter input 0 accept',
        'multicast_ttl filter prerouting -150 accept',
        'postrouting nat postrouting 100 accept',
        'prerouting nat prerouting -100 accept',
      ],
    );
  });

  void it('leaves other tables alone: inet someone_else, and ip weft (our name, another family)', async () => {
    await nftCli(
      ['-f', '-'],
      [
        'table inet someone_else {',
        '\tset blocked { type ipv4_addr; elements = { 192.0.2.66 }; }',
        '\tchain postrouting {',
        '\t\ttype nat hook postrouting priority srcnat; policy accept;',
        '\t\toifname "wan0" masquerade',
        '\t}',
        '\tchain input {',
        '\t\ttype filter hook input priority 0; policy accept;',
        '\t\tip saddr @blocked counter drop',
        '\t}',
        '}',
        // nft 1.0.6 refuses `chain c { counter; }` on one line: statements end with a newline.
        'table ip weft {\n\tchain c {\n\t\tcounter\n\t}\n}',
        '',
      ].join('\n'),
    );
    const theirs = await listTable('inet', 'someone_else');
    const sameName = await listTable('ip', 'weft');
    await nft.apply(representative());
    await nft.apply(emptyNftDesired());
    assert.equal(await listTable('inet', 'someone_else'), theirs);
    await nft.cleanup();
    await nft.cleanup();
    assert.equal(await nft.observe(), undefined);
    assert.equal(await listTable('inet', 'someone_else'), theirs);
    assert.equal(await listTable('ip', 'weft'), sameName);
  });

  for (const [what, line, stderr] of [
    [
      'the kernel refuses (nat in a filter chain)',
      'masquerade',
      /Error: Could not process rule: Operation not supported/,
    ],
    ['nft itself refuses (a /33)', 'ip saddr 10.0.0.0/33 accept', /Error: Prefix length 33 is invalid/],
  ] as const) {
    void it(`a script ${what} leaves the previous table as it was`, async () => {
      await nft.apply(representative());
      const before = await listTable('inet', 'weft');
      const broken = new NftService(new CorruptingRunner(processes, line));
      const desired = representative();
      desired.portForwards = [];
      await assert.rejects(broken.apply(desired), (err: unknown) => {
        assert.ok(err instanceof NftError, String(err));
        assert.ok(
          err.stderrLines.some((l) => stderr.test(l)),
          err.message,
        );
        assert.ok(
          err.stderrLines.some((l) => l.trim() === line),
          'nft shows the line it refused',
        );
        return true;
      });
      assert.equal(await listTable('inet', 'weft'), before);
      assert.deepEqual(await nft.drifted(representative()), { drifted: false, differences: [] });
    });
  }

  void it('a refused first apply leaves no table behind', async () => {
    const broken = new NftService(new CorruptingRunner(processes, 'masquerade'));
    await assert.rejects(broken.apply(representative()), NftError);
    assert.equal(await nft.observe(), undefined);
  });

  void it('drift: a rule added by hand shows, and a re-apply removes it', async () => {
    const desired = representative();
    await nft.apply(desired);
    assert.deepEqual(await nft.drifted(desired), { drifted: false, differences: [] });

    await nftCli(['add', 'rule', 'inet', 'weft', 'postrouting', 'oifname', 'eth9', 'counter', 'masquerade']);
    assert.deepEqual(await nft.drifted(desired), {
      drifted: true,
      differences: ['rule added in chain postrouting: oifname "eth9" counter masquerade'],
    });

    await nft.apply(desired);
    assert.deepEqual(await nft.drifted(desired), { drifted: false, differences: [] });
    assert.ok(!(await listTable('inet', 'weft')).includes('eth9'));
  });

  void it('drift: a flushed chain, a changed policy and a deleted table show', async () => {
    const desired = representative();
    await nft.apply(desired);
    await nftCli(['flush', 'chain', 'inet', 'weft', 'forward']);
    await nftCli(['chain', 'inet', 'weft', 'prerouting', '{ policy drop; }']);
    assert.deepEqual((await nft.drifted(desired)).differences, [
      'rule missing from chain forward: oifname "wg0" tcp flags syn tcp option maxseg size set rt mtu comment "mss wg0"',
      'rule missing from chain forward: iifname "wg0" tcp flags syn tcp option maxseg size > 1380 tcp option maxseg size set 1380 comment "mss wg0"',
      'chain prerouting changed: type nat hook prerouting priority -100 policy accept → type nat hook prerouting priority -100 policy drop',
    ]);
    await nftCli(['delete', 'table', 'inet', 'weft']);
    assert.deepEqual(await nft.drifted(desired), { drifted: true, differences: ['table inet weft missing'] });
  });
});

void describe('NftService translating packets (h1 — router — h2)', () => {
  // h1 10.1.0.5/24 ── r-h1 10.1.0.1/24 [router, ip_forward=1] r-h2 192.0.2.1/24 ── h2 192.0.2.2/24
  let h1: HeldNetns;
  let router: HeldNetns;
  let h2: HeldNetns;
  let nft: NftService;
  const spaces: HeldNetns[] = [];

  beforeEach(async () => {
    h1 = await HeldNetns.create('h1');
    router = await HeldNetns.create('router');
    h2 = await HeldNetns.create('h2');
    spaces.push(h1, router, h2);
    await linkNetns(
      { ns: h1, name: 'h1-r', address: '10.1.0.5/24' },
      { ns: router, name: 'r-h1', address: '10.1.0.1/24' },
    );
    await linkNetns(
      { ns: router, name: 'r-h2', address: '192.0.2.1/24' },
      { ns: h2, name: 'h2-r', address: '192.0.2.2/24' },
    );
    await router.run('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    await h1.run('ip', 'route', 'add', 'default', 'via', '10.1.0.1');
    // h2 reaches the mapped net through the router (a tunnel's allowed-ips would name it the same way).
    await h2.run('ip', 'route', 'add', '10.11.0.0/24', 'via', '192.0.2.1');
    await h2.run('ip', 'route', 'add', '10.1.0.0/24', 'via', '192.0.2.1');
    nft = new NftService(processes, { launcher: router.launcher });
  });
  afterEach(async () => {
    for (const ns of spaces.splice(0)) await ns.destroy();
  });

  const echoRequest = 'icmp[icmptype] == icmp-echo';
  /** The source h2 sees for h1's ping to it, and whether h1 got the answer. */
  const pingH2FromH1 = async (): Promise<{ seen: string; answered: boolean }> => {
    let answered = false;
    const [seen = ''] = await h2.capture('h2-r', echoRequest, async () => {
      answered = await h1.ping('192.0.2.2');
    });
    return { seen, answered };
  };

  void it('without rules h2 sees h1’s own address (the control)', async () => {
    await nft.apply(emptyNftDesired());
    const { seen, answered } = await pingH2FromH1();
    assert.match(seen, /IP 10\.1\.0\.5 > 192\.0\.2\.2: ICMP echo request/);
    assert.ok(answered);
  });

  void it('netmap: h2 sees 10.11.0.5, the reply reaches h1, and h2 reaches h1 at its mapped address', async () => {
    await nft.apply({
      ...emptyNftDesired(),
      netmaps: [
        {
          link: 'site-h2',
          device: 'r-h2',
          real: '10.1.0.0/24',
          mapped: '10.11.0.0/24',
          remote: ['192.0.2.0/24'],
        },
      ],
    });
    const { seen, answered } = await pingH2FromH1();
    assert.match(seen, /IP 10\.11\.0\.5 > 192\.0\.2\.2: ICMP echo request/);
    assert.ok(answered, 'the reply to 10.11.0.5 was mapped back to 10.1.0.5');

    let inboundAnswered = false;
    const [atH1 = ''] = await h1.capture('h1-r', echoRequest, async () => {
      inboundAnswered = await h2.ping('10.11.0.5');
    });
    assert.match(atH1, /IP 192\.0\.2\.2 > 10\.1\.0\.5: ICMP echo request/);
    assert.ok(inboundAnswered);
  });

  void it('netmap of another remote leaves this traffic alone', async () => {
    await nft.apply({
      ...emptyNftDesired(),
      netmaps: [
        {
          link: 'other',
          device: 'r-h2',
          real: '10.1.0.0/24',
          mapped: '10.11.0.0/24',
          remote: ['198.51.100.0/24'],
        },
      ],
    });
    assert.match((await pingH2FromH1()).seen, /IP 10\.1\.0\.5 > 192\.0\.2\.2/);
  });

  void it('masquerade: out of the underlay h2 sees 192.0.2.1 and the reply reaches h1', async () => {
    await nft.apply({ ...emptyNftDesired(), masquerade: { underlay: 'r-h2', sources: ['10.1.0.0/24'] } });
    const { seen, answered } = await pingH2FromH1();
    assert.match(seen, /IP 192\.0\.2\.1 > 192\.0\.2\.2: ICMP echo request/);
    assert.ok(answered);
  });

  void it('masquerade on another underlay keeps the LAN source (as on a tunnel)', async () => {
    await nft.apply({ ...emptyNftDesired(), masquerade: { underlay: 'wan9', sources: ['10.1.0.0/24'] } });
    assert.match((await pingH2FromH1()).seen, /IP 10\.1\.0\.5 > 192\.0\.2\.2/);
  });

  void it('multicast TTL lift: datagrams from the LAN to a lifted group arrive with the TTL set, others keep theirs', async () => {
    // A probe table of the test's own, after our mangle chain: counts what prerouting then sees.
    const probe = `table ip ttl_probe {
  chain pre { type filter hook prerouting priority -100; policy accept;
    ip daddr 239.1.1.1 ip ttl 8 counter comment "g1 ttl 8"
    ip daddr 239.1.1.1 ip ttl 1 counter comment "g1 ttl 1"
    ip daddr 239.9.9.9 ip ttl 1 counter comment "g9 ttl 1"
  }
}
`;
    await processes.run('nsenter', [...router.launcher.slice(1), 'nft', '-f', '-'], { input: probe });
    const counts = async (): Promise<Record<string, number>> => {
      const parsed = JSON.parse(await router.run('nft', '-j', 'list', 'table', 'ip', 'ttl_probe')) as {
        nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
      };
      const out: Record<string, number> = {};
      for (const i of parsed.nftables) {
        if (i.rule?.comment) out[i.rule.comment] = i.rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
      }
      return out;
    };
    const send = (group: string): Promise<string> =>
      h1.run(
        'python3',
        '-c',
        'import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.setsockopt(socket.IPPROTO_IP,socket.IP_MULTICAST_TTL,1)\nfor _ in range(3): s.sendto(b"weft",(sys.argv[1],5000))',
        group,
      );
    await nft.apply(emptyNftDesired());
    await send('239.1.1.1');
    await waitUntil(async () => (await counts())['g1 ttl 1'] === 3, 'the control: TTL 1 arrives as sent');
    await nft.apply({
      ...emptyNftDesired(),
      multicastTtl: [{ iif: 'r-h1', groups: ['239.1.0.0/16'], ttl: 8 }],
    });
    assert.deepEqual(
      await nft.drifted({
        ...emptyNftDesired(),
        multicastTtl: [{ iif: 'r-h1', groups: ['239.1.0.0/16'], ttl: 8 }],
      }),
      { drifted: false, differences: [] },
    );
    await send('239.1.1.1');
    await send('239.9.9.9');
    await waitUntil(async () => (await counts())['g9 ttl 1'] === 3, 'the unlifted group');
    await waitUntil(async () => (await counts())['g1 ttl 8'] === 3, 'the lifted group with TTL 8');
    assert.equal((await counts())['g1 ttl 1'], 3, 'no lifted datagram kept TTL 1');
  });

  void it('MSS clamping: rt mtu out of the device, the given MSS into it', async () => {
    await router.run('ip', 'link', 'set', 'r-h2', 'mtu', '1400');
    await h2.run('ip', 'link', 'set', 'h2-r', 'mtu', '1400');
    const syn = 'tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0';
    // bash's /dev/tcp sends a SYN; nobody listens on port 9, the RST ends it.
    const connect = (ns: HeldNetns, to: string) => async (): Promise<void> => {
      await ns.run('timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${to}/9`).catch(() => undefined);
    };
    const mssOf = (line: string): string => /mss (\d+)/.exec(line)?.[1] ?? `no mss in ${line}`;

    await nft.apply(emptyNftDesired());
    const [unclamped = ''] = await h2.capture('h2-r', syn, connect(h1, '192.0.2.2'));
    assert.equal(mssOf(unclamped), '1460', 'h1 announces its own MTU (1500) - 40 without a clamp');

    await nft.apply({ ...emptyNftDesired(), mssClamp: [{ device: 'r-h2', mss: 1300 }] });
    const [out = ''] = await h2.capture('h2-r', syn, connect(h1, '192.0.2.2'));
    assert.equal(mssOf(out), '1360', 'out of r-h2: its MTU 1400 - 40');
    const [into = ''] = await h1.capture('h1-r', syn, connect(h2, '10.1.0.5'));
    assert.equal(mssOf(into), '1300', 'into the router from r-h2: the given MSS');
  });
});
