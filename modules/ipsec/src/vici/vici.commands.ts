// Typed VICI commands over a ViciSession. Inputs are named after swanctl.conf/VICI; results are the
// views in vici.types.ts. Secrets (load-shared, load-key) only ever travel inside the request message.
import type { CoreErrorKind } from '@weft/core';
import { ViciCommandFailedError, type ViciControlLogLine } from './vici.errors.js';
import type { ViciInput, ViciSection } from './vici.message.js';
import type {
  ViciCallOptions,
  ViciEvent,
  ViciSession,
  ViciSubscribeOptions,
  ViciSubscription,
} from './vici.session.js';
import type {
  ViciCertificate,
  ViciChildRekey,
  ViciChildSa,
  ViciChildUpdown,
  ViciConn,
  ViciIkeRekey,
  ViciIkeSa,
  ViciIkeUpdown,
  ViciInitiateRequest,
  ViciLogLine,
  ViciPrivateKey,
  ViciSharedSecret,
  ViciStats,
  ViciTerminateRequest,
  ViciVersion,
} from './vici.types.js';

export class ViciClient {
  constructor(readonly session: ViciSession) {}

  async version(options?: ViciCallOptions): Promise<ViciVersion> {
    const m = await this.session.request('version', {}, options);
    return {
      daemon: str(m, 'daemon') ?? '',
      version: str(m, 'version') ?? '',
      sysname: str(m, 'sysname') ?? '',
      release: str(m, 'release') ?? '',
      machine: str(m, 'machine') ?? '',
    };
  }

  async stats(options?: ViciCallOptions): Promise<ViciStats> {
    const m = await this.session.request('stats', {}, options);
    const uptime = sec(m, 'uptime');
    const workers = sec(m, 'workers');
    const ikesas = sec(m, 'ikesas');
    return {
      uptime: { running: str(uptime, 'running') ?? '', since: str(uptime, 'since') ?? '' },
      workers: { total: num(workers, 'total') ?? 0, idle: num(workers, 'idle') ?? 0 },
      scheduledJobs: num(m, 'scheduled') ?? 0,
      ikeSas: { total: num(ikesas, 'total') ?? 0, halfOpen: num(ikesas, 'half-open') ?? 0 },
      plugins: list(m, 'plugins'),
      raw: m,
    };
  }

  /** Loads (or replaces) connection `name`; `config` is its swanctl.conf section as VICI wants it. */
  async loadConn(name: string, config: ViciInput, options?: ViciCallOptions): Promise<void> {
    await this.session.request('load-conn', { [name]: config }, options);
  }

  async unloadConn(name: string, options?: ViciCallOptions): Promise<void> {
    await this.session.request('unload-conn', { name }, options);
  }

  /** Names of the connections loaded over VICI. */
  async getConns(options?: ViciCallOptions): Promise<string[]> {
    return list(await this.session.request('get-conns', {}, options), 'conns');
  }

  async loadShared(secret: ViciSharedSecret, options?: ViciCallOptions): Promise<void> {
    const { id, type, data, owners } = secret;
    await this.session.request('load-shared', { id, type, data, owners }, options);
  }

  async unloadShared(id: string, options?: ViciCallOptions): Promise<void> {
    await this.session.request('unload-shared', { id }, options);
  }

  async loadCert(cert: ViciCertificate, options?: ViciCallOptions): Promise<void> {
    await this.session.request('load-cert', { type: cert.type, flag: cert.flag, data: cert.data }, options);
  }

  async loadKey(key: ViciPrivateKey, options?: ViciCallOptions): Promise<void> {
    await this.session.request('load-key', { type: key.type, data: key.data }, options);
  }

  /**
   * Initiates a CHILD_SA (and its IKE_SA). Resolves with the control-log lines charon streamed; on
   * failure throws ViciCommandFailedError carrying them in `log` (the IKE failure cause is there). Give
   * `options.timeoutMs` more than `request.timeoutMs`, or charon's answer is dropped as late.
   */
  async initiate(
    request: ViciInitiateRequest,
    options?: ViciCallOptions,
  ): Promise<{ log: ViciControlLogLine[] }> {
    return this.controlled(
      'initiate',
      {
        child: request.child,
        ike: request.ike,
        timeout: request.timeoutMs,
        'init-limits': request.initLimits,
        loglevel: request.logLevel,
      },
      options,
    );
  }

  /** Terminates SAs; like initiate(), returns or carries the control-log lines. */
  async terminate(
    request: ViciTerminateRequest,
    options?: ViciCallOptions,
  ): Promise<{ log: ViciControlLogLine[] }> {
    return this.controlled(
      'terminate',
      {
        child: request.child,
        ike: request.ike,
        // charon reads `child-id`/`ike-id` (its README says child_id/ike_id, which it ignores).
        'child-id': request.childId,
        'ike-id': request.ikeId,
        force: request.force,
        timeout: request.timeoutMs,
        loglevel: request.logLevel,
      },
      options,
    );
  }

