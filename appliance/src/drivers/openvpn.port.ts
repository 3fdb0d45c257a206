// The OpenvpnPort on @weft/openvpn: one OpenvpnSupervisor per link (files 0600 in the link's private
// dir, foreground openvpn, restart with backoff), its `>LOG:` stream read over the management interface
// into a doctor of its own (OpenvpnDiagnoser keeps per-link context: refused attempts, the peer's ciphers)
// and the flood aggregator, never into the appliance log line by line.
import { join } from 'node:path';
import type { ProcessRunner } from '@weft/core';
import {
  AuthFailureAggregator,
  hubSpokesChange,
  isOpenvpnSecretLine,
  NodeOpenvpnHost,
  OpenvpnDiagnoser,
  openvpnLayout,
  OpenvpnSupervisor,
  type AuthFailureEvent,
  type ManagementClient,
  type OpenvpnEvent,
  type OpenvpnLayout,
  type OpenvpnHubClientSpec,
  type OpenvpnHubServerSpec,
  type OpenvpnP2pSpec,
  type OpenvpnSpec,
  type OpenvpnState,
} from '@weft/openvpn';
import type {
  OpenvpnAuthFailures,
  OpenvpnHubClient,
  OpenvpnInstance,
  OpenvpnObserved,
  OpenvpnPort,
  OpenvpnPortEvent,
} from './openvpn.driver.js';
import { runOccCheck, scrubSecretLines } from './openvpn.occ-check.js';

export interface SupervisedOpenvpnPortOptions {
  processes: ProcessRunner;
  /** The appliance's openvpn dir: `<dir>/<link>/` holds each link's files. */
  runtimeDir: string;
  dco: { enabled: boolean; reason: string };
  /** Supervisor events (logged; `restarted` also means the tun device is new). */
  onEvent: (link: string, event: OpenvpnEvent) => void;
  now?: () => number;
}

interface Instance {
  supervisor: OpenvpnSupervisor;
  hash: string;
  diagnoser: OpenvpnDiagnoser;
  /** When the tunnel last entered its current `>STATE:` (openvpn's own stamp). */
  state?: OpenvpnState;
  /** The management client whose `>LOG:` stream is being read. */
  following?: ManagementClient;
  /** Packets that failed tls-crypt at this link's port, per source and minute. */
  aggregator: AuthFailureAggregator;
  /** The hub's server: one process for many peers, its doctor keeps context across their sessions. */
  hub: boolean;
  /**
   * How long one reconnect of the OCC check may take: a TLS server cannot call its peer back, so it
   * waits for the peer's ping-restart (its keepalive timeout) and a handshake.
   */
  reconnectTimeoutMs: number;
  /** The OCC check running now: its reconnects are not new connections. */
  checking?: Promise<string | undefined>;
  /** The check already ran by itself in this connection. */
  autoChecked?: boolean;
}

type Listener = (event: OpenvpnPortEvent) => void;

/** What the appliance asks for, in the renderer's terms. */
function authFailuresOf(link: string, events: AuthFailureEvent[]): OpenvpnAuthFailures[] {
  return events.map((e) => ({
    link,
    source: e.source,
    count: e.count,
    ports: e.ports,
    windowSeconds: Math.max(1, Math.round((e.windowEndsAt - e.firstAt) / 1000)),
  }));
}

