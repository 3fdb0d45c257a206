// WireGuard links as a reconciler driver. One device per link by default (route-based: routes, NAT,
// firewall and multicast key on the interface); links naming the same `wireguard.interface` share a
// device (a hub with many spokes on one port). Peers are applied as a diff: changing one link never
// touches another peer nor re-creates the device.
import { isIP } from 'node:net';
import type { Schemas } from '@weft/api-spec';
import { groupsInto } from '../desired-state/multicast.js';
import type { PinoLogger } from 'nestjs-pino';
import { ChangeFeed } from '../reconciler/change-feed.js';
import type { FieldProblem } from '../common/errors.js';
import type { ModuleState } from '../desired-state/desired-state.store.js';
import {
  wireSubnets,
  type Link,
  type NormalizedDocument,
  type WireGuardLink,
} from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';

// --- what the driver needs from modules/wireguard (wired in drivers.ts) ---------------------------
export interface WgDeviceConfig {
  privateKey: string;
  listenPort?: number;
}
export interface WgPeerConfig {
  publicKey: string;
  presharedKey?: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive?: number;
}
export interface WgPeerState {
  publicKey: string;
  endpoint?: string;
  allowedIps: string[];
  persistentKeepalive: number;
  lastHandshake: Date | null;
  rxBytes: bigint | number;
  txBytes: bigint | number;
  hasPresharedKey: boolean;
}
export interface WgDevice {
  name: string;
  publicKey: string;
  listenPort: number;
  peers: WgPeerState[];
}
export interface WireGuardPort {
  readonly kind: 'kernel' | 'userspace';
  readonly reason: string;
  ensureDevice(name: string, device: WgDeviceConfig, mtu: number): Promise<void>;
  syncPeers(name: string, desired: WgPeerConfig[]): Promise<unknown>;
  readDevice(name: string): Promise<WgDevice | undefined>;
  removeDevice(name: string): Promise<void>;
  /** Makes the device forget the source address it pinned per peer (see WireGuardConfigurer). */
  forgetSourceAddresses(name: string): Promise<string[]>;
  /** True when `desired` differs from what `observed` holds (the diff syncPeers would apply). */
  peersDiffer(desired: WgPeerConfig[], observed: WgPeerState[]): boolean;
  generatePrivateKey(): string;
  publicKeyOf(privateKey: string): string;
  close(): Promise<void>;
}
export interface WireGuardEnv {
  /** Resolves a DNS name to an address (the first one). */
  resolve(host: string): Promise<string>;
  /** MTU of the underlay: the named interface, else the one of the default route. */
  underlayMtu(ifname: string | undefined): Promise<number | undefined>;
  /** Yields an address (IPv4/IPv6, global scope) each time one is removed from this host. */
  addressRemovals(signal: AbortSignal): AsyncIterable<string>;
  now(): Date;
}

export const FIRST_LISTEN_PORT = 51820;
/** A handshake older than this means the tunnel is down (WireGuard rekeys every 120 s while in use). */
export const HANDSHAKE_FRESH_SECONDS = 180;
/** Outer IPv4 + UDP + WireGuard = 60 bytes; IPv6 outer header makes it 80. */
const OVERHEAD_V4 = 60;
const OVERHEAD_V6 = 80;
const DEFAULT_MTU = 1420;

interface DesiredDevice {
  name: string;
  listenPort: number;
  mtu: number;
  peers: WgPeerConfig[];
  links: string[];
}

type Payload =
  | { kind: 'device'; name: string; listenPort: number; mtu: number }
  | { kind: 'peers'; name: string; peers: WgPeerConfig[]; endpoints: Record<string, string | undefined> }
  | { kind: 'remove'; name: string };

function isWg(link: Link): link is WireGuardLink {
  return link.type === 'wireguard';
}

export function interfaceOf(link: Link): string | undefined {
  if (!isWg(link)) return undefined;
  return link.wireguard.interface ?? `wg-${link.name}`;
}

function splitHostPort(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(hostPort.slice(i + 1)) };
}

function joinHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

export class WireGuardDriver implements ModuleDriver {
  readonly name = 'wireguard';
  readonly linkTypes: readonly string[] = ['wireguard'];
  private privateKey = '';
  private publicKey = '';
  /** Last good resolution of each DNS endpoint, so a resolver hiccup keeps the peer where it was. */
  private readonly resolved = new Map<string, string>();
  private readonly feed = new ChangeFeed();
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Seconds between re-resolving DNS endpoints: the smallest endpoint_refresh of such links. */
  private refreshSeconds: number | undefined;

  constructor(
    private readonly wg: WireGuardPort,
    private readonly state: ModuleState,
    private readonly env: WireGuardEnv,
    private readonly log: PinoLogger,
  ) {}

  async start(): Promise<void> {
    let key = this.state.get('private-key');
    if (!key) {
      key = this.wg.generatePrivateKey();
      this.state.set('private-key', key);
      this.log.info('generated this appliance’s WireGuard key pair');
    }
    this.privateKey = key;
    this.publicKey = this.wg.publicKeyOf(key);
    this.log.info({ implementation: this.wg.kind, reason: this.wg.reason }, 'WireGuard path selected');
    void this.followAddressChanges();
    await Promise.resolve();
  }

  /**
   * Roaming from this side: when the underlay loses an address (DHCP renewal, a moved VM), each device
   * must stop sending from it, so the next packet leaves from the new address and the remote peer
   * learns it — without that wireguard-go keeps using the vanished source and the link stays dead.
   */
  private async followAddressChanges(): Promise<void> {
    try {
      for await (const address of this.env.addressRemovals(this.feed.signal)) {
        for (const name of this.owned()) {
          try {
            const peers = await this.wg.forgetSourceAddresses(name);
            this.log.info(
              { device: name, address, peers: peers.length },
              'local address removed: peers will send from the current address',
            );
          } catch (err) {
            this.log.warn(
              { device: name, address, err: String(err) },
              'could not refresh peer endpoints after an address change',
            );
          }
        }
      }
    } catch (err) {
      if (!this.feed.signal.aborted)
        this.log.error({ err: String(err) }, 'stopped following address changes');
    }
  }

  async stop(): Promise<void> {
    this.feed.close();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    await this.wg.close();
  }

  /** Something changed that the document does not say: a DNS name to re-resolve, a restarted daemon. */
  notifyChange(what: string): void {
    this.feed.notify(what);
  }

  changes(): AsyncIterable<string> {
    return this.feed.changes();
  }

  /** Keeps one timer that asks for a drift check when DNS endpoints are due for re-resolution. */
  private scheduleRefresh(doc: NormalizedDocument): void {
    const intervals = doc.links
      .filter(isWg)
      .filter((l) => l.enabled !== false && l.remote_endpoint && !isIP(splitHostPort(l.remote_endpoint).host))
      .map((l) => l.wireguard.endpoint_refresh ?? 60);
    const next = intervals.length ? Math.min(...intervals) : undefined;
    if (next === this.refreshSeconds) return;
    this.refreshSeconds = next;
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    if (next !== undefined && !this.feed.signal.aborted) {
      this.refreshTimer = setInterval(() => this.notifyChange('re-resolve endpoint names'), next * 1000);
      this.refreshTimer.unref();
    }
  }

  detail(): string {
    return `${this.wg.kind === 'kernel' ? 'kernel module' : 'wireguard-go'} (${this.wg.kind}): ${this.wg.reason}`;
  }

  /** This appliance's WireGuard public key. */
  get ownPublicKey(): string {
    return this.publicKey;
  }

  listenPortOf(ifname: string): number | undefined {
    const p = this.state.get(`port:${ifname}`);
    return p === undefined ? undefined : Number(p);
  }

