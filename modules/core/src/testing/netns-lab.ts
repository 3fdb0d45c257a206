// Network namespaces for integration specs that need hosts and a router: each is held by a `sleep`
// (no /run/netns entry, so nothing outside the test's own namespace sees it and nothing but the PID
// needs cleaning up), commands run inside through nsenter, and tcpdump tells what crossed a link.
// Test code only: it runs real commands. The openvpn integration specs use it too.
import { NodeProcessRunner, type ProcessHandle, type ProcessRunner } from '../system/process.adapter.js';

export class HeldNetns {
  private constructor(
    readonly name: string,
    private readonly holder: ProcessHandle,
    private readonly processes: ProcessRunner,
  ) {}

  /** A new network namespace with lo up, held by `sleep infinity` (its PID is what nsenter takes). */
  static async create(name: string, processes: ProcessRunner = new NodeProcessRunner()): Promise<HeldNetns> {
    const holder = await processes.spawn('unshare', ['--net', '--', 'sleep', 'infinity'], {
      output: { kind: 'ignore' },
    });
    const ns = new HeldNetns(name, holder, processes);
    // unshare has exec'd sleep once /proc/<pid>/ns/net differs from ours: wait for that, not a fixed time.
    await waitUntil(async () => {
      const { stdout } = await processes.run('readlink', [`/proc/${holder.pid}/ns/net`, '/proc/self/ns/net']);
      const [theirs, ours] = stdout.trim().split('\n');
      return theirs !== ours;
    }, `namespace ${name} to exist`);
    await ns.run('ip', 'link', 'set', 'lo', 'up');
    return ns;
  }

  get pid(): number {
    return this.holder.pid;
  }

  /** The argv prefix that runs a command in this namespace. */
  get launcher(): string[] {
    return ['nsenter', '-t', String(this.pid), '-n', '--'];
  }

  async run(...argv: string[]): Promise<string> {
    const { stdout } = await this.processes.run('nsenter', [...this.launcher.slice(1), ...argv], {
      timeoutMs: 15_000,
    });
    return stdout;
  }

  /** One ping, true when it was answered within a second; `size` bytes of payload, DF set if asked. */
  async ping(
    to: string,
    options: { from?: string; size?: number; dontFragment?: boolean } = {},
  ): Promise<boolean> {
    const args = ['ping', '-n', '-q', '-c', '1', '-W', '1'];
    if (options.from) args.push('-I', options.from);
    if (options.size !== undefined) args.push('-s', String(options.size));
    if (options.dontFragment) args.push('-M', 'do');
    try {
      await this.run(...args, to);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * tcpdump on `device` here while `during` runs: the first `count` packets matching the pcap `filter`,
   * as tcpdump's one-line summaries (`IP 10.11.0.5 > 192.0.2.2: ICMP echo request, …`). Throws when
   * fewer arrive within the timeout.
   */
  async capture(
    device: string,
    filter: string,
    during: () => Promise<unknown>,
    options: { count?: number; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const count = options.count ?? 1;
    const timeoutMs = options.timeoutMs ?? 5000;
    const lines: string[] = [];
    let listening = false;
    const tcpdump = await this.processes.spawn(
      'nsenter',
      [...this.launcher.slice(1), 'tcpdump', '-n', '-l', '-p', '-i', device, '-c', String(count), filter],
      {
        output: {
          kind: 'pipe',
          onLine: (line, stream) => {
            if (stream === 'stdout') lines.push(line);
            else if (line.includes('listening on')) listening = true;
          },
        },
      },
    );
    let exited = false;
    void tcpdump.exited.then(() => (exited = true));
    try {
      await waitUntil(() => listening || exited, `tcpdump listening on ${device} in ${this.name}`, timeoutMs);
      if (!listening) throw new Error(`tcpdump on ${device} in ${this.name} ended before it listened`);
      await during();
      await waitUntil(
        () => lines.length >= count,
        `${count} packet(s) "${filter}" on ${device} in ${this.name}`,
        timeoutMs,
      );
      return lines.slice(0, count);
    } finally {
      tcpdump.kill('SIGTERM');
      await tcpdump.exited;
    }
  }

  async destroy(): Promise<void> {
    this.holder.kill('SIGKILL');
    await this.holder.exited;
  }
}

/** A veth pair from `a` (`name`, `address/len`) to `b`, both ends up. */
export async function linkNetns(
  a: { ns: HeldNetns; name: string; address: string },
  b: { ns: HeldNetns; name: string; address: string },
  processes: ProcessRunner = new NodeProcessRunner(),
): Promise<void> {
  await processes.run('ip', ['link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name]);
  await processes.run('ip', ['link', 'set', a.name, 'netns', String(a.ns.pid)]);
  await processes.run('ip', ['link', 'set', b.name, 'netns', String(b.ns.pid)]);
  for (const end of [a, b]) {
    await end.ns.run('ip', 'addr', 'add', end.address, 'dev', end.name);
    await end.ns.run('ip', 'link', 'set', end.name, 'up');
  }
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs` (a condition, not a sleep). */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
