// What the lab benchmarks share: medians, pings and iperf3 between LAN hosts, processes started by hand
// inside an appliance's namespaces, and rounds that alternate Weft and the hand-made baseline.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { applySiteSettings, Lab, waitFor, type Site } from '@weft/e2e';

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

export async function ping(from: Site, address: string): Promise<boolean> {
  try {
    await from.lanExec(['ping', '-n', '-q', '-c', '1', '-W', '1', address]);
    return true;
  } catch {
    return false;
  }
}

/** One iperf3 run LAN a → LAN b, one TCP stream; Mbit/s received. */
export async function iperf(a: Site, b: Site): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', b.lanNetns, 'iperf3', '-s', '-1', '-B', b.lanHost], {
    stdio: 'ignore',
  });
  try {
    // The server may not listen yet: iperf3 then reports an error (in its JSON), and we try again.
    const bps = await waitFor(
      async () => {
        try {
          const { stdout } = await a.lanExec(['iperf3', '-c', b.lanHost, '-t', String(SECONDS), '-J'], {
            timeoutMs: (SECONDS + 20) * 1000,
          });
          const report = JSON.parse(stdout) as {
            error?: string;
            end?: { sum_received?: { bits_per_second?: number } };
          };
          return report.error ? undefined : report.end?.sum_received?.bits_per_second;
        } catch {
          return undefined;
        }
      },
      {
        what: 'iperf3 through the tunnel',
        until: (v) => v !== undefined && v > 0,
        timeoutMs: 10_000 + SECONDS * 1000,
        intervalMs: 200,
      },
    );
    if (bps === undefined) throw new Error('iperf3 reported no throughput');
    return bps / 1e6;
  } finally {
    server.kill('SIGTERM');
  }
}

/**
 * A daemon run by hand inside the appliance's namespaces (its private /run), in the foreground; ended
 * by PID. In a session of its own, as Weft's supervisors (and systemd) start theirs: with
 * sched_autogroup on, a daemon left in this process's session shares one CPU group with both iperf3
 * ends and, on two vCPUs, moves ≈ 15 % more — a scheduling artifact, not a property of either setup.
 */
export function startInAppliance(site: Site, argv: readonly string[]): ChildProcess {
  const pid = site.pid;
  if (pid === undefined) throw new Error(`site ${site.name}: no appliance`);
  return spawn('nsenter', ['-t', String(pid), '-m', '-n', '--', ...argv], {
    stdio: 'ignore',
    detached: true,
  });
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/**
 * ROUNDS rounds of one Weft measurement and one hand-made one, alternating which goes first (the first
 * run of a round may differ on a shared machine). Returns the medians.
 */
export async function alternate(
  label: string,
  weftRun: () => Promise<number>,
  handRun: () => Promise<number>,
): Promise<{ weft: number; hand: number }> {
  const weft: number[] = [];
  const hand: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 1) hand.push(await handRun());
    weft.push(await weftRun());
    if (round % 2 === 0) hand.push(await handRun());
    console.log(
      `${label} round ${round + 1}: weft ${weft.at(-1)?.toFixed(0)}, by hand ${hand.at(-1)?.toFixed(0)}`,
    );
  }
  return { weft: median(weft), hand: median(hand) };
}

/** A set of measurements: its median and spread. */
export interface Spread {
  values: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) / median. */
  relative: number;
}

export function spread(values: readonly number[]): Spread {
  const m = median([...values]);
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { values: [...values], median: m, min, max, relative: (max - min) / m };
}

/** `median (min–max, ±x %)` with `digits` decimals. */
export function formatSpread(s: Spread, digits = 0): string {
  return `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)}, spread ${(100 * s.relative).toFixed(0)} %)`;
}

export interface AlternatedRounds {
  weft: Spread;
  hand: Spread;
  /** Weft / hand of each round: the two runs of a round sit next to each other in time. */
  roundRatios: Spread;
  /** median(weft) / median(hand). */
  ratio: number;
}

/**
 * Like `alternate`, made for a noisy shared machine: `warmup` rounds first whose results are printed
 * but discarded (the first tunnels, caches and page faults of a run), then `rounds` rounds alternating
 * which side goes first, medians and spreads of both sides and of the per-round ratios.
 */
export async function alternateRounds(
  label: string,
  weftRun: () => Promise<number>,
  handRun: () => Promise<number>,
  o: { rounds: number; warmup?: number },
): Promise<AlternatedRounds> {
  const warmup = o.warmup ?? 1;
  const weft: number[] = [];
  const hand: number[] = [];
  for (let round = 0; round < warmup + o.rounds; round++) {
    const handFirst = round % 2 === 1;
    let h = handFirst ? await handRun() : NaN;
    const w = await weftRun();
    if (!handFirst) h = await handRun();
    const kept = round >= warmup;
    if (kept) {
      weft.push(w);
      hand.push(h);
    }
    const name = kept ? `round ${round - warmup + 1}/${o.rounds}` : `warm-up ${round + 1} (discarded)`;
    console.log(
      `${label} ${name}: weft ${w.toFixed(0)}, by hand ${h.toFixed(0)}, ratio ${(w / h).toFixed(2)}` +
        ` (${handFirst ? 'hand' : 'weft'} first; load ${loadAverage()})`,
    );
  }
  const w = spread(weft);
  const h = spread(hand);
  return {
    weft: w,
    hand: h,
    roundRatios: spread(weft.map((x, i) => x / (hand[i] ?? NaN))),
    ratio: w.median / h.median,
  };
}

/** The 1-minute load average: how busy the shared machine was (others' work shows here too). */
export function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? '?';
  } catch {
    return '?';
  }
}

/**
 * Runs a two-site lab benchmark: sites a and b with their settings applied, `parts` run in order unless
 * BENCH_ONLY names one of them; the lab is destroyed whatever happens, and a failure exits non-zero.
 */
export function runLabBench(name: string, parts: Record<string, (a: Site, b: Site) => Promise<void>>): void {
  const main = async (): Promise<void> => {
    const lab = await Lab.create({ sites: ['a', 'b'], name });
    try {
      const [a, b] = [lab.site('a'), lab.site('b')];
      await applySiteSettings(a);
      await applySiteSettings(b);
      const only = process.env.BENCH_ONLY;
      for (const [part, run] of Object.entries(parts)) if (!only || only === part) await run(a, b);
    } finally {
      await lab.destroy();
    }
  };
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
