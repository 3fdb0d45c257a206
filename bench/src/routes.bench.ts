// Applying N routes to table weft through the core (netlink, plan + apply, read back) against the
// baseline: the same routes through `ip -batch` into another table, measured in the same run.
// Run inside a throw-away network namespace: `npm run -w @weft/bench routes` (or `make bench`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { NodeFileAdapter, ProcSysctl, RoutingCore, RtNetlinkAdapter, type OwnedRoute } from '@weft/core';

const N = Number(process.env.BENCH_ROUTES ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const BASELINE_TABLE = 7374;

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8' });
}

function routes(n: number): OwnedRoute[] {
  return Array.from({ length: n }, (_, i) => ({
    destination: `10.${100 + Math.floor(i / 256)}.${i % 256}.0/24`,
    kind: 'unicast' as const,
    gateway: '10.1.0.254',
    metric: 100,
  }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function main(): Promise<void> {
  ip('link', 'set', 'lo', 'up');
  ip('link', 'add', 'bench0', 'type', 'veth', 'peer', 'name', 'bench1');
  ip('addr', 'add', '10.1.0.1/24', 'dev', 'bench0');
  ip('link', 'set', 'bench0', 'up');
  ip('link', 'set', 'bench1', 'up');
  const want = routes(N);
  const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
  const batch = join(dir, 'routes.batch');
  writeFileSync(
    batch,
    want
      .map((r) => `route add ${r.destination} via ${r.gateway} metric ${r.metric} table ${BASELINE_TABLE}`)
      .join('\n') + '\n',
  );

  const netlink = new RtNetlinkAdapter();
  const core = new RoutingCore({ netlink, sysctl: new ProcSysctl(new NodeFileAdapter()) });
  await core.ensureBase();
  const baseline: number[] = [];
  const weft: number[] = [];
  const noop: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let t = performance.now();
    ip('-batch', batch);
    baseline.push(performance.now() - t);
    ip('route', 'flush', 'table', String(BASELINE_TABLE));

    t = performance.now();
    await core.sync(want);
    weft.push(performance.now() - t);
    t = performance.now();
    const again = await core.sync(want);
    noop.push(performance.now() - t);
    if (again.length !== 0) throw new Error(`second sync planned ${again.length} actions; expected none`);
    await core.sync([]);
  }
  await core.cleanup();
  await netlink.close();
  rmSync(dir, { recursive: true, force: true });

  const b = median(baseline);
  const w = median(weft);
  const n = median(noop);
  console.log(`routes: ${N}, rounds: ${ROUNDS} (medians)`);
  console.log(`baseline  ip -batch route add          ${b.toFixed(1)} ms`);
  console.log(`weft      RoutingCore.sync (plan+apply) ${w.toFixed(1)} ms   ratio ${(w / b).toFixed(2)}x`);
  console.log(`weft      RoutingCore.sync, no change   ${n.toFixed(1)} ms   ratio ${(n / b).toFixed(2)}x`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
