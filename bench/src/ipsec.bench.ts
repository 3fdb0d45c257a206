// IPsec through Weft against the same charon configured by hand with swanctl, in one lab and one run:
//  1. iperf3 LAN host a → LAN host b through a link made through the two APIs, then through charon
//     started by hand on both gateways: Weft's own strongswan.conf with only the VICI socket and log
//     moved (same plugins in the same order, data plane, routing table, retransmits), a swanctl.conf
//     with the same proposals, subnets and start actions, `swanctl --load-all`. One warm-up round is
//     discarded, then rounds alternate which side goes first; medians, spreads and per-round ratios
//     are printed, and the run fails if the two sides loaded other plugins, negotiated other
//     proposals or got another MTU or thread count.
//  2. N connections through the whole API (PUT /config: validate, commit, load-shared + load-conn,
//     2·N routes) against `swanctl --load-all` + `ip -batch` with the same connections and routes
//     (informational: the charon-level comparison is ipsec-conns.bench).
// Run as root from the repository: `npm run -w @weft/bench ipsec` (or `make bench`).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { linkIpsec, waitFor, type Site } from '@weft/e2e';
import { DEFAULT_ESP_PROPOSALS, DEFAULT_IKE_PROPOSALS, renderSwanctl, type IpsecConnSpec } from '@weft/ipsec';
import {
  alternateRounds,
  formatSpread,
  iperf,
  median,
  ping,
  ROUNDS,
  SECONDS,
  startInAppliance,
  runLabBench,
  spread,
  stopProcess,
} from './lab-bench.js';

const CONNS = Number(process.env.BENCH_CONNS ?? 1000);
const PSK = 'bench-ipsec-shared-secret-0001';
const SCRATCH_TABLE = 7399;
/** Throughput rounds after the warm-up: two shared vCPUs swing 10–20 % from one iperf3 run to the next. */
const THROUGHPUT_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);

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
    // As connSpecOf: a side that knows the other's endpoint initiates (in the Weft rounds, both).
    startAction: own === other ? 'wait' : 'initiate',
    ikeRekeySeconds: 14400,
    childRekeySeconds: 3600,
    forceEncap: false,
  };
}

/**
 * The strongswan.conf Weft rendered for its charon on `site` (the appliance keeps it in its data dir after
 * charon stopped), with only the VICI socket and the log file moved: the hand-run charon loads the same
 * plugins in the same order, with the same data plane, routing table and rule, retransmits and log
 * level. Written by hand from an old plugin list, the baseline once ran a different charon than Weft's.
 */
async function handConf(site: Site, vici: string, log: string): Promise<string> {
  const weft = await readFile(join(site.dataDir, 'ipsec', 'strongswan.conf'), 'utf8').catch(
    (cause: unknown) => {
      throw new Error(`site ${site.name}: Weft's strongswan.conf is not there yet (run Weft first)`, {
        cause,
      });
    },
  );
  let sockets = 0;
  let logs = 0;
  const text = weft
    .replace(/^(\s*socket = unix:\/\/).*$/m, (_, head: string) => {
      sockets++;
      return `${head}${vici}`;
    })
    .replace(/^(\s*path = ).*$/m, (_, head: string) => {
      logs++;
      return `${head}${log}`;
    })
    .replace(
      /^# .*\n/,
      "# Weft's strongswan.conf for this site, VICI socket and log moved: charon run by hand.\n",
    );
  if (sockets !== 1 || logs !== 1) {
    throw new Error(
      `site ${site.name}: Weft's strongswan.conf has ${sockets} VICI sockets and ${logs} log files`,
    );
  }
  return text;
}

