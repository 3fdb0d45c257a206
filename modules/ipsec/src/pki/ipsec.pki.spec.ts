// The real `pki` (a local tool, ~10 ms a call) in a temporary directory, behind a runner that records
// every argv: what it makes must chain and carry the identity, and no key may ever show up in argv.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NodeProcessRunner, type ProcessRunner, type RunOptions } from '@weft/core';
import { caCertificateProblem, dnValue, PkiTool } from './ipsec.pki.js';
import { NodePkiFiles, type PkiFiles } from './pki.files.js';

/** Real files, plus what mode each private file had while pki ran. */
class WatchedFiles implements PkiFiles {
  private readonly real = new NodePkiFiles();
  readonly privateModes: number[] = [];
  writePublic = (p: string, d: string): Promise<void> => this.real.writePublic(p, d);
  async writePrivate(p: string, d: string): Promise<void> {
    await this.real.writePrivate(p, d);
    this.privateModes.push((await stat(p)).mode & 0o777);
  }
  remove = (p: string): Promise<void> => this.real.remove(p);
}

class RecordingRunner implements ProcessRunner {
  readonly argvs: string[][] = [];
  readonly inputs: string[] = [];
  private readonly real = new NodeProcessRunner();
  spawn: ProcessRunner['spawn'] = (...a) => this.real.spawn(...a);
  findExecutable: ProcessRunner['findExecutable'] = (n) => this.real.findExecutable(n);
  run(file: string, args: readonly string[], options?: RunOptions): ReturnType<ProcessRunner['run']> {
    this.argvs.push([file, ...args]);
    if (options?.input !== undefined) this.inputs.push(options.input);
    return this.real.run(file, args, options);
  }
}

describe('PkiTool (strongSwan pki)', () => {
  let dir: string;
  const runner = new RecordingRunner();
  const files = new WatchedFiles();
  let tool: PkiTool;
  let caKey: string;
  let caCert: string;
  let key: string;
  let cert: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-pki-'));
    tool = new PkiTool({ processes: runner, files, workDir: dir });
    caKey = await tool.generateKey();
    caCert = await tool.selfSignedCa(caKey, `CN=${dnValue('Weft CA site "a", east')}`);
    key = await tool.generateKey();
    cert = await tool.issue({
      caKey,
      caCert,
      subjectKey: key,
      dn: 'CN=203.0.113.10',
      sans: ['203.0.113.10'],
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keys are ECDSA P-256 and never in argv; the CA key sits in a 0600 file only during the call', async () => {
    for (const k of [caKey, key]) {
      const parsed = createPrivateKey(k);
      assert.equal(parsed.asymmetricKeyType, 'ec');
      assert.equal(parsed.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    }
    const argv = runner.argvs.flat().join('\n');
    assert.doesNotMatch(argv, /PRIVATE KEY|BEGIN/);
    assert.ok(runner.inputs.includes(caKey), 'the CA key went in on stdin for --self');
    assert.deepEqual(files.privateModes, [0o600]);
    await assert.rejects(stat(join(dir, 'pki-issue-ca.key')), /ENOENT/);
  });

  it('the CA is self-signed, a CA, named without DN separators', () => {
    const ca = new X509Certificate(caCert);
    assert.equal(ca.ca, true);
    assert.equal(ca.subject, 'CN=Weft CA site -a-- east');
    assert.ok(ca.verify(ca.publicKey));
    assert.equal(caCertificateProblem(caCert), undefined);
  });

  it('the appliance certificate chains to the CA and names the endpoint as an IP subjectAltName', () => {
    const c = new X509Certificate(cert);
    assert.equal(c.ca, false);
    assert.ok(c.verify(new X509Certificate(caCert).publicKey));
    assert.equal(c.subject, 'CN=203.0.113.10');
    assert.match(c.subjectAltName ?? '', /IP Address:203\.0\.113\.10/);
    assert.ok(c.checkPrivateKey(createPrivateKey(key)));
  });

  it('leaves only public material in its working directory', async () => {
    for (const f of await readdir(dir)) assert.doesNotMatch(await readFile(join(dir, f), 'utf8'), /PRIVATE/);
  });

  it('caCertificateProblem names what is wrong with a pasted remote_ca', () => {
    assert.match(caCertificateProblem('hello') ?? '', /not one PEM certificate/);
    assert.match(
      caCertificateProblem('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----') ?? '',
      /not a readable X\.509/,
    );
    assert.match(caCertificateProblem(cert) ?? '', /not a CA certificate \(CN=203\.0\.113\.10\)/);
  });

  it('a failing pki call says what it tried, without any key', async () => {
    const broken = new PkiTool({
      processes: runner,
      files,
      workDir: dir,
      pki: '/bin/false',
    });
    await assert.rejects(broken.selfSignedCa(caKey, 'CN=x'), (err: Error) => {
      assert.match(err.message, /^pki: self-sign CA CN=x$/);
      assert.doesNotMatch(String((err.cause as Error).message), /PRIVATE KEY/);
      return true;
    });
  });
});