  verify(doc: NormalizedDocument): FieldProblem[] {
    const problems: FieldProblem[] = [];
    const byIf = new Map<string, { index: number; link: WireGuardLink }[]>();
    doc.links.forEach((link, index) => {
      if (!isWg(link)) return;
      const base = `/links/${index}/wireguard`;
      const ifname = interfaceOf(link) ?? '';
      if (ifname.length > 15) {
        problems.push({
          pointer: `${base}/interface`,
          message: `the default interface name "${ifname}" is longer than 15 characters: set "interface" (e.g. "wg-${link.name.slice(0, 12)}")`,
        });
      }
      if (this.publicKey && link.wireguard.peer_public_key === this.publicKey) {
        problems.push({
          pointer: `${base}/peer_public_key`,
          message: "this is this appliance's own public key: put the remote site's public key here",
        });
      }
      const list = byIf.get(ifname) ?? [];
      list.push({ index, link });
      byIf.set(ifname, list);
    });
    for (const [ifname, links] of byIf) {
      const ports = new Set(links.map((l) => l.link.wireguard.listen_port).filter((p) => p !== undefined));
      if (ports.size > 1) {
        const last = links[links.length - 1];
        problems.push({
          pointer: `/links/${last?.index}/wireguard/listen_port`,
          message: `links on interface ${ifname} ask for different listen ports (${[...ports].join(', ')}): one device has one port`,
        });
      }
      const seen = new Map<string, number>();
      for (const { index, link } of links) {
        const first = seen.get(link.wireguard.peer_public_key);
        if (first !== undefined) {
          problems.push({
            pointer: `/links/${index}/wireguard/peer_public_key`,
            related: `/links/${first}/wireguard/peer_public_key`,
            message: `two links on interface ${ifname} have the same peer key: one device holds one peer per key`,
          });
        } else seen.set(link.wireguard.peer_public_key, index);
      }
    }
    return problems;
  }

  private async endpointOf(link: WireGuardLink): Promise<string | undefined> {
    if (!link.remote_endpoint) return undefined;
    const { host, port } = splitHostPort(link.remote_endpoint);
    if (isIP(host)) return joinHostPort(host, port);
    try {
      const addr = await this.env.resolve(host);
      this.resolved.set(host, addr);
      return joinHostPort(addr, port);
    } catch (err) {
      const last = this.resolved.get(host);
      this.log.warn(
        { link: link.name, host, err: String(err), keeping: last },
        'endpoint name did not resolve',
      );
      return last === undefined ? undefined : joinHostPort(last, port);
    }
  }

  /** The UDP port of each device `doc` wants, as plan() picks them (kept, else the first free). */
  private portsOf(doc: NormalizedDocument): Map<string, number> {
    const out = new Map<string, number>();
    const taken = new Set<number>();
    for (const link of doc.links)
      if (isWg(link) && link.wireguard.listen_port) taken.add(link.wireguard.listen_port);
    for (const [key, value] of this.state.entries()) if (key.startsWith('port:')) taken.add(Number(value));
    for (const link of doc.links) {
      if (!isWg(link) || link.enabled === false) continue;
      const name = interfaceOf(link) ?? '';
      if (!out.has(name)) {
        let port = link.wireguard.listen_port ?? this.listenPortOf(name);
        if (port === undefined) {
          port = FIRST_LISTEN_PORT;
          while (taken.has(port)) port++;
          taken.add(port);
        }
        out.set(name, port);
      } else if (link.wireguard.listen_port) {
        out.set(name, link.wireguard.listen_port);
      }
    }
    return out;
  }

  /** The UDP ports the devices of `doc` listen on, for the underlay's input filter. */
  listenPorts(doc: NormalizedDocument): number[] {
    return [...new Set(this.portsOf(doc).values())];
  }

