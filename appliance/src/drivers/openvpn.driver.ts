// OpenVPN links as a reconciler driver: one supervised openvpn process per p2p link, each with its own
// tun device (routes, NAT and multicast key on it) and management socket. A link whose rendered tunnel
// changed gets its process restarted; no other link is touched. Status comes from the management
// interface (state, bytes, the peer's real address); causes of failure from the process's own log lines,
// read by the doctor; packets that fail tls-crypt are counted per source and reported once per minute.
import { createHash } from 'node:crypto';
import type { PinoLogger } from 'nestjs-pino';
import { ChangeFeed } from '../reconciler/change-feed.js';
import { ConflictError, type FieldProblem } from '../common/errors.js';
import type { ModuleState } from '../desired-state/desired-state.store.js';
import type { NormalizedDocument } from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';
import {
  deviceOf,
  fillOpenvpnDefaults,
  HUB_INSTANCE,
  instanceOf,
  isHubLink,
  FIRST_OPENVPN_PORT,
  isOpenvpn,
  roleOf,
  topologyOf,
  tunnelOf,
  verifyOpenvpnLinks,
  type OpenvpnLink,
  type OpenvpnTunnel,
} from './openvpn.link-spec.js';
import { hubOf, type OpenvpnHub } from './openvpn.hub.js';

// --- what the driver needs from modules/openvpn (wired in drivers.ts) ------------------------------
/** This appliance's X.509 identity (the same CA and certificate as its IPsec links). */
export interface OpenvpnCredentials {
  readonly caCertificate: string | undefined;
  ensureCertificate(
    identity: string,
    applianceName: string,
  ): Promise<{ caCert: string; cert: string; key: string }>;
}

/** A tunnel (a p2p link, a spoke, or the hub's server) with what this side proves itself with. */
export type OpenvpnInstance = (OpenvpnTunnel | OpenvpnHub) & {
  caCert: string;
  cert: string;
  /** This appliance's private key (PEM): into a 0600 file only. */
  key: string;
};

/** A spoke connected to the hub, from the server's `status 3`. */
export interface OpenvpnHubClient {
  commonName: string;
  realAddress: string;
  virtualAddress: string;
  since?: Date;
  rxBytes: number;
  txBytes: number;
}

export interface OpenvpnObserved {
  /** The process runs (or is being restarted by its supervisor). */
  running: boolean;
  /** openvpn's own state (`>STATE:`): CONNECTING, WAIT, AUTH, GET_CONFIG, ASSIGN_IP, CONNECTED, RECONNECTING… */
  state: string;
  /** When `state` was entered. */
  since?: Date;
  /** The peer's real address (`ip:port`) once it is connected. */
  remote?: string;
  rxBytes: number;
  txBytes: number;
  /** The hub's server only: the spokes connected now. */
  clients?: OpenvpnHubClient[];
}

/** What the port reports of a link's process: a cause the doctor named, or the tunnel coming up. */
export type OpenvpnPortEvent =
  | { link: string; kind: 'finding'; diagnosis: OpenvpnDiagnosis & { peer?: string } }
  | { link: string; kind: 'connected' };

/** One aggregated report of packets that failed the tls-crypt check, per source and window. */
export interface OpenvpnAuthFailures {
  link: string;
  source: string;
  count: number;
  ports: number;
  windowSeconds: number;
}

export interface OpenvpnDiagnosis {
  code: string;
  message: string;
  fix: string;
}

export interface OpenvpnPort {
  readonly dco: boolean;
  readonly reason: string;
  /** Starts the link's process, or restarts it when `hash` differs from the one it runs. */
  ensure(instance: OpenvpnInstance, hash: string): Promise<void>;
  /** Ends the link's process by PID and removes its files. */
  remove(name: string): Promise<void>;
  /** Names of the links whose processes this appliance supervises. */
  running(): string[];
  observe(name: string): Promise<OpenvpnObserved | undefined>;
  /** Causes and state changes of every process (its log read by the doctor), until `signal` aborts. */
  events(signal: AbortSignal): AsyncIterable<OpenvpnPortEvent>;
  /**
   * Flood windows (per link and source) that closed since the last call, and those of processes that
   * went; with `drain`, the open ones too (the appliance stopping).
   */
  authFailures(options?: { drain?: boolean }): OpenvpnAuthFailures[];
  /** Ends every process (appliance stopping). */
  close(): Promise<void>;
  /**
   * The options-consistency check (openvpn.occ-check.ts) on the link's connected tunnel: its findings
   * come as events. Resolves with why it could not run, else undefined.
   */
  checkOptions?(name: string): Promise<string | undefined>;
}