export function specOf(instance: OpenvpnInstance, dco: boolean): OpenvpnSpec {
  const common = {
    name: instance.name,
    device: instance.device,
    tlsCrypt: { kind: 'v1' as const, key: instance.tlsCryptKey },
    underlayMtu: instance.underlayMtu,
    dco,
    dataCiphers: instance.dataCiphers,
    keepalive: { intervalSeconds: instance.keepalive.interval, timeoutSeconds: instance.keepalive.timeout },
    // A failing handshake must be reported before ping-restart starts over, or its cause is never logged.
    handWindowSeconds: Math.min(30, Math.max(5, Math.floor(instance.keepalive.timeout / 2))),
  };
  if (instance.kind === 'hub') {
    // Every spoke's CA in one file: each spoke is then bound to its ccd entry by its common name.
    const caPem = [...new Set(instance.spokes.map((s) => s.remoteCa.trim()))].join('\n') + '\n';
    const spec: OpenvpnHubServerSpec = {
      ...common,
      kind: 'hub-server',
      // The spokes' CAs in a hashed dir, looked up per handshake: a spoke is added without a restart.
      caPath: true,
      local: { port: instance.listenPort },
      tunnel: { subnet: instance.network, serverAddress: instance.serverAddress },
      // Each spoke's name is bound to its own CA (tls-verify): another spoke's CA, trusted too, cannot
      // mint a certificate with this name and take its address and subnets.
      spokes: instance.spokes.map((s) => ({
        commonName: s.commonName,
        tunnelAddress: s.tunnelAddress,
        subnets: s.subnets,
        caPem: s.remoteCa,
      })),
      credentials: { caPem, certPem: instance.cert, keyPem: instance.key },
    };
    return spec;
  }
  const credentials = { caPem: instance.remoteCa, certPem: instance.cert, keyPem: instance.key };
  if (instance.kind === 'spoke') {
    if (!instance.remote) throw new Error(`spoke ${instance.name} has no hub to dial`);
    const spec: OpenvpnHubClientSpec = {
      ...common,
      kind: 'hub-client',
      remote: instance.remote,
      hubCommonName: instance.remoteName,
      underlayFamily: instance.underlayFamily,
      credentials,
    };
    return spec;
  }
  if (!instance.tunnel) throw new Error(`link ${instance.name} has no tunnel addresses`);
  const spec: OpenvpnP2pSpec = {
    ...common,
    kind: 'p2p',
    role: instance.role === 'server' ? 'listen' : 'connect',
    ...(instance.listenPort !== undefined ? { local: { port: instance.listenPort } } : {}),
    ...(instance.remote ? { remote: instance.remote } : {}),
    tunnel: instance.tunnel,
    peerCommonName: instance.remoteName,
    underlayFamily: instance.underlayFamily,
    credentials,
  };
  return spec;
}

