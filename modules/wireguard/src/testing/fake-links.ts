// An in-memory LinkAdapter: links that exist only in the test, with calls recorded.
import { CommandError } from '../errors.js';
import { LinkTypeUnsupportedError, type LinkAdapter, type WgLink } from '../link.adapter.js';

export class FakeLinks implements LinkAdapter {
  readonly links = new Map<string, WgLink>();
  readonly calls: string[] = [];
  /** false imitates a kernel without WireGuard (addWireGuardLink fails "Unknown device type"). */
  kernelWireGuard = false;
  private nextIndex = 2;

  add(name: string, kind: string | undefined, options: Partial<WgLink> = {}): WgLink {
    const link: WgLink = { name, index: this.nextIndex++, mtu: 1420, up: false, kind, ...options };
    this.links.set(name, link);
    return link;
  }

  getLink(name: string): Promise<WgLink | undefined> {
    const link = this.links.get(name);
    return Promise.resolve(link && { ...link });
  }

  listLinks(): Promise<WgLink[]> {
    return Promise.resolve([...this.links.values()].map((l) => ({ ...l })));
  }

  addWireGuardLink(name: string): Promise<void> {
    this.calls.push(`add ${name} type wireguard`);
    if (!this.kernelWireGuard) {
      return Promise.reject(
        new LinkTypeUnsupportedError('wireguard', {
          cause: new CommandError('ip link add', 2, 'Error: Unknown device type.'),
        }),
      );
    }
    if (this.links.has(name))
      return Promise.reject(new CommandError('ip link add', 2, 'RTNETLINK answers: File exists'));
    this.add(name, 'wireguard', { mtu: 1420 });
    return Promise.resolve();
  }

  setMtu(name: string, mtu: number): Promise<void> {
    this.calls.push(`mtu ${name} ${mtu}`);
    return this.update(name, { mtu });
  }

  setUp(name: string): Promise<void> {
    this.calls.push(`up ${name}`);
    return this.update(name, { up: true });
  }

  deleteLink(name: string): Promise<void> {
    this.calls.push(`del ${name}`);
    this.links.delete(name);
    return Promise.resolve();
  }

  private update(name: string, change: Partial<WgLink>): Promise<void> {
    const link = this.links.get(name);
    if (!link)
      return Promise.reject(
        new CommandError(`ip link set dev ${name}`, 1, `Device "${name}" does not exist.`),
      );
    Object.assign(link, change);
    return Promise.resolve();
  }
}