export interface OpenvpnEnv {
  underlayMtu(ifname: string | undefined): Promise<number | undefined>;
  now(): Date;
  /** Publishes an event on /events (the flood reports). */
  publish(type: 'link.auth-failures', data: Record<string, unknown>): void;
}

type Payload =
  | {
      kind: 'ensure';
      name: string;
      tunnel: OpenvpnTunnel | OpenvpnHub;
      identity: string;
      applianceName: string;
      hash: string;
    }
  | { kind: 'remove'; name: string };

/**
 * The doctor's fixes speak openvpn's options; the API's users change link fields. For the causes two
 * Weft ends can run into, the fix names the field; openvpn's own fix follows for a third-party end.
 */
const API_FIXES: Readonly<Record<string, string>> = {
  'tls-key-mismatch':
    "both ends must hold the same tls_crypt_key: import this link's peer-config on the other side again, or set the same tls_crypt_key on both",
  'cipher-mismatch':
    'give both ends at least one cipher in common in data_ciphers (the default is AES-256-GCM, CHACHA20-POLY1305 on both)',
  'peer-unreachable':
    "check remote_endpoint (the other side's public_endpoint and listen_port), that UDP reaches it, and that the other side has this link; a peer holding another tls_crypt_key drops our packets silently too, so compare tls_crypt_key",
  'port-unreachable':
    "nothing listens at remote_endpoint: set its port to the other side's listen_port, and check that the other side's link exists and is enabled",
  'handshake-incomplete':
    "the other side refused this end's certificate: its remote_ca must be this appliance's ca_certificate (GET /appliance); importing this link's peer-config there sets it",
  'certificate-verify-failed':
    "the other side's certificate is not from remote_ca: set remote_ca to the other appliance's ca_certificate (GET /appliance there), and remote_name to its public_endpoint",
  'certificate-not-bound':
    "a certificate with this spoke's name came from another CA than the hub link's remote_ca: if the spoke's CA changed, set remote_ca to its new ca_certificate; if not, another spoke's CA is impersonating it and was refused",
  'mtu-mismatch':
    'leave mtu out on both links (each derives it from its underlay), or set the same mtu on both',
  'compression-mismatch':
    'Weft never compresses: remove compress/comp-lzo from the other end (compression leaks data through VORACLE)',
  'dev-type-mismatch': "Weft links are layer 3 (dev tun): set the other end to 'dev tun'",
  'tun-write-rejected':
    "Weft links are dev tun without compression: set the other end to 'dev tun' and remove compress/comp-lzo",
};

/**
 * When `next` differs from the hub `before` in its spokes only (what the port applies without
 * restarting the server): which spokes come, go or change, for the plan's summary. Undefined otherwise.
 */