  private async desired(doc: NormalizedDocument): Promise<Map<string, DesiredDevice>> {
    const out = new Map<string, DesiredDevice>();
    const underlay = await this.env.underlayMtu(doc.appliance.underlay_interface);
    const ports = this.portsOf(doc);
    for (const link of doc.links) {
      if (!isWg(link) || link.enabled === false) continue;
      const name = interfaceOf(link) ?? '';
      let dev = out.get(name);
      if (!dev) {
        const port = ports.get(name) ?? FIRST_LISTEN_PORT;
        dev = { name, listenPort: port, mtu: Number.MAX_SAFE_INTEGER, peers: [], links: [] };
        out.set(name, dev);
      }
      const endpoint = await this.endpointOf(link);
      const v6 = endpoint?.startsWith('[') ?? false;
      const mtu = link.mtu ?? (underlay ? underlay - (v6 ? OVERHEAD_V6 : OVERHEAD_V4) : DEFAULT_MTU);
      dev.mtu = Math.min(dev.mtu, mtu);
      dev.links.push(link.name);
      dev.peers.push({
        publicKey: link.wireguard.peer_public_key,
        ...(link.wireguard.preshared_key ? { presharedKey: link.wireguard.preshared_key } : {}),
        ...(endpoint ? { endpoint } : {}),
        // What the tunnel carries: the mapped prefix of a netmapped link (NAT translates before/after).
        // and the multicast groups sent into this link (wireguard-go sends a packet only to the peer
        // whose allowed-ips hold its destination).
        allowedIps: [...wireSubnets(doc, link).remote, ...groupsInto(doc, link)],
        persistentKeepalive: link.wireguard.persistent_keepalive ?? 25,
      });
    }
    return out;
  }

