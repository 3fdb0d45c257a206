// The IPsec driver's port, made of @weft/ipsec's parts: the appliance's charon (run by CharonSupervisor)
// and a VICI session to it, reconnected whenever charon was restarted; and, through the core's netlink
// adapter, the local addresses charon needs on `lo` for NETMAP links.
import { findKernelError, WEFT_LOOPBACK_LABEL, type NetlinkAdapter } from '@weft/core';
import {
  ViciClient,
  ViciCommandFailedError,
  ViciSession,
  type CharonSupervisor,
  type DataplaneDetection,
  type ViciIkeSa,
  type ViciInput,
  type ViciSharedSecret,
} from '@weft/ipsec';
import type { CharonLogLine } from '@weft/ipsec';
import type { IpsecIkeSa, IpsecPort, ViciMessage } from './ipsec.driver.js';

/** What the port needs of the charon supervisor (a narrow view, so specs can stand in for it). */
export type CharonControl = Pick<CharonSupervisor, 'state' | 'viciSocket' | 'start' | 'stop'>;

/**
 * kernel-libipsec's TUN device. charon creates one per daemon, named ipsec0 in the appliance's own
 * namespace (LAB-NOTES: "created TUN device: ipsec0").
 */
export const LIBIPSEC_INTERFACE = 'ipsec0';

const POLL_MS = 500;

/** What the loopback addresses need of the core's netlink adapter. */
export type LoopbackNetlink = Pick<
  NetlinkAdapter,
  'getLinkByName' | 'listAddresses' | 'addAddress' | 'delAddress'
>;

/**
 * Host prefixes on `lo` that Weft owns, IPv4 ones labelled WEFT_LOOPBACK_LABEL so that `weft cleanup`
 * finds them without any state (IPv6 addresses carry no label).
 */
export class LoopbackAddresses {
  constructor(private readonly netlink: LoopbackNetlink) {}

  private async loIndex(): Promise<number> {
    const lo = await this.netlink.getLinkByName('lo');
    if (!lo) throw new Error('no loopback interface "lo" in this network namespace');
    return lo.index;
  }

  async list(): Promise<{ cidr: string; labelled: boolean }[]> {
    const ifindex = await this.loIndex();
    return (await this.netlink.listAddresses({ ifindex })).map((a) => ({
      cidr: `${a.address}/${a.prefixLength}`,
      labelled: a.label === WEFT_LOOPBACK_LABEL,
    }));
  }

  async add(cidr: string): Promise<void> {
    const ifindex = await this.loIndex();
    const v4 = !cidr.includes(':');
    try {
      await this.netlink.addAddress({ ifindex, cidr, ...(v4 ? { label: WEFT_LOOPBACK_LABEL } : {}) });
    } catch (err) {
      if (findKernelError(err, 'EEXIST')) return;
      throw new Error(`add address ${cidr} dev lo${v4 ? ` label ${WEFT_LOOPBACK_LABEL}` : ''}`, {
        cause: err,
      });
    }
  }

  async remove(cidr: string): Promise<void> {
    const ifindex = await this.loIndex();
    try {
      await this.netlink.delAddress({ ifindex, cidr });
    } catch (err) {
      if (findKernelError(err, 'EADDRNOTAVAIL', 'ENOENT', 'ESRCH')) return;
      throw new Error(`delete address ${cidr} dev lo`, { cause: err });
    }
  }

  /** `weft cleanup`: every labelled address, whoever's state remembers it. */
  async removeLabelled(): Promise<string[]> {
    const labelled = (await this.list()).filter((a) => a.labelled).map((a) => a.cidr);
    for (const cidr of labelled) await this.remove(cidr);
    return labelled;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}

function proposalOf(sa: ViciIkeSa): string | undefined {
  const r = sa.raw;
  const pick = (k: string): string | undefined => (typeof r[k] === 'string' ? r[k] : undefined);
  const encr = pick('encr-alg');
  if (!encr) return undefined;
  const size = pick('encr-keysize');
  return [size ? `${encr}-${size}` : encr, pick('integ-alg'), pick('prf-alg'), pick('dh-group')]
    .filter(Boolean)
    .join('/');
}

export class ViciIpsecPort implements IpsecPort {
  private session: ViciSession | undefined;

  constructor(
    private readonly charon: CharonControl,
    /** The data plane detectDataplane chose at boot, and why (the driver logs it at start). */
    private readonly detection: DataplaneDetection,
    private readonly loopback: LoopbackAddresses,
  ) {}

  loopbackAddresses(): Promise<{ cidr: string; labelled: boolean }[]> {
    return this.loopback.list();
  }

  addLoopbackAddress(cidr: string): Promise<void> {
    return this.loopback.add(cidr);
  }

