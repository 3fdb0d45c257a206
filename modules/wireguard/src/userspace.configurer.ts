// WireGuard in userspace: one `wireguard-go -f <ifname>` per device, configured over its UAPI socket,
// supervised (restarted with backoff and re-configured when it dies). Devices whose socket already
// answers when we start are adopted, not started again: an appliance restart creates no duplicates.
import { join } from 'node:path';
import { canonicalPrefix } from '@weft/core';
import { systemClock, waitFor, type Clock } from './clock.js';
import type { WireGuardConfigurer } from './configurer.js';
import { DeviceConflictError, DeviceNotFoundError, WireGuardUnavailableError } from './errors.js';
import { publicKeyOf } from './keys.js';
import { IpLinkAdapter, type LinkAdapter } from './link.adapter.js';
import {
  diffPeers,
  summarizeOperations,
  type ObservedPeer,
  type PeerDiff,
  type PeerOperation,
} from './peer.diff.js';
import type { ProcessExit, ProcessHandle, ProcessOutput, ProcessRunner } from '@weft/core';
import { NodeSocketDirectory, type SocketDirectory } from './uapi/socket-dir.adapter.js';
import { UapiClient } from './uapi/uapi.client.js';
import type { UapiDeviceState, UapiPeerSet, UapiSetRequest } from './uapi/uapi.types.js';
import { assertDeviceConfig, assertInterfaceName, assertMtu, normalizePeers } from './validate.js';
import type { WgDevice, WgDeviceConfig, WgPeerConfig, WgPeerState } from './wireguard.types.js';

/** What the owner may want to log or react to. None carries a key. */
export type UserspaceEvent =
  /** We started wireguard-go for a device. */
  | { type: 'started'; device: string; pid: number }
  /** A device's socket already answered when we started: it is used as it is, not supervised. */
  | { type: 'adopted'; device: string }
  /** wireguard-go died without being asked to; a restart follows after `restartInMs`. */
  | {
      type: 'exited';
      device: string;
      pid: number;
      code: number | null;
      signal: string | null;
      /** Its last lines of output (pipe output only). */
      output: string[];
      restartInMs: number;
    }
  /**
   * A new wireguard-go runs and has the last desired device and peers again. The TUN device is new:
   * its addresses and the routes through it are gone, and the owner must re-apply them.
   */
  | { type: 'restarted'; device: string; pid: number; attempt: number }
  /** A restart attempt failed; the next follows after `restartInMs`. */
  | { type: 'restart-failed'; device: string; attempt: number; error: Error; restartInMs: number };

export interface UserspaceConfigurerOptions {
  processes: ProcessRunner;
  /** Default: IpLinkAdapter over `processes`. */
  links?: LinkAdapter;
  /** Default: a UapiClient on /var/run/wireguard. */
  uapi?: UapiClient;
  /** Default: the UapiClient's socket directory. */
  sockets?: SocketDirectory;
  /** Default `wireguard-go` (found in PATH). */
  wireguardGo?: string;
  /**
   * Where wireguard-go writes its log, one `<ifname>.log` per device. Without it its output comes to us
   * through a pipe (see `exited.output`), and a wireguard-go that outlives us dies of SIGPIPE on its
   * next log line: give a directory when devices must survive an appliance restart.
   */
  logDir?: string;
  /** wireguard-go's LOG_LEVEL: `error` (default), `verbose` or `silent`. */
  logLevel?: 'error' | 'verbose' | 'silent';
  onEvent?: (event: UserspaceEvent) => void;
  /** Restart delays: initialMs, doubled per failure up to maxMs (default 1000 → 30000). */
  restartBackoff?: { initialMs: number; maxMs: number };
  /** How long a new wireguard-go may take to answer on its socket (default 5000 ms). */
  startTimeoutMs?: number;
  /** How long removeDevice waits after SIGTERM before SIGKILL, and for the link to vanish (default 3000 ms). */
  stopTimeoutMs?: number;
  clock?: Clock;
}

interface DeviceEntry {
  readonly name: string;
  /** undefined for adopted devices and while a restart is pending. */
  process: ProcessHandle | undefined;
  /** True once we started it successfully: from then on a death means a restart. */
  supervised: boolean;
  stopping: boolean;
  startedAt: number;
  attempts: number;
  cancelRestart: (() => void) | undefined;
  desiredDevice: { config: WgDeviceConfig; mtu: number } | undefined;
  desiredPeers: WgPeerConfig[] | undefined;
  output: string[];
}