/** charon started by hand in a site's namespaces, with Weft's strongswan.conf (see handConf). */
async function handCharon(site: Site): Promise<{ vici: string; stop: () => Promise<void> }> {
  const vici = join(site.dir, 'hand-charon.vici');
  const conf = join(site.dir, 'hand-strongswan.conf');
  await writeFile(conf, await handConf(site, vici, join(site.dir, 'hand-charon.log')), { mode: 0o600 });
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

/**
 * What decides the data plane's speed, as the running charon and kernel report it: the plugins charon
 * loaded (in order), the IKE and ESP proposals negotiated, the encapsulation, ipsec0's MTU and charon's
 * thread count. Weft and the baseline must agree on all of it, or the ratio compares two setups.
 */
async function fingerprint(site: Site, vici: string): Promise<{ same: string[]; info: string[] }> {
  const run = async (argv: string[]): Promise<string> => (await site.applianceExec(argv)).stdout;
  const stats = await run(['swanctl', '--stats', '--uri', `unix://${vici}`]);
  const sas = await run(['swanctl', '--list-sas', '--uri', `unix://${vici}`]);
  const link = await run(['ip', '-o', 'link', 'show', 'ipsec0']);
  const pid = (await run(['cat', '/run/charon.pid'])).trim();
  const threads = (await run(['ls', `/proc/${pid}/task`])).split('\n').filter(Boolean).length;
  const routes = (await run(['ip', '-4', 'route', 'show', 'table', 'all', 'dev', 'ipsec0'])).replace(
    /\s+/g,
    ' ',
  );
  const rules = (await run(['ip', 'rule', 'show'])).replace(/\s+/g, ' ');
  const established = sas.split('\n').findIndex((l) => l.includes('ESTABLISHED'));
  const ike = sas
    .split('\n')
    .slice(established)
    .find((l) => /^\s+[A-Z0-9_]+(-\d+)?\//.test(l))
    ?.trim();
  const esp = /INSTALLED, (\S+), ESP:(\S+)/.exec(sas);
  return {
    same: [
      `plugins: ${/loaded plugins: (.*)/.exec(stats)?.[1]?.trim() ?? '?'}`,
      `IKE: ${ike ?? '?'}`,
      `ESP: ${esp?.[2] ?? '?'} (${esp?.[1] ?? '?'})`,
      `ipsec0 mtu ${/ mtu (\d+)/.exec(link)?.[1] ?? '?'}`,
      `charon threads ${threads}`,
    ],
    info: [`rules: ${rules.trim()}`, `into ipsec0: ${routes.trim()}`],
  };
}

/** CPU time (ms) the two appliances' own processes used so far: Weft's cost beside charon's. */
async function applianceCpuMs(sites: readonly Site[]): Promise<number> {
  let ticks = 0;
  for (const site of sites) {
    if (site.pid === undefined) continue;
    const stat = await readFile(`/proc/${site.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (stat fields 14 and 15)
  }
  return ticks * 10; // USER_HZ = 100
}

async function throughput(a: Site, b: Site): Promise<void> {
  const seen: Record<'weft' | 'hand', { same: string[]; info: string[] } | undefined> = {
    weft: undefined,
    hand: undefined,
  };
  const cpu: Record<'weft' | 'hand', number[]> = { weft: [], hand: [] };
  const measure = async (side: 'weft' | 'hand'): Promise<number> => {
    const before = await applianceCpuMs([a, b]);
    const mbps = await iperf(a, b);
    cpu[side].push((await applianceCpuMs([a, b])) - before);
    return mbps;
  };
  const record = async (side: 'weft' | 'hand', viciOf: (s: Site) => string): Promise<void> => {
    const [fa, fb] = [await fingerprint(a, viciOf(a)), await fingerprint(b, viciOf(b))];
    const now = { same: [...fa.same, ...fb.same.map((x) => `b ${x}`)], info: [...fa.info, ...fb.info] };
    const before = seen[side];
    if (before && before.same.join('\n') !== now.same.join('\n')) {
      throw new Error(
        `${side}: the data plane changed between rounds:\n${before.same.join('\n')}\n→\n${now.same.join('\n')}`,
      );
    }
    seen[side] = now;
  };
  const byWeft = async (): Promise<number> => {
    const pair = await linkIpsec(a, b, PSK);
    await waitFor(() => ping(a, b.lanHost), { what: 'ping through the Weft link', timeoutMs: 30_000 });
    await record('weft', (s) => join(s.dataDir, 'ipsec', 'charon.vici'));
    const mbps = await measure('weft');
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
    const charons: Awaited<ReturnType<typeof handCharon>>[] = [];
    try {
      // b first, as in the Weft rounds (b's link is made from a's peer-config after a's).
      for (const [site, other] of [
        [b, a],
        [a, b],
      ] as const) {
        const c = await handCharon(site);
        charons.push(c);
        const file = join(site.dir, 'hand-swanctl.conf');
        await writeFile(file, renderSwanctl(handSpec(site, other), PSK), { mode: 0o600 });
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
      await record('hand', (s) => join(s.dir, 'hand-charon.vici'));
      return await measure('hand');
    } finally {
      for (const c of charons) await c.stop();
    }
  };
  const r = await alternateRounds('ipsec Mbit/s', byWeft, byHand, { rounds: THROUGHPUT_ROUNDS, warmup: 1 });
  const [w, h] = [seen.weft, seen.hand];
  if (!w || !h) throw new Error('no round measured');
  const differs = w.same.filter((x, i) => x !== h.same[i]);
  if (differs.length > 0) {
    throw new Error(
      `Weft and the baseline do not run the same data plane:\nweft: ${w.same.join('\n      ')}\nhand: ${h.same.join('\n      ')}`,
    );
  }
  console.log(`same on both sides (site a, then b): ${w.same.join('; ')}`);
  console.log(`routes, weft: ${w.info.join(' | ')}`);
  console.log(`routes, hand: ${h.info.join(' | ')}`);
  console.log(
    `CPU of both appliances during iperf3 (medians): ${median(cpu.weft).toFixed(0)} ms in Weft rounds, ${median(cpu.hand).toFixed(0)} ms in hand rounds`,
  );
  console.log(
    `iperf3 LAN→LAN, one TCP stream, ${SECONDS} s × ${THROUGHPUT_ROUNDS} rounds after 1 warm-up round (medians, min–max), charon + kernel-libipsec`,
  );
  console.log(`baseline  charon configured by hand (swanctl)   ${formatSpread(r.hand)} Mbit/s`);
  console.log(`weft      link made through the APIs            ${formatSpread(r.weft)} Mbit/s`);
  console.log(
    `ratio ${r.ratio.toFixed(2)} (target ≥ 0.95); per-round ratios ${formatSpread(r.roundRatios, 2)}: ${r.roundRatios.values.map((x) => x.toFixed(2)).join(' ')}`,
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
    // Weft first: the baseline's charon runs with the strongswan.conf Weft wrote (handConf).
    // Weft's charon already runs (one link), as the hand one does before its load.
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
  }
  const b = spread(base);
  const w = spread(api);
  console.log(`${CONNS} IPsec connections through the whole API, ${ROUNDS} rounds (medians, min–max)`);
  console.log(`baseline  swanctl --load-all + ip -batch (${2 * CONNS} routes)     ${formatSpread(b)} ms`);
  console.log(
    `weft      PUT /config (validate, commit, load, routes)       ${formatSpread(w)} ms   ratio ${(w.median / b.median).toFixed(2)}x`,
  );
}

runLabBench('bench-ipsec', { throughput, conns: (a: Site) => manyConns(a) });
