// The nftables multicast forwarder (the one kernels without multicast routing use), against baselines
// measured in the same run, in namespaces of its own (sender — router — two receivers):
//   apply:   N group routes through NftMulticastForwarder.apply (read the table, render, one nft -f)
//            vs `nft -f` of the same script written by hand; and an apply that changes nothing.
//   forward: datagrams per second that reach receiver A through the router, for a group copied to A
//            and B by the forwarder's dup rule vs the same datagrams sent unicast to A and forwarded by
//            the kernel's IP forwarding (the same sender, the same sizes, rounds alternated).
// `npm run -w @weft/bench multicast` (or `make bench`).
import { performance } from 'node:perf_hooks';
import {
  NftMulticastForwarder,
  NodeProcessRunner,
  renderMulticastNft,
  type MulticastDesired,
  type MulticastRoute,
} from '@weft/core';
import { createMulticastLab, type HeldNetns } from '@weft/core/testing';

const N = Number(process.env.BENCH_GROUPS ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PACKETS = Number(process.env.BENCH_PACKETS ?? 100_000);
const processes = new NodeProcessRunner();

/** Sends `count` 64-byte UDP datagrams to `dest` port 5000 as fast as it can, TTL 4. */
const BLAST = `
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 4)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 4)
d = (sys.argv[1], 5000); b = b'x' * 64
for i in range(int(sys.argv[2])): s.sendto(b, d)
`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function groups(n: number): MulticastRoute[] {
  return Array.from({ length: n }, (_, i) => ({
    group: `239.${10 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
    inbound: 'rs',
    outbound: ['r1', 'r2'],
  }));
}

async function counted(ns: HeldNetns): Promise<number> {
  const out = await ns.run('nft', '-j', 'list', 'table', 'ip', 'benchcount');
  const parsed = JSON.parse(out) as { nftables: { rule?: { expr: { counter?: { packets: number } }[] } }[] };
  let n = 0;
  for (const item of parsed.nftables) n += item.rule?.expr.find((e) => e.counter)?.counter?.packets ?? 0;
  return n;
}

async function main(): Promise<void> {
  const lab = await createMulticastLab('mb', processes);
  const { sender, router, recvA, recvB } = lab;
  try {
    await recvA.run('ip', 'route', 'add', 'default', 'via', '10.0.1.1');
    for (const ns of [recvA, recvB]) {
      // Every datagram to port 5000, unicast or not (the lab's own counters count by group).
      await processes.run('nsenter', [...ns.launcher.slice(1), 'nft', '-f', '-'], {
        input: [
          'table ip benchcount {',
          '  chain pre {',
          '    type filter hook prerouting priority 0; policy accept;',
          '    udp dport 5000 counter',
          '  }',
          '}',
          '',
        ].join('\n'),
      });
    }

    // apply
    const fwd = new NftMulticastForwarder({ processes, launcher: router.launcher });
    const desired: MulticastDesired = { routes: groups(N) };
    const script = renderMulticastNft(desired.routes, []);
    const nft = (input: string): Promise<unknown> =>
      processes.run('nsenter', [...router.launcher.slice(1), 'nft', '-f', '-'], { input });
    const baseline: number[] = [];
    const weft: number[] = [];
    const noop: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let t = performance.now();
      await nft(script);
      baseline.push(performance.now() - t);
      await nft('delete table ip weft_mcast\n');
      t = performance.now();
      await fwd.apply(desired);
      weft.push(performance.now() - t);
      t = performance.now();
      await fwd.apply(desired);
      noop.push(performance.now() - t);
      const drift = await fwd.drift(desired);
      if (drift.length > 0) throw new Error(`drift after apply: ${drift.slice(0, 3).join('; ')}`);
      await fwd.cleanup();
    }
    const b = median(baseline);
    console.log(`multicast apply: ${N} groups, rounds: ${ROUNDS} (medians)`);
    console.log(`baseline  nft -f of the same rules        ${b.toFixed(1)} ms`);
    console.log(
      `weft      NftMulticastForwarder.apply     ${median(weft).toFixed(1)} ms   ratio ${(median(weft) / b).toFixed(2)}x`,
    );
    console.log(
      `weft      apply, nothing changed          ${median(noop).toFixed(1)} ms   ratio ${(median(noop) / b).toFixed(2)}x`,
    );

    // forward
    await fwd.apply({ routes: [{ group: '239.1.1.1', inbound: 'rs', outbound: ['r1', 'r2'] }] });
    const rate = async (dest: string): Promise<{ pps: number; loss: number }> => {
      const before = await counted(recvA);
      const t = performance.now();
      await sender.run('python3', '-c', BLAST, dest, String(PACKETS));
      const seconds = (performance.now() - t) / 1000;
      const got = (await counted(recvA)) - before;
      return { pps: got / seconds, loss: 1 - got / PACKETS };
    };
    const mc: number[] = [];
    const uc: number[] = [];
    let worstLoss = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['uc', 'mc'] : ['mc', 'uc'];
      for (const which of order) {
        const r = await rate(which === 'mc' ? '239.1.1.1' : '10.0.1.2');
        (which === 'mc' ? mc : uc).push(r.pps);
        if (which === 'mc') worstLoss = Math.max(worstLoss, r.loss);
      }
    }
    const u = median(uc);
    const m = median(mc);
    console.log(
      `multicast forward: ${PACKETS} datagrams of 64 bytes per round, rounds: ${ROUNDS} (medians, at receiver A)`,
    );
    console.log(`baseline  unicast, kernel IP forwarding    ${Math.round(u)} datagrams/s`);
    console.log(
      `weft      239.1.1.1, nft dup to A and B    ${Math.round(m)} datagrams/s   ratio ${(m / u).toFixed(2)}x   worst loss ${(worstLoss * 100).toFixed(2)} %`,
    );
    await fwd.cleanup();
  } finally {
    await lab.destroy();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