const OUTPUT_LINES_KEPT = 20;

export class UserspaceConfigurer implements WireGuardConfigurer {
  readonly kind = 'userspace';
  private readonly processes: ProcessRunner;
  private readonly links: LinkAdapter;
  private readonly uapi: UapiClient;
  private readonly sockets: SocketDirectory;
  private readonly clock: Clock;
  private readonly wireguardGo: string;
  private readonly backoff: { initialMs: number; maxMs: number };
  private readonly startTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly entries = new Map<string, DeviceEntry>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private started: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly options: UserspaceConfigurerOptions) {
    this.processes = options.processes;
    this.links = options.links ?? new IpLinkAdapter(options.processes);
    this.uapi = options.uapi ?? new UapiClient();
    this.sockets = options.sockets ?? new NodeSocketDirectory(this.uapi.socketDir);
    this.clock = options.clock ?? systemClock;
    this.wireguardGo = options.wireguardGo ?? 'wireguard-go';
    this.backoff = options.restartBackoff ?? { initialMs: 1000, maxMs: 30_000 };
    this.startTimeoutMs = options.startTimeoutMs ?? 5000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 3000;
  }

  /** The PID of the wireguard-go we run for `name`; undefined when adopted, absent or restarting. */
  pidOf(name: string): number | undefined {
    return this.entries.get(name)?.process?.pid;
  }

  /** Devices found running when we started, which we configure but do not supervise. */
  adoptedDevices(): string[] {
    return [...this.entries.values()].filter((e) => !e.supervised).map((e) => e.name);
  }

  async ensureDevice(name: string, device: WgDeviceConfig, mtu: number): Promise<void> {
    assertInterfaceName(name);
    assertDeviceConfig(device);
    assertMtu(mtu);
    await this.ready();
    await this.withLock(name, async () => {
      let entry = this.entries.get(name);
      const fresh = !(await this.answers(name));
      if (fresh) {
        if (entry?.cancelRestart) {
          entry.cancelRestart();
          entry.cancelRestart = undefined;
        }
        if (entry?.process) await this.stopProcess(entry, entry.process);
        entry = entry ?? this.newEntry(name);
        entry.supervised = false;
        await this.startProcess(entry);
        entry.supervised = true;
        entry.attempts = 0;
      } else if (!entry) {
        entry = this.newEntry(name);
        this.emit({ type: 'adopted', device: name });
      }
      entry.desiredDevice = { config: { ...device }, mtu };
      await this.applyDevice(name, device, mtu);
      // A fresh process after a crash whose restart was still pending: give it its peers back too.
      if (fresh && entry.desiredPeers) await this.applyPeers(name, entry.desiredPeers);
    });
  }

  async syncPeers(name: string, desired: readonly WgPeerConfig[]): Promise<PeerDiff> {
    assertInterfaceName(name);
    const peers = normalizePeers(desired);
    await this.ready();
    return this.withLock(name, async () => {
      const diff = await this.applyPeers(name, peers);
      const entry = this.entries.get(name) ?? this.newEntry(name);
      entry.desiredPeers = peers;
      return diff;
    });
  }

  async forgetSourceAddresses(name: string): Promise<string[]> {
    assertInterfaceName(name);
    await this.ready();
    return this.withLock(name, async () => {
      const state = await this.uapi.get(name);
      // Setting an endpoint, even the current one, gives wireguard-go a fresh endpoint with no source.
      const peers: UapiPeerSet[] = state.peers
        .filter((p) => p.endpoint !== undefined)
        .map((p) => ({ publicKey: p.publicKey, updateOnly: true, endpoint: p.endpoint }));
      if (peers.length > 0) await this.uapi.set(name, { peers });
      return peers.map((p) => p.publicKey);
    });
  }

  async readDevice(name: string): Promise<WgDevice | undefined> {
    assertInterfaceName(name);
    this.assertOpen();
    let state: UapiDeviceState;
    try {
      state = await this.uapi.get(name);
    } catch (err) {
      if (err instanceof DeviceNotFoundError) return undefined;
      throw err;
    }
    return deviceFromUapi(name, state);
  }

  async removeDevice(name: string): Promise<void> {
    assertInterfaceName(name);
    await this.ready();
    await this.withLock(name, async () => {
      const entry = this.entries.get(name);
      if (entry) {
        entry.stopping = true;
        entry.cancelRestart?.();
        entry.cancelRestart = undefined;
      }
      if (entry?.process) {
        await this.stopProcess(entry, entry.process);
      } else if (await this.answers(name)) {
        // Not our child (adopted): deleting its TUN device makes wireguard-go shut down, as `wg-quick
        // down` relies on.
        await this.links.deleteLink(name);
        await waitFor(this.clock, async () => !(await this.answers(name)), {
          timeoutMs: this.stopTimeoutMs,
          onTimeout: () => new Error(`${name}: wireguard-go still answers after its link was deleted`),
        });
      }
      await waitFor(this.clock, async () => (await this.links.getLink(name)) === undefined, {
        timeoutMs: this.stopTimeoutMs,
        onTimeout: () => new Error(`${name}: the interface is still there after wireguard-go stopped`),
      });
      // SIGKILL leaves the socket file behind; nobody answers on it now.
      if (!(await this.answers(name))) await this.sockets.remove(name);
      this.entries.delete(name);
    });
  }

  async listDevices(): Promise<string[]> {
    await this.ready();
    const names = await this.sockets.list();
    const live = await Promise.all(names.map(async (n) => ((await this.answers(n)) ? n : undefined)));
    return live.filter((n): n is string => n !== undefined);
  }

  /**
   * Stops supervising and lets our event loop end. wireguard-go processes keep running and forwarding;
   * the next UserspaceConfigurer adopts them. Remove devices first if they must go.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const entry of this.entries.values()) {
      entry.cancelRestart?.();
      entry.cancelRestart = undefined;
      entry.process?.detach();
    }
    return Promise.resolve();
  }

  // --- start, stop, supervise ------------------------------------------------------------------------

  /** Adopts the devices whose sockets answer, once, before the first operation. */
  private ready(): Promise<void> {
    this.assertOpen();
    this.started ??= (async () => {
      for (const name of await this.sockets.list()) {
        if (!this.entries.has(name) && (await this.answers(name))) {
          this.newEntry(name);
          this.emit({ type: 'adopted', device: name });
        }
      }
    })();
    return this.started;
  }

  private newEntry(name: string): DeviceEntry {
    const entry: DeviceEntry = {
      name,
      process: undefined,
      supervised: false,
      stopping: false,
      startedAt: this.clock.now(),
      attempts: 0,
      cancelRestart: undefined,
      desiredDevice: undefined,
      desiredPeers: undefined,
      output: [],
    };
    this.entries.set(name, entry);
    return entry;
  }

  /** Starts wireguard-go for `entry` and waits until its socket answers. */
  private async startProcess(entry: DeviceEntry): Promise<void> {
    const { name } = entry;
    const link = await this.links.getLink(name);
    if (link !== undefined) {
      throw new DeviceConflictError(
        `an interface named "${name}" exists (kind ${link.kind ?? 'none'}) but no wireguard-go answers for it`,
      );
    }
    const output: ProcessOutput = this.options.logDir
      ? { kind: 'file', path: join(this.options.logDir, `${name}.log`) }
      : {
          kind: 'pipe',
          onLine: (line) => {
            entry.output.push(line);
            if (entry.output.length > OUTPUT_LINES_KEPT) entry.output.shift();
          },
        };
    entry.output = [];
    // `-f` first and the name last: wireguard-go takes an unknown argument for an interface name.
    const handle = await this.processes.spawn(this.wireguardGo, ['-f', name], {
      env: { WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: this.options.logLevel ?? 'error' },
      output,
    });
    entry.process = handle;
    entry.startedAt = this.clock.now();
    let exit: ProcessExit | undefined;
    void handle.exited.then((e) => {
      exit = e;
      this.onExit(entry, handle, e);
    });
    try {
      await waitFor(this.clock, async () => exit !== undefined || (await this.answers(name)), {
        timeoutMs: this.startTimeoutMs,
        onTimeout: () =>
          new WireGuardUnavailableError(`${name}: wireguard-go did not answer on its socket in time`),
      });
      if (exit !== undefined) {
        const lines = entry.output.length > 0 ? `: ${entry.output.join(' | ')}` : '';
        throw new WireGuardUnavailableError(
          `${name}: wireguard-go exited (${exit.signal ?? `code ${exit.code}`}) before its socket answered${lines}`,
        );
      }
    } catch (err) {
      if (exit === undefined) await this.stopProcess(entry, handle);
      throw err;
    }
    this.emit({ type: 'started', device: name, pid: handle.pid });
  }

  /** SIGTERM, then SIGKILL after stopTimeoutMs; resolves when the process has exited. */
  private async stopProcess(entry: DeviceEntry, handle: ProcessHandle): Promise<void> {
    const wasStopping = entry.stopping;
    entry.stopping = true;
    try {
      handle.kill('SIGTERM');
      const exitedInTime = await Promise.race([
        handle.exited.then(() => true),
        this.clock.sleep(this.stopTimeoutMs).then(() => false),
      ]);
      if (!exitedInTime) {
        handle.kill('SIGKILL');
        await handle.exited;
      }
    } finally {
      entry.stopping = wasStopping;
      if (entry.process === handle) entry.process = undefined;
    }
  }

  private onExit(entry: DeviceEntry, handle: ProcessHandle, exit: ProcessExit): void {
    if (entry.process !== handle) return;
    entry.process = undefined;
    if (entry.stopping || this.closed || !entry.supervised || this.entries.get(entry.name) !== entry) return;
    // A process that ran well beyond the longest delay was healthy: start the backoff over.
    if (this.clock.now() - entry.startedAt > 2 * this.backoff.maxMs) entry.attempts = 0;
    const restartInMs = this.scheduleRestart(entry);
    this.emit({
      type: 'exited',
      device: entry.name,
      pid: handle.pid,
      code: exit.code,
      signal: exit.signal,
      output: [...entry.output],
      restartInMs,
    });
  }

  private scheduleRestart(entry: DeviceEntry): number {
    const delay = Math.min(this.backoff.initialMs * 2 ** entry.attempts, this.backoff.maxMs);
    entry.attempts++;
    entry.cancelRestart?.();
    entry.cancelRestart = this.clock.schedule(() => {
      entry.cancelRestart = undefined;
      void this.restart(entry);
    }, delay);
    return delay;
  }

  private async restart(entry: DeviceEntry): Promise<void> {
    const attempt = entry.attempts;
    await this.withLock(entry.name, async () => {
      if (this.closed || entry.stopping || entry.process || this.entries.get(entry.name) !== entry) return;
      try {
        await this.startProcess(entry);
        if (entry.desiredDevice) {
          await this.applyDevice(entry.name, entry.desiredDevice.config, entry.desiredDevice.mtu);
        }
        if (entry.desiredPeers) await this.applyPeers(entry.name, entry.desiredPeers);
        const pid = processOf(entry)?.pid ?? 0;
        this.emit({ type: 'restarted', device: entry.name, pid, attempt });
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        const running = processOf(entry);
        if (running) {
          // Its exit schedules the next attempt.
          running.kill('SIGKILL');
          this.emit({
            type: 'restart-failed',
            device: entry.name,
            attempt,
            error,
            restartInMs: this.nextDelay(entry),
          });
        } else if (!entry.cancelRestart) {
          const restartInMs = this.scheduleRestart(entry);
          this.emit({ type: 'restart-failed', device: entry.name, attempt, error, restartInMs });
        } else {
          this.emit({
            type: 'restart-failed',
            device: entry.name,
            attempt,
            error,
            restartInMs: this.nextDelay(entry),
          });
        }
      }
    }).catch(() => undefined);
  }

  private nextDelay(entry: DeviceEntry): number {
    return Math.min(this.backoff.initialMs * 2 ** entry.attempts, this.backoff.maxMs);
  }

  // --- configuration over UAPI -------------------------------------------------------------------------

  private async applyDevice(name: string, config: WgDeviceConfig, mtu: number): Promise<void> {
    const state = await this.uapi.get(name);
    const request: UapiSetRequest = {};
    // Compared by public key: a key set unclamped may read back clamped.
    if (state.privateKey === undefined || publicKeyOf(state.privateKey) !== publicKeyOf(config.privateKey)) {
      request.privateKey = config.privateKey;
    }
    // Setting the port, even to the same value, makes wireguard-go rebind its sockets.
    if (config.listenPort !== undefined && config.listenPort !== state.listenPort) {
      request.listenPort = config.listenPort;
    }
    if ((config.fwmark ?? 0) !== state.fwmark) request.fwmark = config.fwmark ?? 0;
    if (Object.keys(request).length > 0) await this.uapi.set(name, request);
    const link = await this.links.getLink(name);
    if (link === undefined) throw new DeviceNotFoundError(name);
    if (link.mtu !== mtu) await this.links.setMtu(name, mtu);
    if (!link.up) await this.links.setUp(name);
  }

  private async applyPeers(name: string, peers: readonly WgPeerConfig[]): Promise<PeerDiff> {
    const state = await this.uapi.get(name);
    const ops = diffPeers(peers, state.peers.map(observedFromUapi));
    if (ops.length > 0) await this.uapi.set(name, peerOperationsToUapi(ops));
    return summarizeOperations(ops);
  }

  // --- helpers -----------------------------------------------------------------------------------------

  private async answers(name: string): Promise<boolean> {
    try {
      await this.uapi.get(name, { timeoutMs: 1000 });
      return true;
    } catch {
      return false;
    }
  }

  private withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const result = previous.then(fn, fn);
    const tail = result.catch(() => undefined);
    this.locks.set(name, tail);
    void tail.then(() => {
      if (this.locks.get(name) === tail) this.locks.delete(name);
    });
    return result;
  }

  private emit(event: UserspaceEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // a failing listener must not break supervision
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new WireGuardUnavailableError('the userspace WireGuard configurer is closed');
  }
}

