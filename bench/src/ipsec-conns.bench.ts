// Loading N IPsec connections (each with its pre-shared key) into one charon: Weft's way (the VICI
// client, load-shared + load-conn per link, as the IPsec driver does) against the baseline
// `swanctl --load-all` with the same N connections and keys, same charon, same run.
// Run inside a throw-away network namespace: `npm run -w @weft/bench ipsec` (or `make bench`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CHARON_RULE_PRIORITY, CHARON_TABLE, NodeProcessRunner } from '@weft/core';
import {
  CharonSupervisor,
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  loadConnMessage,
  loadSharedMessage,
  renderSwanctl,
  ViciClient,
  ViciSession,
  type IpsecConnSpec,
  type ViciInput,
  type ViciSharedSecret,
} from '@weft/ipsec';
import { PRIVATE_RUN_LAUNCHER } from '@weft/ipsec/testing';

const N = Number(process.env.BENCH_CONNS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function specs(n: number): { spec: IpsecConnSpec; psk: string }[] {
  return Array.from({ length: n }, (_, i) => ({
    spec: {
      name: `spoke-${i}`,
      version: 'ikev2',
      aggressive: false,
      localAddrs: ['%any'],
      remoteAddrs: [`198.51.100.${(i % 250) + 1}`],
      localId: '203.0.113.10',
      remoteId: `spoke-${i}.example`,
      auth: 'psk',
      ikeProposals: DEFAULT_IKE_PROPOSALS,
      espProposals: DEFAULT_ESP_PROPOSALS,
      localTs: ['10.1.0.0/24'],
      remoteTs: [`10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`],
      dpdDelay: 30,
      dpdAction: 'restart',
      // Nobody answers at these addresses: waiting keeps the bench about loading, not about IKE.
      startAction: 'wait',
      ikeRekeySeconds: 14400,
      childRekeySeconds: 3600,
      forceEncap: false,
    },
    psk: `bench-secret-${i}-0123456789abcdef`,
  }));
}

async function main(): Promise<void> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-ipsec-'));
  const vici = join(dir, 'charon.vici');
  const all = specs(N);
  const full = join(dir, 'full.conf');
  const empty = join(dir, 'empty.conf');
  writeFileSync(full, all.map(({ spec, psk }) => renderSwanctl(spec, psk)).join('\n'), { mode: 0o600 });
  writeFileSync(empty, '', { mode: 0o600 });
  // The appliance's charon as the IPsec driver runs it (same renderer, plugins and routing table).
  const charon = new CharonSupervisor({
    processes: new NodeProcessRunner(),
    launcher: PRIVATE_RUN_LAUNCHER,
    runtimeDir: join(dir, 'run'),
    config: {
      viciSocket: vici,
      dataplane: 'libipsec',
      log: { file: join(dir, 'charon.log') },
      routing: { table: CHARON_TABLE.id, priority: CHARON_RULE_PRIORITY },
    },
  });
  const swanctl = (file: string): void => {
    execFileSync('swanctl', ['--load-all', '--noprompt', '--file', file, '--uri', `unix://${vici}`], {
      stdio: 'ignore',
    });
  };
  try {
    await charon.start();
    const session = await ViciSession.connect(vici, { timeoutMs: 30_000 });
    const client = new ViciClient(session);
    const base: number[] = [];
    const weft: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      swanctl(full);
      base.push(performance.now() - t);
      if ((await client.getConns()).length !== N) throw new Error('swanctl did not load every connection');
      swanctl(empty); // --load-all unloads what the file no longer has
      if ((await client.getConns()).length !== 0) throw new Error('connections left after unloading');

      t = performance.now();
      for (const { spec, psk } of all) {
        await client.loadShared(loadSharedMessage(spec, psk) as unknown as ViciSharedSecret);
        await client.loadConn(spec.name, loadConnMessage(spec)[spec.name] as ViciInput);
      }
      weft.push(performance.now() - t);
      if ((await client.getConns()).length !== N) throw new Error('Weft did not load every connection');
      swanctl(empty);
    }
    session.close();
    const b = median(base);
    const w = median(weft);
    console.log(
      `ipsec connections: ${N} with their pre-shared keys, rounds: ${ROUNDS} (medians), one charon`,
    );
    console.log(`baseline  swanctl --load-all                          ${b.toFixed(0)} ms`);
    console.log(
      `weft      VICI load-shared + load-conn per link       ${w.toFixed(0)} ms   ratio ${(w / b).toFixed(2)}x (target ≤ 1.5x)`,
    );
  } finally {
    await charon.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
