import { Inject, Injectable, Optional } from '@nestjs/common';
import { InvalidArgumentError } from '../common/errors.js';
import { ConfigService } from '../desired-state/config.service.js';
import type { Link } from '../desired-state/document.js';
import { ResourceService } from '../desired-state/resource.service.js';
import { interfaceOf, WireGuardDriver } from '../drivers/wireguard.driver.js';
import { weftBundle, wgQuick } from '../drivers/wireguard.peer-config.js';

@Injectable()
export class PeerConfigService {
  constructor(
    private readonly config: ConfigService,
    private readonly resources: ResourceService,
    @Optional() @Inject(WireGuardDriver) private readonly wireguard?: WireGuardDriver,
  ) {}

  render(name: string, format: 'weft' | 'wg-quick'): Link | string {
    const link = this.resources.get('links', name);
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
