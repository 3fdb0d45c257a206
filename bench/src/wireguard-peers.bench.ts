// Applying N WireGuard peers through Weft's configurer (diff against the device, one UAPI set) against
// the baseline `wg syncconf` with the same N peers, on two wireguard-go devices of the same run.
// Run inside a throw-away network namespace: `npm run -w @weft/bench wireguard` (or `make bench`).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  createWireGuardConfigurer,
  generateKeyPair,
  generatePrivateKey,
  NodeProcessRunner,
  type WgPeerConfig,
} from '@weft/wireguard';

const N = Number(process.env.BENCH_PEERS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
// Unique per run: wireguard-go's sockets live in /run/wireguard, shared with every namespace.
const BASE = `wgb${process.pid % 100000}`;
const WEFT = `wgw${process.pid % 100000}`;

function wg(...args: string[]): string {
  return execFileSync('wg', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function peers(n: number): WgPeerConfig[] {
  return Array.from({ length: n }, (_, i) => ({
    publicKey: generateKeyPair().publicKey,
    endpoint: `192.0.2.${(i % 250) + 1}:${51820 + Math.floor(i / 250)}`,
    allowedIps: [`10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`],
    persistentKeepalive: 25,
  }));
}

function conf(privateKey: string, list: readonly WgPeerConfig[]): string {
  const lines = ['[Interface]', `PrivateKey = ${privateKey}`, 'ListenPort = 41820', ''];
  for (const p of list) {
    lines.push('[Peer]', `PublicKey = ${p.publicKey}`, `Endpoint = ${p.endpoint ?? ''}`);
    lines.push(
      `AllowedIPs = ${p.allowedIps.join(', ')}`,
      `PersistentKeepalive = ${p.persistentKeepalive ?? 0}`,
      '',
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  execFileSync('ip', ['link', 'set', 'lo', 'up']);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-wg-'));
  const want = peers(N);
  const key = generatePrivateKey();
  const full = join(dir, 'full.conf');
  const empty = join(dir, 'empty.conf');
  writeFileSync(full, conf(key, want), { mode: 0o600 });
  writeFileSync(empty, conf(key, []), { mode: 0o600 });

  // Baseline device: wireguard-go started by hand, in the foreground, ended by its PID below.
  const baseline = spawn('wireguard-go', ['-f', BASE], { stdio: 'ignore' });
  const { configurer } = await createWireGuardConfigurer({
    processes: new NodeProcessRunner(),
    implementation: 'userspace',
    logDir: dir,
  });
  try {
    for (let i = 0; i < 100; i++) {
      try {
        wg('show', BASE, 'listen-port');
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    await configurer.ensureDevice(WEFT, { privateKey: generatePrivateKey(), listenPort: 41821 }, 1420);

    const base: number[] = [];
    const weft: number[] = [];
    const noop: number[] = [];
    const one: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      wg('syncconf', BASE, full);
      base.push(performance.now() - t);
      wg('syncconf', BASE, empty);

      t = performance.now();
      const diff = await configurer.syncPeers(WEFT, want);
      weft.push(performance.now() - t);
      if (diff.added.length !== N) throw new Error(`added ${diff.added.length} peers; expected ${N}`);
      t = performance.now();
      const again = await configurer.syncPeers(WEFT, want);
      noop.push(performance.now() - t);
      if (again.added.length + again.updated.length + again.removed.length !== 0) {
        throw new Error('a second sync of the same peers changed something');
      }
      const changed = want.map((p, i) => (i === 7 ? { ...p, allowedIps: ['10.250.7.0/24'] } : p));
      t = performance.now();
      const single = await configurer.syncPeers(WEFT, changed);
      one.push(performance.now() - t);
      if (single.updated.length !== 1) throw new Error(`changing one peer updated ${single.updated.length}`);
      await configurer.syncPeers(WEFT, []);
    }
    const count = wg('show', WEFT, 'peers').trim();
    if (count !== '') throw new Error('peers left on the Weft device');

    const b = median(base);
    const w = median(weft);
    console.log(`wireguard peers: ${N}, rounds: ${ROUNDS} (medians), wireguard-go on both sides`);
    console.log(`baseline  wg syncconf, empty → ${N} peers           ${b.toFixed(1)} ms`);
    console.log(
      `weft      syncPeers (read, diff, UAPI set)         ${w.toFixed(1)} ms   ratio ${(w / b).toFixed(2)}x (target ≤ 2x)`,
    );
    console.log(
      `weft      syncPeers, no change                     ${median(noop).toFixed(1)} ms   ratio ${(median(noop) / b).toFixed(2)}x`,
    );
    console.log(
      `weft      syncPeers, one of ${N} peers changed      ${median(one).toFixed(1)} ms   ratio ${(median(one) / b).toFixed(2)}x`,
    );
  } finally {
    await configurer.removeDevice(WEFT).catch(() => undefined);
    await configurer.close();
    baseline.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