  async listSas(
    filter: { ike?: string; ikeId?: number; noblock?: boolean } = {},
    options?: ViciCallOptions,
  ): Promise<ViciIkeSa[]> {
    // charon tests `noblock` for presence only: `noblock=no` would still mean "do not block".
    const input: ViciInput = {
      ike: filter.ike,
      'ike-id': filter.ikeId,
      noblock: filter.noblock ? 'yes' : undefined,
    };
    const { events } = await this.session.streamedRequest('list-sas', 'list-sa', input, options);
    return events.flatMap((event) => sections(event).map(([name, sa]) => toIkeSa(name, sa)));
  }

  async listConns(filter: { ike?: string } = {}, options?: ViciCallOptions): Promise<ViciConn[]> {
    const { events } = await this.session.streamedRequest(
      'list-conns',
      'list-conn',
      { ike: filter.ike },
      options,
    );
    return events.flatMap((event) => sections(event).map(([name, conn]) => toConn(name, conn)));
  }

  subscribeIkeUpdown(options?: ViciSubscribeOptions): Promise<ViciEventStream<ViciIkeUpdown>> {
    return this.typed('ike-updown', options, (m) => {
      const [name, sa] = sections(m)[0] ?? ['', {}];
      return { up: m['up'] === 'yes', ikeSa: toIkeSa(name, sa) };
    });
  }

  subscribeChildUpdown(options?: ViciSubscribeOptions): Promise<ViciEventStream<ViciChildUpdown>> {
    return this.typed('child-updown', options, (m) => {
      const [name, sa] = sections(m)[0] ?? ['', {}];
      const ikeSa = toIkeSa(name, sa);
      return { up: m['up'] === 'yes', ikeSa, childSa: ikeSa.childSas[0] };
    });
  }

  subscribeIkeRekey(options?: ViciSubscribeOptions): Promise<ViciEventStream<ViciIkeRekey>> {
    return this.typed('ike-rekey', options, (m) => {
      const [name, sa] = sections(m)[0] ?? ['', {}];
      return { name, old: toIkeSa(name, sec(sa, 'old')), new: toIkeSa(name, sec(sa, 'new')) };
    });
  }

  subscribeChildRekey(options?: ViciSubscribeOptions): Promise<ViciEventStream<ViciChildRekey>> {
    return this.typed('child-rekey', options, (m) => {
      const [name, sa] = sections(m)[0] ?? ['', {}];
      const [childKey, child] = sections(sec(sa, 'child-sas'))[0] ?? ['', {}];
      return {
        ikeSa: toIkeSa(name, { ...sa, 'child-sas': {} }),
        old: toChildSa(childKey, sec(child, 'old')),
        new: toChildSa(childKey, sec(child, 'new')),
      };
    });
  }

  /** charon's debug log (every line at the levels strongswan.conf enables for the vici logger). */
  subscribeLog(options?: ViciSubscribeOptions): Promise<ViciEventStream<ViciLogLine>> {
    return this.typed('log', options, toLogLine);
  }

  /** Control-log lines of any initiate/terminate running on this connection. */
  subscribeControlLog(options?: ViciSubscribeOptions): Promise<ViciEventStream<ViciControlLogLine>> {
    return this.typed('control-log', options, toControlLogLine);
  }

  private async controlled(
    command: 'initiate' | 'terminate',
    input: ViciInput,
    options?: ViciCallOptions,
  ): Promise<{ log: ViciControlLogLine[] }> {
    const { response, events } = await this.session.streamedRequest(command, 'control-log', input, {
      ...options,
      checkSuccess: false,
    });
    const log = events.map(toControlLogLine);
    if (response['success'] === 'no') {
      // Not an argument problem as a rule: the peer did not answer, refused, or authentication failed.
      const errmsg = str(response, 'errmsg');
      throw new ViciCommandFailedError(command, errmsg, log, controlFailureKind(errmsg));
    }
    return { log };
  }

  private async typed<T>(
    event: string,
    options: ViciSubscribeOptions | undefined,
    map: (message: ViciSection) => T,
  ): Promise<ViciEventStream<T>> {
    return new ViciEventStream(await this.session.subscribe(event, options), map);
  }
}

/** A subscription whose events are mapped to typed values. Ends like the subscription under it. */
export class ViciEventStream<T> implements AsyncIterable<T> {
  constructor(
    readonly subscription: ViciSubscription,
    private readonly map: (message: ViciSection) => T,
  ) {}

