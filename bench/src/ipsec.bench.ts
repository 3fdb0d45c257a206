// IPsec through Weft against the same charon configured by hand with swanctl, in one lab and one run:
//  1. iperf3 LAN host a → LAN host b through a link made through the two APIs, then through charon
//     started by hand on both gateways (its own strongswan.conf with the same plugins and data plane,
//     a swanctl.conf with the same proposals and subnets, `swanctl --load-all`). Rounds alternate.
//  2. N connections through the whole API (PUT /config: validate, commit, load-shared + load-conn,
//     2·N routes) against `swanctl --load-all` + `ip -batch` with the same connections and routes
//     (informational: the charon-level comparison is ipsec-conns.bench).
// Run as root from the repository: `npm run -w @weft/bench ipsec` (or `make bench`).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { linkIpsec, waitFor, type Site } from '@weft/e2e';
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, renderSwanctl, type IpsecConnSpec } from '@weft/ipsec';
import {
  alternate,
  iperf,
  median,
  ping,
  ROUNDS,
  SECONDS,
  startInAppliance,
  runLabBench,
  stopProcess,
} from './lab-bench.js';

const CONNS = Number(process.env.BENCH_CONNS ?? 1000);
const PSK = 'bench-ipsec-shared-secret-0001';
const SCRATCH_TABLE = 7399;

function handSpec(own: Site, other: Site): IpsecConnSpec {
  return {
    name: 'hand',
    version: 'ikev2',
    aggressive: false,
    localAddrs: ['%any'],
    remoteAddrs: [other.wanAddress],
    localId: own.wanAddress,
    remoteId: other.wanAddress,
    auth: 'psk',
    ikeProposals: DEFAULT_IKE_PROPOSALS,
    espProposals: DEFAULT_ESP_PROPOSALS,
    localTs: [own.lanPrefix],
    remoteTs: [other.lanPrefix],
    dpdDelay: 30,
    dpdAction: 'restart',
    startAction: own === other ? 'wait' : 'initiate',
    ikeRekeySeconds: 14400,
    childRekeySeconds: 3600,
    forceEncap: false,
  };
}

/** charon started by hand in a site's namespaces, with kernel-libipsec like Weft's here. */
async function handCharon(site: Site): Promise<{ vici: string; stop: () => Promise<void> }> {
  const vici = join(site.dir, 'hand-charon.vici');
  const conf = join(site.dir, 'hand-strongswan.conf');
  await writeFile(
    conf,
    [
      'charon {',
      '  load = random nonce openssl kdf pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 kernel-libipsec kernel-netlink socket-default vici',
      `  plugins { vici { socket = unix://${vici} } }`,
      '}',
      '',
    ].join('\n'),
  );
  const proc = startInAppliance(site, ['env', `STRONGSWAN_CONF=${conf}`, '/usr/lib/ipsec/charon']);
  await waitFor(
    () =>
      site.applianceExec(['swanctl', '--stats', '--uri', `unix://${vici}`]).then(
        () => true,
        () => false,
      ),
    { what: `hand-run charon on ${site.name}`, timeoutMs: 10_000, intervalMs: 50 },
  );
  return { vici, stop: () => stopProcess(proc) };
}

async function throughput(a: Site, b: Site): Promise<void> {
  const byWeft = async (): Promise<number> => {
    const pair = await linkIpsec(a, b, PSK);
    await waitFor(() => ping(a, b.lanHost), { what: 'ping through the Weft link', timeoutMs: 30_000 });
    const mbps = await iperf(a, b);
    for (const [site, name] of [
      [a, pair.onA],
      [b, pair.onB],
    ] as const) {
      const res = await site.api.delete(`/links/${name}`);
      if (res.status !== 200) throw new Error(`delete ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    // The last IPsec link gone, the appliance's charon stops and frees /run/charon.pid for the hand one.
    for (const site of [a, b]) {
      await waitFor(
        () =>
          site.applianceExec(['test', '!', '-e', '/run/charon.pid']).then(
            () => true,
            () => false,
          ),
        { what: `Weft's charon on ${site.name} stopped`, timeoutMs: 10_000 },
      );
    }
    return mbps;
  };
  const byHand = async (): Promise<number> => {
    const ends = [
      { site: b, other: a, wait: true },
      { site: a, other: b, wait: false },
    ];
    const charons: Awaited<ReturnType<typeof handCharon>>[] = [];
    try {
      for (const { site, other, wait } of ends) {
        const c = await handCharon(site);
        charons.push(c);
        const spec = {
          ...handSpec(site, other),
          startAction: wait ? ('wait' as const) : ('initiate' as const),
        };
        const file = join(site.dir, 'hand-swanctl.conf');
        await writeFile(file, renderSwanctl(spec, PSK), { mode: 0o600 });
        await site.applianceExec([
          'swanctl',
          '--load-all',
          '--noprompt',
          '--file',
          file,
          '--uri',
          `unix://${c.vici}`,
        ]);
      }
      await waitFor(() => ping(a, b.lanHost), {
        what: 'ping through the hand-made tunnel',
        timeoutMs: 30_000,
      });
      return await iperf(a, b);
    } finally {
      for (const c of charons) await c.stop();
    }
  };
  const { weft: w, hand: h } = await alternate('ipsec Mbit/s', byWeft, byHand);
  console.log(
    `iperf3 LAN→LAN, one TCP stream, ${SECONDS} s × ${ROUNDS} rounds (medians), charon + kernel-libipsec`,
  );
  console.log(`baseline  charon configured by hand (swanctl)   ${h.toFixed(0)} Mbit/s`);
  console.log(
    `weft      link made through the APIs            ${w.toFixed(0)} Mbit/s   ratio ${(w / h).toFixed(2)} (target ≥ 0.95)`,
  );
}