  /** The configured endpoint each peer of `ifname` was last given, by public key. */
  private appliedEndpoints(ifname: string): Record<string, string> {
    const raw = this.state.get(`ep:${ifname}`);
    if (!raw) return {};
    try {
      return JSON.parse(raw) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Devices this appliance made (remembered, so a removed link's device is found and removed). */
  private owned(): string[] {
    return this.state
      .entries()
      .filter(([k]) => k.startsWith('dev:'))
      .map(([k]) => k.slice(4));
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    this.scheduleRefresh(doc);
    const desired = await this.desired(doc);
    const steps: DriverStep[] = [];
    const step = (
      op: 'create' | 'update' | 'delete',
      target: string,
      summary: string,
      payload: Payload,
    ): void => {
      steps.push({ action: { module: this.name, op, target, summary }, payload });
    };
    for (const dev of desired.values()) {
      const observed = await this.wg.readDevice(dev.name);
      const ownedBefore = this.state.get(`mtu:${dev.name}`);
      if (
        !observed ||
        observed.listenPort !== dev.listenPort ||
        observed.publicKey !== this.publicKey ||
        ownedBefore !== String(dev.mtu)
      ) {
        step(
          observed ? 'update' : 'create',
          `device ${dev.name}`,
          `${observed ? 'update' : 'create'} WireGuard device ${dev.name} port ${dev.listenPort} mtu ${dev.mtu}`,
          { kind: 'device', name: dev.name, listenPort: dev.listenPort, mtu: dev.mtu },
        );
      }
      // An endpoint the peer roamed away from is not drift: only a changed configured endpoint is applied.
      const endpoints: Record<string, string | undefined> = {};
      const appliedEndpoints = this.appliedEndpoints(dev.name);
      const effective = dev.peers.map((p) => {
        endpoints[p.publicKey] = p.endpoint;
        const seen = observed?.peers.find((o) => o.publicKey === p.publicKey);
        const applied = appliedEndpoints[p.publicKey];
        if (seen?.endpoint && p.endpoint && applied === p.endpoint && seen.endpoint !== p.endpoint) {
          return { ...p, endpoint: seen.endpoint };
        }
        return p;
      });
      if (!observed || this.wg.peersDiffer(effective, observed.peers)) {
        step(
          'update',
          `peers of ${dev.name}`,
          `sync ${effective.length} peer(s) of ${dev.name} (${dev.links.join(', ')})`,
          {
            kind: 'peers',
            name: dev.name,
            peers: effective,
            endpoints,
          },
        );
      }
    }
    for (const name of this.owned()) {
      if (!desired.has(name))
        step('delete', `device ${name}`, `remove WireGuard device ${name}`, { kind: 'remove', name });
    }
    return steps;
  }

  async apply(steps: DriverStep[]): Promise<void> {
    for (const s of steps) {
      const p = s.payload as Payload;
      try {
        switch (p.kind) {
          case 'device':
            await this.wg.ensureDevice(
              p.name,
              { privateKey: this.privateKey, listenPort: p.listenPort },
              p.mtu,
            );
            this.state.set(`dev:${p.name}`, '1');
            this.state.set(`port:${p.name}`, String(p.listenPort));
            this.state.set(`mtu:${p.name}`, String(p.mtu));
            break;
          case 'peers':
            await this.wg.syncPeers(p.name, p.peers);
            // One row per device: a thousand peers must not cost a thousand synchronous writes.
            this.state.set(
              `ep:${p.name}`,
              JSON.stringify(Object.fromEntries(Object.entries(p.endpoints).filter(([, ep]) => ep))),
            );
            break;
          case 'remove':
            await this.wg.removeDevice(p.name);
            for (const key of this.state.entries().map(([k]) => k)) {
              if ([`dev:${p.name}`, `port:${p.name}`, `mtu:${p.name}`, `ep:${p.name}`].includes(key)) {
                this.state.delete(key);
              }
            }
            break;
        }
      } catch (err) {
        throw new StepFailedError(s.action, err);
      }
    }
  }

  async linkStatus(doc: NormalizedDocument): Promise<LinkStatus[]> {
    const devices = new Map<string, WgDevice | undefined>();
    const out: LinkStatus[] = [];
    const now = this.env.now().getTime();
    for (const link of doc.links) {
      if (!isWg(link)) continue;
      const ifname = interfaceOf(link) ?? '';
      const base = { name: link.name, type: 'wireguard' as const, interface: ifname };
      if (link.enabled === false) {
        out.push({ ...base, state: 'disabled', rx_bytes: 0, tx_bytes: 0, diagnosis: null });
        continue;
      }
      if (!devices.has(ifname)) devices.set(ifname, await this.wg.readDevice(ifname).catch(() => undefined));
      const dev = devices.get(ifname);
      const peer = dev?.peers.find((p) => p.publicKey === link.wireguard.peer_public_key);
      if (!dev || !peer) {
        out.push({
          ...base,
          state: 'down',
          rx_bytes: 0,
          tx_bytes: 0,
          diagnosis: {
            code: 'not-configured',
            message: `device ${ifname} or its peer is missing`,
            fix: 'see the reconciler status and the log',
          },
        });
        continue;
      }
      const hs = peer.lastHandshake;
      const age = hs ? (now - hs.getTime()) / 1000 : undefined;
      const rx = Number(peer.rxBytes);
      const tx = Number(peer.txBytes);
      let state: Schemas['LinkState'];
      let diagnosis: Schemas['Diagnosis'] | null = null;
      if (age === undefined) {
        state = 'connecting';
        diagnosis = {
          code: 'no-handshake',
          message: link.remote_endpoint
            ? `no handshake with ${link.remote_endpoint} yet`
            : 'no handshake yet: waiting for the remote side to connect (no remote_endpoint here)',
          fix: `check that the remote side has this appliance's public key ${this.publicKey}, that UDP port ${dev.listenPort} is reachable, and the keys match`,
        };
      } else if (age > HANDSHAKE_FRESH_SECONDS) {
        state = 'down';
        diagnosis = {
          code: 'handshake-stale',
          message: `last handshake ${Math.round(age)} s ago`,
          fix: 'the remote side stopped answering: check that it is up and that UDP reaches it',
        };
      } else {
        state = rx > 0 ? 'up' : 'connecting';
      }
      out.push({
        ...base,
        state,
        last_handshake_at: hs ? hs.toISOString() : null,
        rx_bytes: rx,
        tx_bytes: tx,
        endpoint: peer.endpoint ?? null,
        diagnosis,
      });
    }
    return out;
  }

  cleanup(): Promise<void> {
    return Promise.all(this.owned().map((n) => this.wg.removeDevice(n))).then(() => undefined);
  }
}