  close(): Promise<void> {
    return this.subscription.close();
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    const inner = this.subscription[Symbol.asyncIterator]();
    return {
      next: async () => {
        const result: IteratorResult<ViciEvent> = await inner.next();
        return result.done
          ? { value: undefined, done: true }
          : { value: this.map(result.value.message), done: false };
      },
      return: async () => {
        await this.subscription.close();
        return { value: undefined, done: true };
      },
    };
  }
}

function controlFailureKind(errmsg: string | undefined): CoreErrorKind {
  if (errmsg === undefined) return 'unavailable';
  if (/\bno matching\b|\bnot found\b/i.test(errmsg)) return 'not-found';
  if (/\bmissing\b|\binvalid\b|\bunknown\b/i.test(errmsg)) return 'invalid-argument';
  return 'unavailable';
}

// --- views ---

export function toIkeSa(name: string, m: ViciSection): ViciIkeSa {
  return {
    name,
    uniqueId: num(m, 'uniqueid'),
    version: num(m, 'version'),
    state: str(m, 'state') ?? '',
    localHost: str(m, 'local-host'),
    localPort: num(m, 'local-port'),
    localId: str(m, 'local-id'),
    remoteHost: str(m, 'remote-host'),
    remotePort: num(m, 'remote-port'),
    remoteId: str(m, 'remote-id'),
    initiator: m['initiator'] === 'yes',
    natLocal: m['nat-local'] === 'yes',
    natRemote: m['nat-remote'] === 'yes',
    natAny: m['nat-any'] === 'yes',
    encrAlg: str(m, 'encr-alg'),
    establishedSeconds: num(m, 'established'),
    childSas: sections(sec(m, 'child-sas')).map(([key, child]) => toChildSa(key, child)),
    raw: m,
  };
}

export function toChildSa(key: string, m: ViciSection): ViciChildSa {
  return {
    name: str(m, 'name') ?? key,
    uniqueId: num(m, 'uniqueid'),
    reqid: num(m, 'reqid'),
    state: str(m, 'state') ?? '',
    mode: str(m, 'mode'),
    protocol: str(m, 'protocol'),
    encap: m['encap'] === 'yes',
    spiIn: str(m, 'spi-in'),
    spiOut: str(m, 'spi-out'),
    encrAlg: str(m, 'encr-alg'),
    bytesIn: num(m, 'bytes-in') ?? 0,
    bytesOut: num(m, 'bytes-out') ?? 0,
    packetsIn: num(m, 'packets-in') ?? 0,
    packetsOut: num(m, 'packets-out') ?? 0,
    installTimeSeconds: num(m, 'install-time'),
    localTs: list(m, 'local-ts'),
    remoteTs: list(m, 'remote-ts'),
    raw: m,
  };
}

export function toConn(name: string, m: ViciSection): ViciConn {
  return {
    name,
    localAddrs: list(m, 'local_addrs'),
    remoteAddrs: list(m, 'remote_addrs'),
    version: str(m, 'version'),
    children: sections(sec(m, 'children')).map(([child, c]) => ({
      name: child,
      mode: str(c, 'mode'),
      localTs: list(c, 'local-ts'),
      remoteTs: list(c, 'remote-ts'),
    })),
    raw: m,
  };
}

export function toLogLine(m: ViciSection): ViciLogLine {
  return { ...toControlLogLine(m), thread: num(m, 'thread') };
}

export function toControlLogLine(m: ViciSection): ViciControlLogLine {
  return {
    group: str(m, 'group') ?? '',
    level: num(m, 'level') ?? 0,
    ikeSaName: str(m, 'ikesa-name'),
    ikeSaUniqueId: num(m, 'ikesa-uniqueid'),
    message: str(m, 'msg') ?? '',
  };
}

function str(m: ViciSection, key: string): string | undefined {
  const v = m[key];
  return typeof v === 'string' ? v : undefined;
}

function num(m: ViciSection, key: string): number | undefined {
  const v = str(m, key);
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function list(m: ViciSection, key: string): string[] {
  const v = m[key];
  return Array.isArray(v) ? v : [];
}

function sec(m: ViciSection, key: string): ViciSection {
  const v = m[key];
  return typeof v === 'object' && !Array.isArray(v) ? v : {};
}

/** The sub-sections of `m`, in order (the top level of list-sa, ike-updown… events). */
function sections(m: ViciSection): Array<[string, ViciSection]> {
  return Object.entries(m).flatMap(([k, v]) =>
    typeof v === 'object' && !Array.isArray(v) ? [[k, v] as [string, ViciSection]] : [],
  );
}