export class SupervisedOpenvpnPort implements OpenvpnPort {
  readonly dco: boolean;
  readonly reason: string;
  private readonly instances = new Map<string, Instance>();
  private leftoverAuthFailures: OpenvpnAuthFailures[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly host = new NodeOpenvpnHost();
  private readonly clock: { now(): number };

  constructor(private readonly o: SupervisedOpenvpnPortOptions) {
    this.dco = o.dco.enabled;
    this.reason = o.dco.reason;
    this.clock = { now: o.now ?? (() => Date.now()) };
  }

  private layoutOf(name: string): OpenvpnLayout {
    return openvpnLayout({ runtimeDir: this.o.runtimeDir, name });
  }

  async ensure(instance: OpenvpnInstance, hash: string): Promise<void> {
    const current = this.instances.get(instance.name);
    if (current?.hash === hash && current.supervisor.state !== 'stopped') return;
    if (current && (await this.applySpokes(current, instance))) {
      current.hash = hash;
      return;
    }
    if (current) {
      this.instances.delete(instance.name);
      this.keepAuthFailures(instance.name, current);
      await current.supervisor.stop();
    }
    const name = instance.name;
    const entry: Instance = {
      hash,
      diagnoser: new OpenvpnDiagnoser({ controlChannel: 'tls-crypt' }),
      hub: instance.kind === 'hub',
      reconnectTimeoutMs: (instance.keepalive.timeout + 15) * 1000,
      aggregator: new AuthFailureAggregator(this.clock),
      supervisor: new OpenvpnSupervisor({
        processes: this.o.processes,
        spec: specOf(instance, this.dco),
        layout: this.layoutOf(name),
        onEvent: (e) => this.onEvent(name, e),
      }),
    };
    this.instances.set(name, entry);
    try {
      await entry.supervisor.start();
    } catch (err) {
      this.instances.delete(name);
      throw new Error(`start openvpn for link ${name}`, { cause: err });
    }
    this.followLogs(name, entry);
  }

  /**
   * Only the spokes of the running hub changed (a hub link added or removed): the diff is applied to
   * the running server (ccd entries, CA dir, `kill` of removed spokes), so the other spokes keep their
   * sessions. False when a restart is needed (server-wide settings, or openvpn is not running).
   */
  private async applySpokes(current: Instance, instance: OpenvpnInstance): Promise<boolean> {
    const running = current.supervisor.currentSpec;
    const next = specOf(instance, this.dco);
    if (running.kind !== 'hub-server' || next.kind !== 'hub-server') return false;
    if (current.supervisor.state !== 'running' || !hubSpokesChange(running, next)) return false;
    try {
      await current.supervisor.applySpokes(next);
    } catch (err) {
      throw new Error(`apply the spokes of hub ${instance.name}`, { cause: err });
    }
    return true;
  }

  private onEvent(name: string, e: OpenvpnEvent): void {
    const entry = this.instances.get(name);
    if (entry) {
      if (e.type === 'state') {
        entry.state = e.state;
        for (const d of entry.diagnoser.observeState(e.state))
          this.emit({ link: name, kind: 'finding', diagnosis: d });
        if (e.state.name === 'CONNECTED' && !entry.checking) this.connected(name, entry);
      }
      if (e.type === 'exited') {
        entry.state = undefined;
        for (const line of e.lastLines) this.observeLine(name, entry, line);
      }
      if (e.type === 'restarted') queueMicrotask(() => this.followLogs(name, entry));
    }
    this.o.onEvent(name, e);
  }

  /** Reads the `>LOG:` stream of the openvpn that runs now; called again after each restart. */
  private followLogs(name: string, entry: Instance): void {
    const client = entry.supervisor.management;
    if (!client || entry.following === client) return;
    entry.following = client;
    const subscription = client.logs();
    void client.logOn().catch(() => undefined);
    void (async () => {
      try {
        for await (const log of subscription) {
          if (this.instances.get(name) !== entry) break;
          this.observeLine(name, entry, log.message);
        }
      } catch {
        // the management connection ended with its process; a restart follows the new one
      } finally {
        subscription.close();
      }
    })();
  }

  private observeLine(name: string, entry: Instance, line: string): void {
    // Defensive: at verb 3 openvpn prints no key material, but a raised verb would.
    if (isOpenvpnSecretLine(line)) return;
    // A failure line is counted, and its diagnosis comes from the doctor once, not per packet.
    entry.aggregator.observe(line);
    for (const d of entry.diagnoser.observe(line)) {
      this.emit({ link: name, kind: 'finding', diagnosis: d });
      // The tun refuses what the peer sends (a TAP peer, or one that compresses): the OCC check says which.
      if (d.code === 'tun-write-rejected' && !entry.autoChecked && !entry.checking) {
        entry.autoChecked = true;
        void this.checkOptions(name);
      }
    }
  }

  private emit(event: OpenvpnPortEvent): void {
    for (const l of this.listeners) l(event);
  }

  async remove(name: string): Promise<void> {
    const entry = this.instances.get(name);
    this.instances.delete(name);
    if (entry) {
      this.keepAuthFailures(name, entry);
      await entry.supervisor.stop();
    } else await this.endStale(name);
  }

  /** A link removed while the appliance was down: its openvpn (ours: our config path) ended by PID. */
  private async endStale(name: string): Promise<void> {
    const layout = this.layoutOf(name);
    const pid = Number((await this.host.readText(layout.pidFile))?.trim());
    if (!Number.isInteger(pid) || pid <= 1) return;
    const argv = await this.host.argvOf(pid);
    if (argv?.includes(layout.config)) this.host.signal(pid, 'SIGTERM');
    await this.host.remove(layout.pidFile);
  }

  /**
   * A new session (not one of the OCC check's reconnects): the peer may have changed its options, so a
   * p2p link's doctor starts afresh and may run the check again.
   */
  private connected(name: string, entry: Instance): void {
    if (!entry.hub) {
      entry.diagnoser = new OpenvpnDiagnoser({ controlChannel: 'tls-crypt' });
      entry.autoChecked = false;
    }
    this.emit({ link: name, kind: 'connected' });
  }

  /** The on-demand OCC check (openvpn.occ-check.ts); resolves with why it could not run, else undefined. */
  checkOptions(name: string): Promise<string | undefined> {
    const entry = this.instances.get(name);
    if (!entry) return Promise.resolve('no openvpn runs for this link');
    if (entry.checking) return entry.checking;
    const client = entry.supervisor.management;
    const state = entry.state?.name ?? entry.supervisor.tunnelState?.name;
    if (!client || state !== 'CONNECTED') {
      return Promise.resolve(
        `the tunnel is not up (openvpn ${state ?? 'not running'}): the check compares both ends' options at a handshake, so the other end must be connected`,
      );
    }
    const log = this.layoutOf(name).log;
    const run = runOccCheck(client, {
      scrubLog: () => scrubSecretLines(log),
      reconnectTimeoutMs: entry.reconnectTimeoutMs,
    })
      .then(() => undefined)
      .catch(
        (err: unknown) => `the check did not finish: ${err instanceof Error ? err.message : String(err)}`,
      )
      .finally(() => {
        if (entry.checking === run) entry.checking = undefined;
      });
    entry.checking = run;
    return run;
  }

  running(): string[] {
    return [...this.instances.keys()];
  }

  async observe(name: string): Promise<OpenvpnObserved | undefined> {
    const entry = this.instances.get(name);
    if (!entry) return undefined;
    const running = entry.supervisor.state !== 'stopped';
    const state = entry.state ?? entry.supervisor.tunnelState;
    let rxBytes = 0;
    let txBytes = 0;
    let clients: OpenvpnHubClient[] | undefined;
    if (entry.supervisor.state === 'running') {
      const status = await entry.supervisor.status().catch(() => undefined);
      if (status?.mode === 'p2p') {
        rxBytes = status.linkReadBytes ?? 0;
        txBytes = status.linkWriteBytes ?? 0;
      } else if (status) {
        clients = status.clients.map((c) => ({
          commonName: c.commonName,
          realAddress: c.realAddress,
          virtualAddress: c.virtualAddress,
          ...(c.connectedSince ? { since: new Date(c.connectedSince * 1000) } : {}),
          rxBytes: c.bytesReceived,
          txBytes: c.bytesSent,
        }));
      }
    }
    return {
      running,
      state: state?.name ?? (running ? 'CONNECTING' : 'EXITED'),
      ...(state?.time ? { since: new Date(state.time * 1000) } : {}),
      ...(state?.remoteAddress
        ? { remote: `${state.remoteAddress}${state.remotePort ? `:${state.remotePort}` : ''}` }
        : {}),
      rxBytes,
      txBytes,
      ...(clients ? { clients } : {}),
    };
  }

  async *events(signal: AbortSignal): AsyncIterable<OpenvpnPortEvent> {
    const queue: OpenvpnPortEvent[] = [];
    let wake: (() => void) | undefined;
    const listener: Listener = (e) => {
      queue.push(e);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.listeners.add(listener);
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.listeners.delete(listener);
      signal.removeEventListener('abort', onAbort);
    }
  }

  authFailures(options: { drain?: boolean } = {}): OpenvpnAuthFailures[] {
    const out = this.leftoverAuthFailures;
    this.leftoverAuthFailures = [];
    for (const [link, entry] of this.instances) {
      out.push(...authFailuresOf(link, options.drain ? entry.aggregator.drain() : entry.aggregator.flush()));
    }
    return out;
  }

  /** A process that goes (removed, replaced): its open flood windows reported at the next call. */
  private keepAuthFailures(link: string, entry: Instance): void {
    this.leftoverAuthFailures.push(...authFailuresOf(link, entry.aggregator.drain()));
  }

  async close(): Promise<void> {
    const all = [...this.instances.values()];
    for (const [link, entry] of this.instances) this.keepAuthFailures(link, entry);
    this.instances.clear();
    await Promise.all(all.map((i) => i.supervisor.stop().catch(() => undefined)));
  }

  /** Where a link's files are (for tests and cleanup): `<runtimeDir>/<link>/`. */
  dirOf(name: string): string {
    return join(this.o.runtimeDir, name);
  }
}
