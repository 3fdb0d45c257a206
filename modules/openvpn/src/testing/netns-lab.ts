// Fixtures for the openvpn integration specs: network namespaces (@weft/core/testing's, held by a
// `sleep` each), and X.509 material made with strongSwan's `pki` — the tool
// the appliance CA uses — so what openvpn is tested with is what the appliance issues (ECDSA P-256, no
// extended key usage). Test code only: it runs real commands.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProcessRunner } from '@weft/core';
import { HeldNetns, linkNetns } from '@weft/core/testing';

/** A namespace held by a `sleep` (@weft/core/testing's HeldNetns, under the name these specs use). */
export type Netns = HeldNetns;
export const Netns = {
  create: (processes: ProcessRunner, name: string): Promise<Netns> => HeldNetns.create(name, processes),
};

/** A veth pair from `a` (`aName`, `aAddress/len`) to `b`, both up. */
export function linkNamespaces(
  processes: ProcessRunner,
  a: { ns: Netns; name: string; address: string },
  b: { ns: Netns; name: string; address: string },
): Promise<void> {
  return linkNetns(a, b, processes);
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