function spokesOnlyChange(before: OpenvpnHub | undefined, next: OpenvpnHub): string | undefined {
  if (!before) return undefined;
  const rest = (h: OpenvpnHub): string => JSON.stringify({ ...h, spokes: [] });
  if (rest(before) !== rest(next)) return undefined;
  const old = new Map(before.spokes.map((s) => [s.commonName, JSON.stringify(s)]));
  const now = new Map(next.spokes.map((s) => [s.commonName, JSON.stringify(s)]));
  const added = [...now.keys()].filter((k) => !old.has(k));
  const removed = [...old.keys()].filter((k) => !now.has(k));
  const changed = [...now.keys()].filter((k) => old.has(k) && old.get(k) !== now.get(k));
  if (added.length + removed.length + changed.length === 0) return undefined;
  return [
    added.length > 0 ? `added ${added.join(', ')}` : '',
    removed.length > 0 ? `removed ${removed.join(', ')}` : '',
    changed.length > 0 ? `changed ${changed.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

function apiDiagnosis(d: { code: string; message: string; fix: string }): OpenvpnDiagnosis {
  const api = API_FIXES[d.code];
  return { code: d.code, message: d.message, fix: api ? `${api}. On a third-party end: ${d.fix}` : d.fix };
}

/** Causes of the data path: openvpn is connected, yet what crosses is refused or does not fit. */
const DATA_PATH_CAUSES = new Set([
  'dev-type-mismatch',
  'compression-mismatch',
  'tun-write-rejected',
  'mtu-mismatch',
]);

/** How long a diagnosis stays on a link without a new failure once it is up again. */
const DIAGNOSIS_TTL_MS = 10 * 60_000;
/** How often the flood aggregator's closed windows are collected. */
const AUTH_FAILURE_FLUSH_MS = 5_000;

export class OpenvpnDriver implements ModuleDriver {
  readonly name = 'openvpn';
  readonly linkTypes: readonly string[] = ['openvpn'];
  private readonly feed = new ChangeFeed();
  private readonly causes = new Map<string, { diagnosis: OpenvpnDiagnosis; at: number }>();
  private following = false;
  /** Hub links by their spoke's certificate name, to place the hub's findings. */
  private spokes = new Map<string, string>();
  /** The hub as last applied: a change of its spokes only is applied live by the port (no restart). */
  private appliedHub: OpenvpnHub | undefined;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ovpn: OpenvpnPort,
    private readonly state: ModuleState,
    private readonly credentials: OpenvpnCredentials,
    private readonly env: OpenvpnEnv,
    private readonly log: PinoLogger,
  ) {}

  start(): Promise<void> {
    this.log.info({ dco: this.ovpn.dco, reason: this.ovpn.reason }, 'OpenVPN data channel selected');
    this.flushTimer = setInterval(() => this.flushAuthFailures(), AUTH_FAILURE_FLUSH_MS);
    this.flushTimer.unref();
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.feed.close();
    if (this.flushTimer) clearInterval(this.flushTimer);
    // Windows still open are reported now, with the count so far, rather than lost with the processes.
    this.flushAuthFailures({ drain: true });
    await this.ovpn.close();
  }

  detail(): string {
    return `openvpn 2.6, ${this.ovpn.dco ? 'DCO' : 'userspace data channel'}: ${this.ovpn.reason}`;
  }

  notifyChange(what: string): void {
    this.feed.notify(what);
  }

  changes(): AsyncIterable<string> {
    return this.feed.changes();
  }

  /** This appliance's CA certificate (PEM, public), for the remote side's remote_ca. */
  get caCertificate(): string | undefined {
    return this.credentials.caCertificate;
  }

  /** The tun device a link's traffic is routed into, for the core. */
  interfaceOf(link: { name: string }): string {
    return deviceOf(link);
  }

  /** The UDP port a server link listens on (chosen when applied), for peer-config. */
  listenPortOf(name: string): number | undefined {
    const p = this.state.get(`port:${name}`);
    return p === undefined ? undefined : Number(p);
  }

  /** The UDP ports this appliance's openvpns bind for `doc` (as plan() picks them), for the underlay's input filter. */
  listenPorts(doc: NormalizedDocument): number[] {
    const links = this.links(doc);
    const set = links.flatMap((l) =>
      topologyOf(l) !== 'spoke' && l.openvpn.listen_port !== undefined ? [l.openvpn.listen_port] : [],
    );
    return [...new Set([...set, ...this.ports(links).values()])];
  }

  /** The underlay MTU this side derives its tun-mtu from, for the third-party `.ovpn`. */
  underlayMtuOf(doc: NormalizedDocument): Promise<number | undefined> {
    return this.env.underlayMtu(doc.appliance.underlay_interface);
  }

  /** `POST /links/{name}/check`: the OCC check on a p2p link or spoke whose tunnel is up. */
  async checkOptions(link: OpenvpnLink): Promise<void> {
    if (isHubLink(link)) {
      throw new ConflictError(
        'a hub pushes tun-mtu and dev-type to its spokes, so they cannot differ: run the check on a p2p link or on the spoke',
      );
    }
    const why = this.ovpn.checkOptions
      ? await this.ovpn.checkOptions(instanceOf(link))
      : 'this OpenVPN port cannot check options';
    if (why) throw new ConflictError(`link ${link.name}: ${why}`);
  }

  complete(next: NormalizedDocument, previous: NormalizedDocument | undefined): void {
    fillOpenvpnDefaults(next, previous);
  }

  verify(doc: NormalizedDocument): FieldProblem[] {
    const problems = verifyOpenvpnLinks(doc);
    if (!this.credentials.caCertificate) {
      doc.links.forEach((link, i) => {
        if (!isOpenvpn(link)) return;
        problems.push({
          pointer: `/links/${i}/type`,
          message:
            "this appliance has no certificate authority (see its log: making it failed): install strongSwan's pki tool (package strongswan-pki) and restart the appliance",
        });
      });
    }
    return problems;
  }

  private links(doc: NormalizedDocument): OpenvpnLink[] {
    return doc.links.filter(isOpenvpn).filter((l) => l.enabled !== false);
  }

  /**
   * Ports for p2p ends and the hub without listen_port: kept per link; new ones the first free from 1194.
   * A p2p client binds one too, so that after a restart it comes back from the same address: openvpn
   * 2.6's p2p server answers a new session from a new source port at the old one (OpenVPN/openvpn#1058)
   * and, kept alive by the client's retries, never gives up on it (3 of 12 restarts here, 0 with a bound
   * port). A spoke needs none: the hub runs in server mode, which takes a client back from any port.
   */
  private ports(links: OpenvpnLink[]): Map<string, number> {
    const taken = new Set<number>();
    for (const l of links) if (l.openvpn.listen_port !== undefined) taken.add(l.openvpn.listen_port);
    // By instance: each p2p end, and the hub once (unless a hub link has one).
    const hubHasPort = links.some((l) => isHubLink(l) && l.openvpn.listen_port !== undefined);
    const needs = [
      ...new Set(
        links
          .filter((l) => topologyOf(l) !== 'spoke' && l.openvpn.listen_port === undefined)
          .filter((l) => !(isHubLink(l) && hubHasPort))
          .map((l) => instanceOf(l)),
      ),
    ];
    const out = new Map<string, number>();
    for (const name of needs) {
      const kept = this.listenPortOf(name);
      if (kept !== undefined && !taken.has(kept)) {
        out.set(name, kept);
        taken.add(kept);
      }
    }
    for (const name of needs) {
      if (out.has(name)) continue;
      let port = FIRST_OPENVPN_PORT;
      while (taken.has(port)) port++;
      taken.add(port);
      out.set(name, port);
    }
    return out;
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    const links = this.links(doc);
    this.spokes = new Map(
      links
        .filter(isHubLink)
        .flatMap((l) => (l.openvpn.remote_name ? [[l.openvpn.remote_name, l.name] as const] : [])),
    );
    const steps: DriverStep[] = [];
    const step = (
      op: 'create' | 'update' | 'delete',
      target: string,
      summary: string,
      payload: Payload,
    ): void => {
      steps.push({ action: { module: this.name, op, target, summary }, payload });
    };
    const underlayMtu =
      links.length > 0 ? await this.env.underlayMtu(doc.appliance.underlay_interface) : undefined;
    const ports = this.ports(links);
    const running = new Set(this.ovpn.running());
    const identity = doc.appliance.public_endpoint ?? '';
    const instances: (OpenvpnTunnel | OpenvpnHub)[] = links
      .filter((l) => !isHubLink(l))
      .map((link) => {
        const port = ports.get(link.name);
        return tunnelOf(link, {
          doc,
          ...(port !== undefined ? { listenPort: port } : {}),
          ...(underlayMtu !== undefined ? { underlayMtu } : {}),
        });
      });
    const hubPort = ports.get(HUB_INSTANCE);
    const hub = hubOf(links, {
      doc,
      ...(hubPort !== undefined ? { listenPort: hubPort } : {}),
      ...(underlayMtu !== undefined ? { underlayMtu } : {}),
    });
    if (hub) instances.push(hub);
    for (const tunnel of instances) {
      const name = tunnel.name;
      // The hash covers the tls-crypt key (never stored itself) and the identity our certificate names.
      const hash = createHash('sha256')
        .update(JSON.stringify([tunnel, identity, this.credentials.caCertificate ?? null]))
        .digest('hex');
      const applied = this.state.get(`conn:${name}`);
      if (running.has(name) && applied === hash) continue;
      const what =
        tunnel.kind === 'hub'
          ? `the hub (UDP ${tunnel.listenPort}, ${tunnel.device}, spokes ${tunnel.spokes.map((x) => x.link).join(', ')})`
          : `link ${name} (${tunnel.kind === 'spoke' ? 'spoke' : tunnel.role}, ${tunnel.role === 'server' ? `listens on UDP ${tunnel.listenPort ?? '?'}` : `dials ${tunnel.remote ? `${tunnel.remote.host}:${tunnel.remote.port}` : '?'}${tunnel.listenPort !== undefined ? ` from UDP ${tunnel.listenPort}` : ''}`}, ${tunnel.device} mtu ${tunnel.mtu})`;
      const spokesOnly =
        tunnel.kind === 'hub' && running.has(name) ? spokesOnlyChange(this.appliedHub, tunnel) : undefined;
      step(
        applied === undefined ? 'create' : 'update',
        `openvpn ${name}`,
        spokesOnly
          ? `apply the hub's spokes live, without a restart (${spokesOnly}); ${what}`
          : `${applied === undefined || !running.has(name) ? 'start' : 'restart'} openvpn for ${what}`,
        { kind: 'ensure', name, tunnel, identity, applianceName: doc.appliance.name, hash },
      );
    }
    const desired = new Set(links.map((l) => instanceOf(l)));
    const owned = new Set([
      ...running,
      ...this.state
        .entries()
        .filter(([k]) => k.startsWith('conn:'))
        .map(([k]) => k.slice(5)),
    ]);
    for (const name of owned) {
      if (!desired.has(name))
        step('delete', `openvpn ${name}`, `stop openvpn for link ${name}`, { kind: 'remove', name });
    }
    // Stops first: a new link may be given the port of one that goes in the same commit.
    return [
      ...steps.filter((s) => s.action.op === 'delete'),
      ...steps.filter((s) => s.action.op !== 'delete'),
    ];
  }

  async apply(steps: DriverStep[]): Promise<void> {
    for (const s of steps) {
      const p = s.payload as Payload;
      try {
        switch (p.kind) {
          case 'ensure': {
            const own = await this.credentials.ensureCertificate(p.identity, p.applianceName);
            await this.ovpn.ensure({ ...p.tunnel, caCert: own.caCert, cert: own.cert, key: own.key }, p.hash);
            this.causes.delete(p.name);
            if (p.tunnel.kind === 'hub') this.appliedHub = p.tunnel;
            this.state.update({
              [`conn:${p.name}`]: p.hash,
              ...(p.tunnel.listenPort !== undefined
                ? { [`port:${p.name}`]: String(p.tunnel.listenPort) }
                : {}),
            });
            this.follow();
            break;
          }
          case 'remove':
            await this.ovpn.remove(p.name);
            this.causes.delete(p.name);
            this.state.update({}, [`conn:${p.name}`, `port:${p.name}`]);
            break;
        }
      } catch (err) {
        throw new StepFailedError(s.action, err);
      }
    }
  }

  private follow(): void {
    if (this.following) return;
    this.following = true;
    void this.followLogs();
  }

  /** Follows what the doctor names in each process's log, and the tunnels coming up. */
  private async followLogs(): Promise<void> {
    try {
      for await (const event of this.ovpn.events(this.feed.signal)) {
        if (event.kind === 'connected') {
          this.causes.delete(event.link);
          this.notifyChange(`OpenVPN ${event.link} connected`);
          continue;
        }
        const diagnosis = apiDiagnosis(event.diagnosis);
        // The hub's server speaks of many spokes: a finding naming a spoke's certificate goes to its link.
        const peer = event.diagnosis.peer;
        const link =
          event.link === HUB_INSTANCE ? ((peer && this.spokes.get(peer)) ?? HUB_INSTANCE) : event.link;
        const previous = this.causes.get(link);
        this.causes.set(link, { diagnosis, at: this.env.now().getTime() });
        if (previous?.diagnosis.code !== diagnosis.code) {
          this.log.warn({ link, cause: diagnosis.code }, diagnosis.message);
          this.notifyChange(`OpenVPN ${link}: ${diagnosis.code}`);
        }
      }
    } catch (err) {
      if (!this.feed.signal.aborted) this.log.error({ err: String(err) }, 'stopped reading openvpn’s log');
    } finally {
      this.following = false;
    }
  }

  /** One line and one event per source and window, never one per packet. */
  private flushAuthFailures(options: { drain?: boolean } = {}): void {
    for (const r of this.ovpn.authFailures(options)) {
      this.log.warn(
        { link: r.link, source: r.source, count: r.count, ports: r.ports, window_s: r.windowSeconds },
        `OpenVPN ${r.link}: ${r.count} packet(s) from ${r.source} failed tls-crypt in ${r.windowSeconds} s (a scan, a flood, or a peer with the wrong key)`,
      );
      this.env.publish('link.auth-failures', {
        name: r.link,
        source: r.source,
        count: r.count,
        ports: r.ports,
        window_seconds: r.windowSeconds,
      });
    }
  }

  async linkStatus(doc: NormalizedDocument): Promise<LinkStatus[]> {
    const links = doc.links.filter(isOpenvpn);
    const now = this.env.now().getTime();
    const out: LinkStatus[] = [];
    for (const link of links) {
      const base = { name: link.name, type: 'openvpn' as const, interface: deviceOf(link) };
      if (link.enabled === false) {
        out.push({ ...base, state: 'disabled', rx_bytes: 0, tx_bytes: 0, diagnosis: null });
        continue;
      }
      const hub = isHubLink(link);
      let seen = await this.ovpn.observe(instanceOf(link)).catch(() => undefined);
      if (hub && seen) {
        // A spoke is up when the hub's server lists its certificate name.
        const client = seen.clients?.find((c) => c.commonName === link.openvpn.remote_name);
        seen = {
          running: seen.running,
          state: client ? 'CONNECTED' : 'WAIT',
          ...(client?.since ? { since: client.since } : {}),
          ...(client ? { remote: client.realAddress } : {}),
          rxBytes: client?.rxBytes ?? 0,
          txBytes: client?.txBytes ?? 0,
        };
      }
      const up = seen?.running === true && seen.state === 'CONNECTED';
      const cause = this.causes.get(link.name) ?? (hub ? this.causes.get(HUB_INSTANCE) : undefined);
      // A data-path cause (openvpn is connected, but what crosses is refused) stays while it is up.
      const dataPath = cause !== undefined && DATA_PATH_CAUSES.has(cause.diagnosis.code);
      const diagnosis =
        cause && (!up || dataPath || now - cause.at < 5_000) && now - cause.at < DIAGNOSIS_TTL_MS
          ? cause.diagnosis
          : undefined;
      const blocked = diagnosis !== undefined && dataPath && diagnosis.code !== 'mtu-mismatch';
      const state: LinkStatus['state'] =
        up && !blocked ? 'up' : !seen?.running || diagnosis ? 'down' : 'connecting';
      out.push({
        ...base,
        state,
        established_at: up && seen?.since ? seen.since.toISOString() : null,
        rx_bytes: seen?.rxBytes ?? 0,
        tx_bytes: seen?.txBytes ?? 0,
        endpoint: up ? (seen?.remote ?? null) : null,
        diagnosis: diagnosis
          ? diagnosis
          : up
            ? null
            : !seen?.running
              ? {
                  code: 'not-running',
                  message: 'no openvpn process runs for this link',
                  fix: 'see the appliance log; the next apply starts it',
                }
              : roleOf(link) === 'server'
                ? {
                    code: 'waiting-for-peer',
                    message: `openvpn ${seen.state}: waiting for the remote side to connect`,
                    fix: 'check that the remote side has this link (import this link’s peer-config) and can reach this port',
                  }
                : {
                    code: 'negotiating',
                    message: `openvpn ${seen.state}`,
                    fix: 'wait a few seconds; if it stays, see the log',
                  },
      });
    }
    return out;
  }

  async cleanup(): Promise<void> {
    for (const name of this.ovpn.running()) await this.ovpn.remove(name);
    for (const [k] of this.state.entries()) if (k.startsWith('conn:')) this.state.delete(k);
  }
}