  removeLoopbackAddress(cidr: string): Promise<void> {
    return this.loopback.remove(cidr);
  }

  get dataplane(): 'kernel' | 'libipsec' {
    return this.detection.kind;
  }
  get reason(): string {
    return this.detection.reason;
  }
  get interfaceName(): string | undefined {
    return this.detection.kind === 'libipsec' ? LIBIPSEC_INTERFACE : undefined;
  }

  async start(): Promise<void> {
    await this.charon.start();
    await this.client();
  }

  async stop(): Promise<void> {
    this.session?.close();
    this.session = undefined;
    await this.charon.stop();
  }

  /**
   * charon answers (ours, or one adopted from an earlier run). Not while it starts or waits for a
   * restart: the driver then plans "start charon" and loads every connection into the new one.
   */
  isRunning(): boolean {
    const state = this.charon.state;
    return state === 'running' || state === 'adopted';
  }

  /** A client on a live session; a restarted charon gets a new connection. */
  private async client(): Promise<ViciClient> {
    if (!this.session || this.session.isClosed) {
      this.session = await ViciSession.connect(this.charon.viciSocket, { timeoutMs: 10_000 });
    }
    return new ViciClient(this.session);
  }

  async loadShared(message: ViciMessage): Promise<void> {
    await (await this.client()).loadShared(message as unknown as ViciSharedSecret);
  }

  async loadCert(cert: { flag: 'CA' | 'NONE'; data: string }): Promise<void> {
    await (await this.client()).loadCert({ type: 'X509', flag: cert.flag, data: cert.data });
  }

  async loadKey(key: { type: 'rsa' | 'ecdsa' | 'any'; data: string }): Promise<void> {
    await (await this.client()).loadKey({ type: key.type, data: key.data });
  }

  async unloadShared(id: string): Promise<void> {
    await (await this.client()).unloadShared(id);
  }

  async loadConn(message: ViciMessage): Promise<void> {
    const client = await this.client();
    for (const [name, config] of Object.entries(message)) await client.loadConn(name, config as ViciInput);
  }

  async unloadConn(name: string): Promise<void> {
    try {
      await (await this.client()).unloadConn(name);
    } catch (err) {
      // Already gone (charon restarted without it): the goal is reached.
      if (!(err instanceof ViciCommandFailedError && err.kind === 'not-found')) throw err;
    }
  }

  async connections(): Promise<string[]> {
    return (await this.client()).getConns();
  }

  async listSas(): Promise<IpsecIkeSa[]> {
    const sas = await (await this.client()).listSas();
    return sas.map((sa) => {
      const out: IpsecIkeSa = {
        connection: sa.name,
        uniqueId: String(sa.uniqueId ?? ''),
        state: sa.state,
        version: sa.version ?? 2,
        encap: sa.natAny || sa.childSas.some((c) => c.encap),
        children: sa.childSas.map((c) => ({
          name: c.name,
          state: c.state,
          bytesIn: c.bytesIn,
          bytesOut: c.bytesOut,
          ...(c.spiIn ? { spiIn: c.spiIn } : {}),
          ...(c.spiOut ? { spiOut: c.spiOut } : {}),
          ...(c.encrAlg ? { proposal: c.encrAlg } : {}),
        })),
      };
      if (sa.remoteHost !== undefined) out.remoteHost = sa.remoteHost;
      if (sa.remotePort !== undefined) out.remotePort = sa.remotePort;
      if (sa.establishedSeconds !== undefined) out.establishedSeconds = sa.establishedSeconds;
      const proposal = proposalOf(sa);
      if (proposal) out.proposal = proposal;
      return out;
    });
  }

  /** charon's `log` events, resubscribed after every restart, until `signal` aborts. */
  async *logs(signal: AbortSignal): AsyncIterable<CharonLogLine> {
    while (!signal.aborted) {
      if (!this.isRunning()) {
        await sleep(POLL_MS, signal);
        continue;
      }
      let stream: Awaited<ReturnType<ViciClient['subscribeLog']>> | undefined;
      try {
        // A session of its own: a long subscription must not wait behind commands, nor they behind it.
        const session = await ViciSession.connect(this.charon.viciSocket, { timeoutMs: 10_000 });
        stream = await new ViciClient(session).subscribeLog({ signal });
        for await (const line of stream) {
          const out: CharonLogLine = { msg: line.message, group: line.group };
          if (line.ikeSaName !== undefined) out.ikeName = line.ikeSaName;
          if (line.ikeSaUniqueId !== undefined) out.ikeId = String(line.ikeSaUniqueId);
          yield out;
        }
        session.close();
      } catch {
        // charon went away or is not ready yet: try again shortly.
      } finally {
        await stream?.close().catch(() => undefined);
      }
      await sleep(POLL_MS, signal);
    }
  }
}