/** The `set=1` peers for a diff: one entry per operation, nothing for peers without one. */
export function peerOperationsToUapi(ops: readonly PeerOperation[]): UapiSetRequest {
  const peers = ops.map((op): UapiPeerSet => {
    switch (op.op) {
      case 'remove':
        return { publicKey: op.publicKey, remove: true };
      case 'add': {
        const p = op.peer;
        const set: UapiPeerSet = { publicKey: p.publicKey };
        if (p.presharedKey !== undefined) set.presharedKey = p.presharedKey;
        if (p.endpoint !== undefined) set.endpoint = p.endpoint;
        if (p.persistentKeepalive !== undefined) set.persistentKeepalive = p.persistentKeepalive;
        set.replaceAllowedIps = true;
        set.allowedIps = p.allowedIps;
        return set;
      }
      case 'update': {
        const c = op.changes;
        const set: UapiPeerSet = { publicKey: op.publicKey, updateOnly: true };
        if (c.presharedKey !== undefined) set.presharedKey = c.presharedKey;
        if (c.endpoint !== undefined) set.endpoint = c.endpoint;
        if (c.persistentKeepalive !== undefined) set.persistentKeepalive = c.persistentKeepalive;
        if (c.allowedIps !== undefined) {
          set.replaceAllowedIps = true;
          set.allowedIps = c.allowedIps;
        }
        return set;
      }
    }
  });
  return { peers };
}

