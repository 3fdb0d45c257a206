// The document as the API shows it: write-only secrets out, read-only facts (public keys) in.
import { Inject, Injectable, Optional } from '@nestjs/common';
import { redactDocument, type NormalizedDocument } from '../desired-state/document.js';
import { IpsecDriver } from '../drivers/ipsec.driver.js';
import { WireGuardDriver } from '../drivers/wireguard.driver.js';

@Injectable()
export class DocumentPresenter {
  constructor(
    @Optional() @Inject(WireGuardDriver) private readonly wireguard?: WireGuardDriver,
    @Optional() @Inject(IpsecDriver) private readonly ipsec?: IpsecDriver,
  ) {}

  present(doc: NormalizedDocument): NormalizedDocument {
    const out = redactDocument(doc);
    const ca = this.ipsec?.caCertificate;
    if (ca) (out.appliance as { ca_certificate?: string }).ca_certificate = ca;
    const key = this.wireguard?.ownPublicKey;
    if (key) {
      (out.appliance as { wireguard_public_key?: string }).wireguard_public_key = key;
      for (const link of out.links) {
        if (link.type === 'wireguard') (link.wireguard as { public_key?: string }).public_key = key;
      }
    }
    return out;
  }
}
