import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConflictError, InvalidArgumentError } from '../common/errors.js';
import { ConfigService } from '../desired-state/config.service.js';
import type { Link } from '../desired-state/document.js';
import { ResourceService } from '../desired-state/resource.service.js';
import { ipsecBundle, ipsecSwanctl } from '../drivers/ipsec.conn-spec.js';
import { IpsecDriver } from '../drivers/ipsec.driver.js';
import { OpenvpnDriver } from '../drivers/openvpn.driver.js';
import { openvpnBundle } from '../drivers/openvpn.link-spec.js';
import { openvpnOvpn } from '../drivers/openvpn.ovpn.js';
import { interfaceOf, WireGuardDriver } from '../drivers/wireguard.driver.js';
import { weftBundle, wgQuick } from '../drivers/wireguard.peer-config.js';

export type PeerConfigFormat = 'weft' | 'wg-quick' | 'swanctl' | 'ovpn';

/** Which `format`s fit a link type, besides `weft`. */
const FORMATS: Record<string, PeerConfigFormat[]> = {
  wireguard: ['weft', 'wg-quick'],
  ipsec: ['weft', 'swanctl'],
  openvpn: ['weft', 'ovpn'],
};

@Injectable()
export class PeerConfigService {
  constructor(
    private readonly config: ConfigService,
    private readonly resources: ResourceService,
    @Optional() @Inject(WireGuardDriver) private readonly wireguard?: WireGuardDriver,
    @Optional() @Inject(IpsecDriver) private readonly ipsec?: IpsecDriver,
    @Optional() @Inject(OpenvpnDriver) private readonly openvpn?: OpenvpnDriver,
  ) {}

  async render(name: string, format: PeerConfigFormat): Promise<Link | string> {
    const link = this.resources.get('links', name);
    const fits = FORMATS[link.type] ?? ['weft'];
    if (!fits.includes(format)) {
      throw new ConflictError(`format ${format} does not fit a ${link.type} link: use ${fits.join(' or ')}`);
    }
    if (link.type === 'ipsec') {
      const doc = this.config.active().document;
      const ca = this.ipsec?.caCertificate;
      return format === 'swanctl' ? ipsecSwanctl(doc, link, ca) : ipsecBundle(doc, link, ca);
    }
    if (link.type === 'openvpn' && this.openvpn) {
      const doc = this.config.active().document;
      const caCertificate = this.openvpn.caCertificate;
      const listenPort = this.openvpn.listenPortOf(link.name);
      if (format === 'ovpn') {
        // The device must use this side's tun-mtu, which follows this appliance's underlay.
        const underlayMtu = await this.openvpn.underlayMtuOf(doc);
        return openvpnOvpn({ doc, link, caCertificate, listenPort, underlayMtu });
      }
      return openvpnBundle(doc, link, caCertificate, listenPort);
    }
    if (link.type !== 'wireguard' || !this.wireguard) {
      throw new InvalidArgumentError(`peer-config for ${link.type} links comes with the ${link.type} module`);
    }
    const input = {
      doc: this.config.active().document,
      link,
      publicKey: this.wireguard.ownPublicKey,
      listenPort: this.wireguard.listenPortOf(interfaceOf(link) ?? ''),
    };
    return format === 'wg-quick' ? wgQuick(input) : weftBundle(input);
  }
}