/** Read through a function: TypeScript would keep a narrowing of `entry.process` across awaits. */
function processOf(entry: DeviceEntry): ProcessHandle | undefined {
  return entry.process;
}

function observedFromUapi(p: UapiDeviceState['peers'][number]): ObservedPeer {
  const observed: ObservedPeer = {
    publicKey: p.publicKey,
    allowedIps: p.allowedIps,
    persistentKeepalive: p.persistentKeepalive,
    hasPresharedKey: p.presharedKey !== undefined,
  };
  if (p.endpoint !== undefined) observed.endpoint = p.endpoint;
  if (p.presharedKey !== undefined) observed.presharedKey = p.presharedKey;
  return observed;
}

export function deviceFromUapi(name: string, state: UapiDeviceState): WgDevice {
  const device: WgDevice = {
    name,
    publicKey: state.privateKey === undefined ? '' : publicKeyOf(state.privateKey),
    listenPort: state.listenPort,
    peers: state.peers.map((p): WgPeerState => {
      const peer: WgPeerState = {
        publicKey: p.publicKey,
        allowedIps: p.allowedIps.map(canonicalOrRaw).sort(),
        persistentKeepalive: p.persistentKeepalive,
        lastHandshake: p.lastHandshake,
        rxBytes: p.rxBytes,
        txBytes: p.txBytes,
        hasPresharedKey: p.presharedKey !== undefined,
      };
      if (p.endpoint !== undefined) peer.endpoint = p.endpoint;
      return peer;
    }),
  };
  if (state.fwmark !== 0) device.fwmark = state.fwmark;
  return device;
}

function canonicalOrRaw(prefix: string): string {
  try {
    return canonicalPrefix(prefix);
  } catch {
    return prefix;
  }
}