async function manyConns(a: Site): Promise<void> {
  const links = Array.from({ length: CONNS }, (_, i) => ({
    name: `spoke-${i}`,
    type: 'ipsec',
    remote_subnets: [`10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`],
    ipsec: { preshared_key: `${PSK}-${i}`, remote_id: `spoke-${i}.example` },
  }));
  // The same connections as swanctl.conf, and the routes Weft adds for them (into a scratch table).
  const spec = (i: number): IpsecConnSpec => ({
    ...handSpec(a, a),
    name: `spoke-${i}`,
    remoteAddrs: ['%any'],
    localId: a.wanAddress,
    remoteId: `spoke-${i}.example`,
    localTs: [a.lanPrefix],
    remoteTs: links[i]?.remote_subnets ?? [],
  });
  const conf = join(a.dir, 'many-swanctl.conf');
  await writeFile(conf, links.map((l, i) => renderSwanctl(spec(i), l.ipsec.preshared_key)).join('\n'), {
    mode: 0o600,
  });
  const empty = join(a.dir, 'empty-swanctl.conf');
  await writeFile(empty, '', { mode: 0o600 });
  const batch = join(a.dir, 'ipsec-routes.batch');
  await writeFile(
    batch,
    links
      .flatMap((l) => [
        `route add ${l.remote_subnets[0]} dev ipsec0 metric 100 table ${SCRATCH_TABLE}`,
        `route add unreachable ${l.remote_subnets[0]} metric 70000 table ${SCRATCH_TABLE}`,
      ])
      .join('\n') + '\n',
  );
  const base: number[] = [];
  const api: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const c = await handCharon(a);
    try {
      const t = performance.now();
      await a.applianceExec(
        ['swanctl', '--load-all', '--noprompt', '--file', conf, '--uri', `unix://${c.vici}`],
        { timeoutMs: 120_000 },
      );
      await a.applianceExec(['ip', '-batch', batch]);
      base.push(performance.now() - t);
    } finally {
      await a.applianceExec(['ip', 'route', 'flush', 'table', String(SCRATCH_TABLE)]).catch(() => undefined);
      await c.stop();
    }
    // Weft's charon already runs (one link), as the hand one did before its load.
    const start = (await a.api.get<{ links: unknown[] }>('/config')).body;
    const seed = await a.api.put('/config', { ...start, links: [links[0]] }, { timeoutMs: 60_000 });
    if (seed.status !== 200) throw new Error(`PUT /config: ${seed.status} ${JSON.stringify(seed.body)}`);
    const current = (await a.api.get<{ links: unknown[] }>('/config')).body;
    const t = performance.now();
    const put = await a.api.put('/config', { ...current, links }, { timeoutMs: 120_000 });
    api.push(performance.now() - t);
    if (put.status !== 200) throw new Error(`PUT /config: ${put.status} ${JSON.stringify(put.body)}`);
    const after = (await a.api.get<{ links: unknown[] }>('/config')).body;
    const back = await a.api.put('/config', { ...after, links: [] }, { timeoutMs: 120_000 });
    if (back.status !== 200) throw new Error(`PUT /config: ${back.status} ${JSON.stringify(back.body)}`);
    await waitFor(
      () =>
        a.applianceExec(['test', '!', '-e', '/run/charon.pid']).then(
          () => true,
          () => false,
        ),
      { what: "Weft's charon stopped", timeoutMs: 10_000 },
    );
  }
  const b = median(base);
  const w = median(api);
  console.log(`${CONNS} IPsec connections through the whole API, ${ROUNDS} rounds (medians)`);
  console.log(`baseline  swanctl --load-all + ip -batch (${2 * CONNS} routes)     ${b.toFixed(0)} ms`);
  console.log(
    `weft      PUT /config (validate, commit, load, routes)       ${w.toFixed(0)} ms   ratio ${(w / b).toFixed(2)}x`,
  );
}

runLabBench('bench-ipsec', { throughput, conns: (a: Site) => manyConns(a) });
