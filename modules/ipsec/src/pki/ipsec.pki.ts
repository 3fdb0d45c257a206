// X.509 material for certificate-authenticated IPsec links, made with strongSwan's `pki` tool (the one
// charon's own docs use, so what it makes is what charon reads). Private keys never touch argv: `pki
// --gen` prints the key on stdout, `pki --self` and `pki --pub` read it from stdin. `pki --issue` takes
// the CA key only as a file (`--cakey`), and /dev/stdin does not work there (Node's child stdin is a
// socket): that one call gets a 0600 file in the private working directory, removed right after. Keys
// are ECDSA P-256:
// charon's openssl plugin signs and verifies them, and third-party IKE devices accept them more widely
// than Ed25519.
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { ProcessRunner } from '@weft/core';
import type { PkiFiles } from './pki.files.js';

export interface PkiToolOptions {
  processes: ProcessRunner;
  files: PkiFiles;
  /** A private directory (0700) for the inputs of `pki --issue`. */
  workDir: string;
  /** Default `pki` (found in PATH). */
  pki?: string;
  timeoutMs?: number;
}

export interface IssueRequest {
  caKey: string;
  caCert: string;
  /** The subject's private key (only its public half is certified). */
  subjectKey: string;
  dn: string;
  /** subjectAltNames: IP addresses or DNS names; pki encodes each as the type it parses as. */
  sans: readonly string[];
  lifetimeDays?: number;
}

const KEY_ARGS = ['--type', 'ecdsa', '--size', '256', '--outform', 'pem'] as const;

/** A subject DN value pki parses unambiguously: no separators, quotes or escapes. */
export function dnValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9 ._:@-]/g, '-').trim();
  return cleaned === '' ? 'weft' : cleaned.slice(0, 64);
}

const PEM_CERT = /^-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/;

/**
 * Why `pem` is not one usable CA certificate, or undefined when it is. Pure (parses, no I/O): for
 * verify, so an operator learns about a bad paste before charon does.
 */
export function caCertificateProblem(pem: string): string | undefined {
  const text = pem.trim();
  if (!PEM_CERT.test(text)) {
    return 'is not one PEM certificate: paste the whole block from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----';
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch {
    return 'is not a readable X.509 certificate: paste it again, unchanged';
  }
  if (!cert.ca)
    return `is not a CA certificate (${cert.subject.replace(/\n/g, ', ')}): give the CA that issued the remote side's certificate (GET /appliance on a Weft site shows it as ca_certificate)`;
  return undefined;
}

export class PkiTool {
  private readonly pki: string;
  private readonly timeoutMs: number;

  constructor(private readonly o: PkiToolOptions) {
    this.pki = o.pki ?? 'pki';
    this.timeoutMs = o.timeoutMs ?? 20_000;
  }

  private async run(what: string, args: readonly string[], input?: string): Promise<string> {
    try {
      const { stdout } = await this.o.processes.run(this.pki, args, {
        ...(input !== undefined ? { input } : {}),
        timeoutMs: this.timeoutMs,
      });
      return stdout;
    } catch (cause) {
      throw new Error(`pki: ${what}`, { cause });
    }
  }

  /** A new ECDSA P-256 private key (PEM), read from pki's stdout. */
  async generateKey(): Promise<string> {
    const pem = await this.run('generate an ECDSA P-256 key', ['--gen', ...KEY_ARGS]);
    if (!pem.includes('PRIVATE KEY-----'))
      throw new Error('pki: generate an ECDSA P-256 key: no PEM key out');
    return pem;
  }

  /** A self-signed CA certificate (PEM) for `key`, which goes in on stdin. */
  async selfSignedCa(key: string, dn: string, lifetimeDays = 3650): Promise<string> {
    return this.certificateOut(
      `self-sign CA ${dn}`,
      await this.run(
        `self-sign CA ${dn}`,
        [
          '--self',
          '--ca',
          '--type',
          'ecdsa',
          '--dn',
          dn,
          '--lifetime',
          String(lifetimeDays),
          '--outform',
          'pem',
        ],
        key,
      ),
    );
  }

  /** The public key (PEM) of `key`, which goes in on stdin. */
  async publicKeyOf(key: string): Promise<string> {
    return this.run('derive a public key', ['--pub', '--type', 'ecdsa', '--outform', 'pem'], key);
  }

  /** A certificate (PEM) for the subject key, signed by the CA (its key in a 0600 file for the call). */
  async issue(r: IssueRequest): Promise<string> {
    const pub = await this.publicKeyOf(r.subjectKey);
    const caFile = join(this.o.workDir, 'pki-issue-ca.pem');
    const pubFile = join(this.o.workDir, 'pki-issue-subject.pub');
    const keyFile = join(this.o.workDir, 'pki-issue-ca.key');
    await this.o.files.writePublic(caFile, r.caCert);
    await this.o.files.writePublic(pubFile, pub);
    const args = [
      '--issue',
      '--cakey',
      keyFile,
      '--cacert',
      caFile,
      '--in',
      pubFile,
      '--type',
      'pub',
      '--dn',
      r.dn,
      ...r.sans.flatMap((san) => ['--san', san]),
      // Both: IKE peers are initiator and responder alike; some devices check these.
      '--flag',
      'serverAuth',
      '--flag',
      'clientAuth',
      '--lifetime',
      String(r.lifetimeDays ?? 1095),
      '--outform',
      'pem',
    ];
    try {
      await this.o.files.writePrivate(keyFile, r.caKey);
      return this.certificateOut(`issue ${r.dn}`, await this.run(`issue ${r.dn}`, args));
    } finally {
      await this.o.files.remove(keyFile);
    }
  }

  private certificateOut(what: string, stdout: string): string {
    if (!stdout.includes('-----BEGIN CERTIFICATE-----'))
      throw new Error(`pki: ${what}: no PEM certificate out`);
    return stdout.trim() + '\n';
  }
}
