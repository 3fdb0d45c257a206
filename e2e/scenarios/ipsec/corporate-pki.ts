// Test fixture, not product code: a "corporate PKI" made with strongSwan's pki, as an operator's
// company would run one — a root CA, an issuing (intermediate) CA, and a gateway certificate from it.
// Keys only ever sit in files of a private temporary directory (0700/0600) and reach pki by path, never
// in argv; `destroy()` removes them.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../lib/index.js';

export interface GatewayCertificate {
  /** PEM: the gateway certificate, then the issuing CA (what `local_certificate` takes). */
  certificate: string;
  /** PEM of its private key (`local_private_key`). */
  privateKey: string;
  /** The subject DN, as the other side's remote_id. */
  subject: string;
}

export class CorporatePki {
  private files = 0;
  private rootKey = '';
  private issuingKey = '';
  /** PEM of the root CA: `local_ca`, and the other side's `remote_ca`. */
  rootCa = '';
  /** PEM of the issuing CA, which signs gateway certificates. */
  issuingCa = '';

  private constructor(private readonly dir: string) {}

  static async create(name = 'Corp'): Promise<CorporatePki> {
    const pki = new CorporatePki(await mkdtemp(join(tmpdir(), 'weft-e2e-pki-')));
    try {
      pki.rootKey = await pki.genKey('rsa', 3072);
      pki.rootCa = await pki.run([
        '--self',
        '--ca',
        '--in',
        await pki.file(pki.rootKey),
        '--type',
        'priv',
        '--dn',
        `C=CH, O=${name}, CN=${name} Root CA`,
        '--lifetime',
        '3650',
      ]);
      pki.issuingKey = await pki.genKey('ecdsa', 384);
      pki.issuingCa = await pki.issue(
        { key: pki.rootKey, cert: pki.rootCa },
        pki.issuingKey,
        `C=CH, O=${name}, CN=${name} Issuing CA`,
        ['--ca'],
      );
    } catch (err) {
      await pki.destroy();
      throw err;
    }
    return pki;
  }

  /** A gateway certificate (RSA 2048, as company PKIs still hand out) from the issuing CA. */
  async gateway(cn: string, sans: readonly string[]): Promise<GatewayCertificate> {
    const key = await this.genKey('rsa', 2048);
    const subject = `C=CH, O=Corp, OU=Gateways, CN=${cn}`;
    const cert = await this.issue({ key: this.issuingKey, cert: this.issuingCa }, key, subject, [
      ...sans.flatMap((s) => ['--san', s]),
      '--flag',
      'serverAuth',
      '--flag',
      'clientAuth',
    ]);
    return { certificate: cert + this.issuingCa, privateKey: key, subject };
  }

  async destroy(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private async run(args: readonly string[]): Promise<string> {
    const { stdout } = await run(['pki', ...args, '--outform', 'pem'], { timeoutMs: 60_000 });
    return stdout.trim() + '\n';
  }

  private async file(data: string): Promise<string> {
    const path = join(this.dir, `f${this.files++}.pem`);
    await writeFile(path, data, { mode: 0o600 });
    return path;
  }

  private genKey(type: 'rsa' | 'ecdsa', size: number): Promise<string> {
    return this.run(['--gen', '--type', type, '--size', String(size)]);
  }

  private async issue(
    ca: { key: string; cert: string },
    subjectKey: string,
    dn: string,
    extra: readonly string[],
  ): Promise<string> {
    const pub = await this.run(['--pub', '--in', await this.file(subjectKey), '--type', 'priv']);
    return this.run([
      '--issue',
      '--cacert',
      await this.file(ca.cert),
      '--cakey',
      await this.file(ca.key),
      '--type',
      'pub',
      '--in',
      await this.file(pub),
      '--dn',
      dn,
      ...extra,
      '--lifetime',
      '365',
    ]);
  }
}
