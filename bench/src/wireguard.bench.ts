// WireGuard through Weft against WireGuard set up by hand, in one lab and one run:
//  1. iperf3 LAN host a → LAN host b (one TCP stream) through a link made through the two APIs, then
//     through wireguard-go configured by hand (`wg set`, `ip route`) between the same gateways with the
//     same MTU. Rounds alternate so drift on this shared machine hits both alike.
//  2. N peers through the whole API (PUT /config: validate, commit, peers, routes) against
//     `wg syncconf` with the same peers on a hand-made device of the same gateway (informational: the
//     configurer-level comparison is wireguard-peers.bench).
// Run as root from the repository: `npm run -w @weft/bench wireguard` (or `make bench`).
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { linkWireGuard, run, waitFor, type Site } from '@weft/e2e';
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

const PEERS = Number(process.env.BENCH_PEERS ?? 1000);
const HAND_PORT = 51900;
/** A table of the gateway's nobody else uses, for the hand-made routes. */
const SCRATCH_TABLE = 7399;

async function wgKeys(): Promise<{ priv: string; pub: string }> {
  const priv = (await run(['wg', 'genkey'])).stdout.trim();
  const pub = (await run(['wg', 'pubkey'], { input: priv })).stdout.trim();
  return { priv, pub };
}

function startWireGuardGo(site: Site, ifname: string): ChildProcess {
  return startInAppliance(site, ['wireguard-go', '-f', ifname]);
}

/** The hand-made tunnel: what an operator types, with the MTU Weft chose so only management differs. */
async function handTunnel(a: Site, b: Site, mtu: number): Promise<() => Promise<void>> {
  const procs: ChildProcess[] = [];
  const ka = await wgKeys();
  const kb = await wgKeys();
  const ends: [Site, Site, { priv: string }, { pub: string }][] = [
    [a, b, ka, kb],
    [b, a, kb, ka],
  ];
  for (const [site] of ends) procs.push(startWireGuardGo(site, 'wgh0'));
  for (const [site, other, own, peer] of ends) {
    await waitFor(
      () =>
        site.applianceExec(['wg', 'show', 'wgh0']).then(
          () => true,
          () => false,
        ),
      {
        what: `wgh0 on ${site.name}`,
        timeoutMs: 5000,
        intervalMs: 20,
      },
    );
    const keyFile = join(site.dir, 'hand.key');
    await writeFile(keyFile, own.priv + '\n', { mode: 0o600 });
    await site.applianceExec(['wg', 'set', 'wgh0', 'private-key', keyFile, 'listen-port', String(HAND_PORT)]);
    await site.applianceExec([
      'wg',
      'set',
      'wgh0',
      'peer',
      peer.pub,
      'endpoint',
      `${other.wanAddress}:${HAND_PORT}`,
      'allowed-ips',
      other.lanPrefix,
      'persistent-keepalive',
      '25',
    ]);
    await site.applianceExec(['ip', 'link', 'set', 'wgh0', 'mtu', String(mtu), 'up']);
    await site.applianceExec(['ip', 'route', 'add', other.lanPrefix, 'dev', 'wgh0']);
  }
  return async () => {
    for (const p of procs) await stopProcess(p);
  };
}

