// Fixtures for the openvpn integration specs: network namespaces held by a `sleep` each (no /run/netns
// entries, so nothing outside this test's own namespace sees them and nothing needs cleaning up but the
// PIDs), commands inside them through nsenter, and X.509 material made with strongSwan's `pki` — the tool
// the appliance CA uses — so what openvpn is tested with is what the appliance issues (ECDSA P-256, no
// extended key usage). Test code only: it runs real commands.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessHandle, ProcessRunner } from '@weft/core';

export class Netns {
  private constructor(
    readonly name: string,
    private readonly holder: ProcessHandle,
    private readonly processes: ProcessRunner,
  ) {}

  /** A new network namespace, held by `sleep infinity` (its PID is the handle nsenter uses). */
  static async create(processes: ProcessRunner, name: string): Promise<Netns> {
    const holder = await processes.spawn('unshare', ['--net', '--', 'sleep', 'infinity'], {
      output: { kind: 'ignore' },
    });
    const ns = new Netns(name, holder, processes);
    // unshare has exec'd sleep once /proc/<pid>/ns/net differs from ours: wait for that, not a fixed time.
    for (let i = 0; i < 200; i++) {
      const { stdout } = await processes.run('readlink', [`/proc/${holder.pid}/ns/net`, '/proc/self/ns/net']);
      const [theirs, ours] = stdout.trim().split('\n');
      if (theirs !== ours) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await ns.run('ip', 'link', 'set', 'lo', 'up');
    return ns;
  }

  get pid(): number {
    return this.holder.pid;
  }

  /** The argv prefix that runs a command in this namespace (and execs it: the PID stays the command's). */
  get launcher(): string[] {
    return ['nsenter', '-t', String(this.pid), '-n', '--'];
  }

  async run(...argv: string[]): Promise<string> {
    const { stdout } = await this.processes.run('nsenter', ['-t', String(this.pid), '-n', '--', ...argv], {
      timeoutMs: 15_000,
    });
    return stdout;
  }

  /** One ping, true when it was answered within a second. */
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

  async destroy(): Promise<void> {
    this.holder.kill('SIGKILL');
    await this.holder.exited;
  }
}

/** A veth pair from `a` (`aName`, `aAddress/len`) to `b`, both up. */
export async function linkNamespaces(
  processes: ProcessRunner,
  a: { ns: Netns; name: string; address: string },
  b: { ns: Netns; name: string; address: string },
): Promise<void> {
  await processes.run('ip', ['link', 'add', a.name, 'type', 'veth', 'peer', 'name', b.name]);
  await processes.run('ip', ['link', 'set', a.name, 'netns', String(a.ns.pid)]);
  await processes.run('ip', ['link', 'set', b.name, 'netns', String(b.ns.pid)]);
  for (const end of [a, b]) {
    await end.ns.run('ip', 'addr', 'add', end.address, 'dev', end.name);
    await end.ns.run('ip', 'link', 'set', end.name, 'up');
  }
}

export interface TestCredentials {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A throw-away CA (ECDSA P-256, made with `pki`) issuing one certificate per common name. */
export class TestCa {
  private constructor(
    private readonly processes: ProcessRunner,
    private readonly dir: string,
    readonly caPem: string,
  ) {}

  /** `commonName`: CAs trusted together need subjects of their own (a capath dir looks them up by it). */
  static async create(processes: ProcessRunner, commonName = 'weft-test-ca'): Promise<TestCa> {
    const dir = await mkdtemp(join(tmpdir(), 'weft-ovpn-ca-'));
    const caKey = await pki(processes, ['--gen', '--type', 'ecdsa', '--size', '256', '--outform', 'pem']);
    const caPem = await pki(
      processes,
      ['--self', '--ca', '--type', 'ecdsa', '--dn', `CN=${commonName}`, '--outform', 'pem'],
      caKey,
    );
    // `pki --issue` reads the CA key from a file only (see ipsec's pki): a 0600 file in a private dir.
    await writeFile(join(dir, 'ca.key'), caKey, { mode: 0o600 });
    await writeFile(join(dir, 'ca.pem'), caPem, { mode: 0o600 });
    return new TestCa(processes, dir, caPem);
  }

  async issue(commonName: string): Promise<TestCredentials> {
    const keyPem = await pki(this.processes, [
      '--gen',
      '--type',
      'ecdsa',
      '--size',
      '256',
      '--outform',
      'pem',
    ]);
    const pub = await pki(this.processes, ['--pub', '--type', 'ecdsa', '--outform', 'pem'], keyPem);
    const certPem = await pki(
      this.processes,
      [
        '--issue',
        '--cacert',
        join(this.dir, 'ca.pem'),
        '--cakey',
        join(this.dir, 'ca.key'),
        '--type',
        'pub',
        '--dn',
        `CN=${commonName}`,
        '--san',
        commonName,
        '--outform',
        'pem',
      ],
      pub,
    );
    return { caPem: this.caPem, certPem, keyPem };
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function pki(processes: ProcessRunner, args: string[], input?: string): Promise<string> {
  const { stdout } = await processes.run('pki', args, {
    ...(input !== undefined ? { input } : {}),
    timeoutMs: 20_000,
  });
  return stdout;
}
