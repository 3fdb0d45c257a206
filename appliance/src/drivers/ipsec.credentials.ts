// This appliance's X.509 identity for certificate-authenticated IPsec links: its own CA (made on first
// start) and a certificate from it for the identity the links use (its public_endpoint), reissued when
// that changes. All of it is kept in the IPsec module state, like the WireGuard private key; the private
// keys leave it only towards pki (stdin, a 0600 file for one call) and charon (VICI load-key).
import { dnValue } from '@weft/ipsec';
import type { ModuleState } from '../desired-state/desired-state.store.js';

/** What it needs from @weft/ipsec's PkiTool. */
export interface CertificateTool {
  generateKey(): Promise<string>;
  selfSignedCa(key: string, dn: string): Promise<string>;
  issue(r: {
    caKey: string;
    caCert: string;
    subjectKey: string;
    dn: string;
    sans: readonly string[];
  }): Promise<string>;
}

export interface IpsecIdentity {
  caCert: string;
  cert: string;
  /** This appliance's private key (PEM): for charon's load-key only. */
  key: string;
}

const K = {
  caKey: 'x509:ca-key',
  caCert: 'x509:ca-cert',
  key: 'x509:key',
  cert: 'x509:cert',
  certFor: 'x509:cert-identity',
} as const;

export class IpsecCredentials {
  constructor(
    private readonly state: ModuleState,
    private readonly pki: CertificateTool,
  ) {}

  /** This appliance's CA certificate (PEM, public), once made. */
  get caCertificate(): string | undefined {
    return this.state.get(K.caCert);
  }

  /** The identity the current certificate was issued for. */
  get certifiedIdentity(): string | undefined {
    return this.state.get(K.certFor);
  }

  /** Makes the CA on first use; returns its certificate. */
  async ensureCa(applianceName: string): Promise<string> {
    const existing = this.state.get(K.caCert);
    if (existing && this.state.get(K.caKey)) return existing;
    const key = await this.pki.generateKey();
    const cert = await this.pki.selfSignedCa(key, `CN=Weft CA ${dnValue(applianceName)}`);
    // One transaction: never a CA certificate without its key.
    this.state.update({ [K.caKey]: key, [K.caCert]: cert }, [K.cert, K.certFor]);
    return cert;
  }

  /** The CA, a key and a certificate for `identity` (an IP address or DNS name), issued when missing. */
  async ensureCertificate(identity: string, applianceName: string): Promise<IpsecIdentity> {
    const caCert = await this.ensureCa(applianceName);
    const caKey = this.state.get(K.caKey) ?? '';
    let key = this.state.get(K.key);
    let cert = this.state.get(K.cert);
    if (!key || !cert || this.state.get(K.certFor) !== identity) {
      key ??= await this.pki.generateKey();
      cert = await this.pki.issue({
        caKey,
        caCert,
        subjectKey: key,
        dn: `CN=${dnValue(identity)}`,
        // The subjectAltName is what charon matches the IKE identity against.
        sans: [identity],
      });
      this.state.update({ [K.key]: key, [K.cert]: cert, [K.certFor]: identity });
    }
    return { caCert, cert, key };
  }
}