async function throughput(a: Site, b: Site): Promise<void> {
  let mtu = 0;
  const byWeft = async (): Promise<number> => {
    const pair = await linkWireGuard(a, b);
    await waitFor(() => ping(a, b.lanHost), { what: 'ping through the Weft link', timeoutMs: 15_000 });
    mtu = Number((await a.applianceExec(['cat', `/sys/class/net/wg-${pair.onA}/mtu`])).stdout.trim());
    const mbps = await iperf(a, b);
    for (const [site, name] of [
      [a, pair.onA],
      [b, pair.onB],
    ] as const) {
      const res = await site.api.delete(`/links/${name}`);
      if (res.status !== 200) throw new Error(`delete ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    return mbps;
  };
  const byHand = async (): Promise<number> => {
    const down = await handTunnel(a, b, mtu || 1440);
    try {
      await waitFor(() => ping(a, b.lanHost), {
        what: 'ping through the hand-made tunnel',
        timeoutMs: 15_000,
      });
      return await iperf(a, b);
    } finally {
      await down();
    }
  };
  const { weft: w, hand: h } = await alternate('wireguard Mbit/s', byWeft, byHand);
  console.log(`iperf3 LAN→LAN, one TCP stream, ${SECONDS} s × ${ROUNDS} rounds (medians), MTU ${mtu}`);
  console.log(`baseline  wireguard-go set up by hand   ${h.toFixed(0)} Mbit/s`);
  console.log(
    `weft      link made through the APIs    ${w.toFixed(0)} Mbit/s   ratio ${(w / h).toFixed(2)} (target ≥ 0.95)`,
  );
}

async function manyPeers(a: Site): Promise<void> {
  const keys: string[] = [];
  for (let i = 0; i < PEERS; i++) keys.push((await wgKeys()).pub);
  const links = keys.map((pk, i) => ({
    name: `spoke-${i}`,
    type: 'wireguard',
    remote_endpoint: `192.0.2.${(i % 250) + 1}:${51820 + Math.floor(i / 250)}`,
    remote_subnets: [`10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`],
    wireguard: { peer_public_key: pk, interface: 'wg-hub', persistent_keepalive: 25 },
  }));
  const lines = [
    '[Interface]',
    `PrivateKey = ${(await run(['wg', 'genkey'])).stdout.trim()}`,
    'ListenPort = 51901',
    '',
  ];
  for (const l of links) {
    lines.push('[Peer]', `PublicKey = ${l.wireguard.peer_public_key}`, `Endpoint = ${l.remote_endpoint}`);
    lines.push(`AllowedIPs = ${l.remote_subnets.join(', ')}`, 'PersistentKeepalive = 25', '');
  }
  // By hand, the same result also needs the routes Weft installs: one into the device and one
  // unreachable fallback per remote subnet, here into a scratch table.
  const batch = join(a.dir, 'routes.batch');
  await writeFile(
    batch,
    links
      .flatMap((l) => [
        `route add ${l.remote_subnets[0]} dev wgh1 metric 100 table ${SCRATCH_TABLE}`,
        `route add unreachable ${l.remote_subnets[0]} metric 70000 table ${SCRATCH_TABLE}`,
      ])
      .join('\n') + '\n',
  );
  const full = join(a.dir, 'peers.conf');
  const empty = join(a.dir, 'empty.conf');
  await writeFile(full, lines.join('\n'), { mode: 0o600 });
  await writeFile(empty, lines.slice(0, 4).join('\n'), { mode: 0o600 });

  const proc = startWireGuardGo(a, 'wgh1');
  const base: number[] = [];
  const baseRoutes: number[] = [];
  const api: number[] = [];
  try {
    await waitFor(
      () =>
        a.applianceExec(['wg', 'show', 'wgh1']).then(
          () => true,
          () => false,
        ),
      { what: 'wgh1', timeoutMs: 5000 },
    );
    // The hub device exists before timing, as the hand-made one does.
    const start = (await a.api.get<{ links: unknown[] }>('/config')).body;
    const seed = await a.api.put('/config', { ...start, links: [links[0]] });
    if (seed.status !== 200) throw new Error(`PUT /config: ${seed.status} ${JSON.stringify(seed.body)}`);
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      await a.applianceExec(['wg', 'syncconf', 'wgh1', full]);
      base.push(performance.now() - t);
      await a.applianceExec(['ip', 'link', 'set', 'wgh1', 'up']);
      t = performance.now();
      await a.applianceExec(['ip', '-batch', batch]);
      baseRoutes.push(performance.now() - t);
      await a.applianceExec(['ip', 'route', 'flush', 'table', String(SCRATCH_TABLE)]);
      await a.applianceExec(['wg', 'syncconf', 'wgh1', empty]);

      const current = (await a.api.get<{ links: unknown[] }>('/config')).body;
      t = performance.now();
      const put = await a.api.put('/config', { ...current, links }, { timeoutMs: 60_000 });
      api.push(performance.now() - t);
      if (put.status !== 200) throw new Error(`PUT /config: ${put.status} ${JSON.stringify(put.body)}`);
      const after = (await a.api.get<{ links: unknown[] }>('/config')).body;
      const back = await a.api.put('/config', { ...after, links: [links[0]] }, { timeoutMs: 60_000 });
      if (back.status !== 200) throw new Error(`PUT /config: ${back.status} ${JSON.stringify(back.body)}`);
    }
  } finally {
    await stopProcess(proc);
  }
  const b = median(base);
  const r = median(baseRoutes);
  const w = median(api);
  console.log(
    `${PEERS} peers through the whole API, ${ROUNDS} rounds (medians), onto a device with no peers`,
  );
  console.log(`baseline  wg syncconf                                  ${b.toFixed(0)} ms`);
  console.log(`baseline  wg syncconf + ip -batch (${2 * PEERS} routes)          ${(b + r).toFixed(0)} ms`);
  console.log(
    `weft      PUT /config (validate, commit, peers, routes)    ${w.toFixed(0)} ms   ratio ${(w / (b + r)).toFixed(2)}x (vs syncconf alone ${(w / b).toFixed(2)}x)`,
  );
}

runLabBench('bench-wireguard', { throughput, peers: (a: Site) => manyPeers(a) });
