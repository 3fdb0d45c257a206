// Links as the WireGuard configurers need them: create a kernel `wireguard` link, set MTU and up,
// delete, and list. @weft/core's NetlinkAdapter has no MTU, link creation or deletion, so this adapter
// drives ip(8) through the ProcessRunner (argv arrays, no shell) and reads its JSON output.
import { CommandError } from './errors.js';
import type { ProcessRunner } from '@weft/core';

export interface WgLink {
  name: string;
  index: number;
  mtu: number;
  up: boolean;
  /** IFLA_INFO_KIND: `wireguard` (kernel), `tun` (wireguard-go)… */
  kind: string | undefined;
}

export interface LinkAdapter {
  getLink(name: string): Promise<WgLink | undefined>;
  listLinks(): Promise<WgLink[]>;
  /** `ip link add <name> type wireguard`; fails with LinkTypeUnsupportedError without kernel support. */
  addWireGuardLink(name: string): Promise<void>;
  setMtu(name: string, mtu: number): Promise<void>;
  setUp(name: string): Promise<void>;
  /** No error when the link is already gone. */
  deleteLink(name: string): Promise<void>;
}

/** The kernel cannot create a link of this type (no module, or none built in). */
export class LinkTypeUnsupportedError extends Error {
  constructor(
    readonly linkType: string,
    options?: ErrorOptions,
  ) {
    super(`the kernel cannot create "${linkType}" links`, options);
    this.name = 'LinkTypeUnsupportedError';
  }
}

interface IpLinkJson {
  ifindex: number;
  ifname: string;
  mtu: number;
  flags?: string[];
  linkinfo?: { info_kind?: string };
}

export class IpLinkAdapter implements LinkAdapter {
  constructor(
    private readonly runner: ProcessRunner,
    private readonly ipCommand = 'ip',
  ) {}

  async getLink(name: string): Promise<WgLink | undefined> {
    try {
      const [link] = await this.show(['dev', name]);
      return link;
    } catch (err) {
      if (err instanceof CommandError && /does not exist|Cannot find device/i.test(err.stderr))
        return undefined;
      throw err;
    }
  }

  listLinks(): Promise<WgLink[]> {
    return this.show([]);
  }

  async addWireGuardLink(name: string): Promise<void> {
    try {
      await this.ip('link', 'add', 'dev', name, 'type', 'wireguard');
    } catch (err) {
      if (err instanceof CommandError && /Unknown device type|not supported|EOPNOTSUPP/i.test(err.stderr)) {
        throw new LinkTypeUnsupportedError('wireguard', { cause: err });
      }
      throw err;
    }
  }

  async setMtu(name: string, mtu: number): Promise<void> {
    await this.ip('link', 'set', 'dev', name, 'mtu', String(mtu));
  }

  async setUp(name: string): Promise<void> {
    await this.ip('link', 'set', 'dev', name, 'up');
  }

  async deleteLink(name: string): Promise<void> {
    try {
      await this.ip('link', 'del', 'dev', name);
    } catch (err) {
      if (err instanceof CommandError && /does not exist|Cannot find device/i.test(err.stderr)) return;
      throw err;
    }
  }

  private async show(selector: string[]): Promise<WgLink[]> {
    const out = (await this.ip('-details', '-json', 'link', 'show', ...selector)).trim();
    const links = (out === '' ? [] : JSON.parse(out)) as IpLinkJson[];
    return links.map((l) => ({
      name: l.ifname,
      index: l.ifindex,
      mtu: l.mtu,
      up: l.flags?.includes('UP') ?? false,
      kind: l.linkinfo?.info_kind,
    }));
  }

  private async ip(...args: string[]): Promise<string> {
    return (await this.runner.run(this.ipCommand, args)).stdout;
  }
}
