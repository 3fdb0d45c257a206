import { Inject, Injectable, Optional } from '@nestjs/common';
import { ConflictError } from '../common/errors.js';
import { ResourceService } from '../desired-state/resource.service.js';
import { OpenvpnDriver } from '../drivers/openvpn.driver.js';
import type { LinkStatus } from '../reconciler/module-driver.js';
import { StatusService } from '../status/status.service.js';

/** `POST /links/{name}/check`: the checks a tunnel daemon only runs on request, then the link's status. */
@Injectable()
export class LinkCheckService {
  constructor(
    private readonly resources: ResourceService,
    private readonly status: StatusService,
    @Optional() @Inject(OpenvpnDriver) private readonly openvpn?: OpenvpnDriver,
  ) {}

  async check(name: string): Promise<LinkStatus> {
    const link = this.resources.get('links', name);
    if (link.type !== 'openvpn' || !this.openvpn) {
      throw new ConflictError(
        `${link.type} links have no on-request check: their status is read from the daemon continuously`,
      );
    }
    await this.openvpn.checkOptions(link);
    return this.status.link(name);
  }
}
