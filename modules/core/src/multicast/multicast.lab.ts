// The namespaces the multicast forwarders' integration suites run against: a sender — router — two
// receivers, each in a namespace of its own; every delivery is counted by an nftables counter in the
// receiver's namespace (what is counted there crossed the router). Test code only.
import type { ProcessRunner } from '../system/process.adapter.js';
import { HeldNetns, linkNetns } from '../testing/netns-lab.js';

export const G1 = '239.1.1.1';
export const G2 = '239.2.2.2';

/** Sends `count` UDP datagrams to `group` port 5000 with TTL `ttl`, `gap` seconds apart. */
const SENDER = `
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, int(sys.argv[4]))
for i in range(int(sys.argv[2])):
    s.sendto(b'weft', (sys.argv[1], 5000))
    time.sleep(float(sys.argv[3]))
`;

/** Datagrams that reached a receiver: per group, and `g1ttl3` for those of G1 that arrived with TTL 3. */
export type Deliveries = Record<string, number>;

async function countDeliveries(ns: HeldNetns, processes: ProcessRunner): Promise<() => Promise<Deliveries>> {
  const script = `table ip mctest {
  chain pre { type filter hook prerouting priority 0; policy accept;
    ip daddr ${G1} udp dport 5000 counter comment "g1"
    ip daddr ${G2} udp dport 5000 counter comment "g2"
    ip daddr ${G1} udp dport 5000 ip ttl 3 counter comment "g1ttl3"
  }
}
`;
  await processes.run('nsenter', [...ns.launcher.slice(1), 'nft', '-f', '-'], { input: script });
  return async () => {
    const out = await ns.run('nft', '-j', 'list', 'table', 'ip', 'mctest');
    const parsed = JSON.parse(out) as {
      nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[];
    };
    const counts: Deliveries = {};
    for (const item of parsed.nftables) {
      const name = item.rule?.comment;
      if (!name) continue;
      counts[name === 'g1' ? G1 : name === 'g2' ? G2 : name] =
        item.rule?.expr.find((e) => e.counter)?.counter?.packets ?? 0;
    }
    return counts;
  };
}

export interface MulticastLab {
  sender: HeldNetns;
  /** Interfaces rs (to the sender, 10.0.0.1), r1 (to A, 10.0.1.1), r2 (to B, 10.0.2.1). */
  router: HeldNetns;
  recvA: HeldNetns;
  recvB: HeldNetns;
  atA: () => Promise<Deliveries>;
  atB: () => Promise<Deliveries>;
  /** `count` datagrams from the sender (10.0.0.2) to `group`, `gapS` apart, with TTL `ttl` (default 4). */
  send: (group: string, count: number, gapS?: number, ttl?: number) => Promise<string>;
  destroy: () => Promise<void>;
}

/** Makes the four namespaces, named `<prefix>-sender`, `-router`, `-a`, `-b`. */
export async function createMulticastLab(prefix: string, processes: ProcessRunner): Promise<MulticastLab> {
  const [sender, router, recvA, recvB] = (await Promise.all(
    ['sender', 'router', 'a', 'b'].map((n) => HeldNetns.create(`${prefix}-${n}`, processes)),
  )) as [HeldNetns, HeldNetns, HeldNetns, HeldNetns];
  await linkNetns(
    { ns: router, name: 'rs', address: '10.0.0.1/24' },
    { ns: sender, name: 'eth0', address: '10.0.0.2/24' },
  );
  await linkNetns(
    { ns: router, name: 'r1', address: '10.0.1.1/24' },
    { ns: recvA, name: 'eth0', address: '10.0.1.2/24' },
  );
  await linkNetns(
    { ns: router, name: 'r2', address: '10.0.2.1/24' },
    { ns: recvB, name: 'eth0', address: '10.0.2.2/24' },
  );
  await sender.run('ip', 'route', 'add', 'default', 'via', '10.0.0.1');
  await router.run('sysctl', '-qw', 'net.ipv4.ip_forward=1');
  const atA = await countDeliveries(recvA, processes);
  const atB = await countDeliveries(recvB, processes);
  return {
    sender,
    router,
    recvA,
    recvB,
    atA,
    atB,
    send: (group, count, gapS = 0.001, ttl = 4) =>
      sender.run('python3', '-c', SENDER, group, String(count), String(gapS), String(ttl)),
    destroy: async () => {
      await Promise.all([sender, router, recvA, recvB].map((n) => n.destroy()));
    },
  };
}
