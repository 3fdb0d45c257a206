// IPsec links as a reconciler driver: the appliance's own charon, started when the first IPsec link
// appears and stopped with the last; one connection and one shared key per link, loaded over VICI
// (never files); status from list-sas; causes of failure read from charon's log by the diagnoser.
// Certificate links also load, before their connection, the remote side's CA, this appliance's CA,
// certificate and private key (IpsecCredentials keeps them in module state) — or, for an imported
// certificate, the CA it chains to, its intermediates, itself and its key, all from the document.
import { createHash, randomBytes } from 'node:crypto';
import {
  assertConnSpec,
  importedCredentials,
  IpsecDiagnoser,
  keepsMoreFacts,
  loadConnMessage,
  loadSharedMessage,
  sharedKeyId,
  type CharonKeyType,
  type CharonLogLine,
  type ImportedCredentials,
  type IpsecConnSpec,
  type IpsecDiagnosis,
} from '@weft/ipsec';
import { WEFT_LOOPBACK_LABEL } from '@weft/core';
import type { PinoLogger } from 'nestjs-pino';
import { ChangeFeed } from '../reconciler/change-feed.js';
import type { FieldProblem } from '../common/errors.js';
import type { ModuleState } from '../desired-state/desired-state.store.js';
import type { NormalizedDocument } from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';
import {
  connSpecOf,
  hasImportedCertificate,
  isIpsec,
  loopbackAddressOf,
  verifyIpsecLinks,
  type IpsecLink,
} from './ipsec.conn-spec.js';
import type { IpsecCredentials } from './ipsec.credentials.js';

// --- what the driver needs from modules/ipsec (wired in drivers.ts) -------------------------------
export interface IpsecChildSa {
  name: string;
  state: string;
  bytesIn: number;
  bytesOut: number;
  spiIn?: string;
  spiOut?: string;
  proposal?: string;
}
export interface IpsecIkeSa {
  connection: string;
  uniqueId: string;
  state: string;
  version: number;
  remoteHost?: string;
  remotePort?: number;
  establishedSeconds?: number;
  /** UDP encapsulation in use (NAT-T or forced). */
  encap: boolean;
  proposal?: string;
  children: IpsecChildSa[];
}
/** A VICI message tree, as @weft/ipsec builds them. */
export type ViciMessage = ReturnType<typeof loadConnMessage>;
export interface IpsecPort {
  readonly dataplane: 'kernel' | 'libipsec';
  readonly reason: string;
  /** The TUN device kernel-libipsec forwards through; undefined on the kernel ESP path. */
  readonly interfaceName: string | undefined;
  /** Starts charon (or adopts a running one) and resolves once VICI answers. */
  start(): Promise<void>;
  /** Stops charon by PID. */
  stop(): Promise<void>;
  isRunning(): boolean;
  loadShared(message: ViciMessage): Promise<void>;
  /** load-cert: an X.509 certificate (PEM); `CA` makes it a trust anchor. */
  loadCert(cert: { flag: 'CA' | 'NONE'; data: string }): Promise<void>;
  /** load-key: a private key (PEM), over VICI only. */
  loadKey(key: { type: CharonKeyType; data: string }): Promise<void>;
  unloadShared(id: string): Promise<void>;
  loadConn(message: ViciMessage): Promise<void>;
  unloadConn(name: string): Promise<void>;
  /** Names of the connections charon holds. */
  connections(): Promise<string[]>;
  listSas(): Promise<IpsecIkeSa[]>;
  /** charon's log lines for diagnosis, while it runs (across restarts); ends when `signal` aborts. */
  logs(signal: AbortSignal): AsyncIterable<CharonLogLine>;
  /**
   * The addresses on `lo`, each with whether it carries Weft's label (`lo:weft`, core's owned.ts).
   * Only IPv4 addresses have labels: an IPv6 one is the driver's only if it remembers adding it.
   */
  loopbackAddresses(): Promise<{ cidr: string; labelled: boolean }[]>;
  /** Puts a host prefix on `lo`, IPv4 labelled `lo:weft`; one already there is fine (`ip addr replace`). */
  addLoopbackAddress(cidr: string): Promise<void>;
  /** Takes a host prefix off `lo`; one already gone is fine. */
  removeLoopbackAddress(cidr: string): Promise<void>;
}

type Payload =
  | { kind: 'start' }
  | { kind: 'stop' }
  | {
      kind: 'load';
      name: string;
      /** Without our certificate: it is added at apply time, from module state. */
      spec: IpsecConnSpec;
      shared?: ViciMessage;
      /** For certificate links: the identity our certificate must name. */
      certifyFor?: string;
      /** For an imported certificate: its chain and key (secret: for load-key only, never logged). */
      imported?: ImportedCredentials;
      applianceName: string;
      hash: string;
      replace: boolean;
    }
  | { kind: 'unload'; name: string }
  | { kind: 'address'; op: 'add' | 'remove'; cidr: string };

/** How long a diagnosis stays on a link without a new failure once the SA is up again. */
const DIAGNOSIS_TTL_MS = 10 * 60_000;
/**
 * How long a cause told with more facts (both proposal lists) stands against vaguer findings of the
 * same cause (keepsMoreFacts). Bounded, so lists the peer has changed since are not shown for ever.
 */
const MORE_FACTS_KEPT_MS = 60_000;

export class IpsecDriver implements ModuleDriver {
  readonly name = 'ipsec';
  readonly linkTypes: readonly string[] = ['ipsec'];
  private readonly feed = new ChangeFeed();
  private readonly diagnoser = new IpsecDiagnoser();
  /**
   * Latest cause per link name: `at` when it was last seen failing, `told` when the diagnosis shown was
   * itself found (older when a vaguer finding of the same cause only confirmed it).
   */
  private readonly causes = new Map<string, { diagnosis: IpsecDiagnosis; at: number; told: number }>();
  /** Links by the remote address they expect, to place findings charon logged before naming the SA. */
  private byRemote = new Map<string, string>();
  private following = false;
  /** Why this appliance has no CA (pki failed), for verify to say. */
  private caProblem: string | undefined;

  constructor(
    private readonly ipsec: IpsecPort,
    private readonly state: ModuleState,
    private readonly log: PinoLogger,
    private readonly now: () => Date = () => new Date(),
    private readonly credentials?: IpsecCredentials,
    /** The appliance's name in the active document, for the CA's subject. */
    private readonly applianceName: () => string | undefined = () => undefined,
  ) {}

  /** This appliance's CA certificate (PEM, public): the remote side of a certificate link trusts it. */
  get caCertificate(): string | undefined {
    return this.credentials?.caCertificate;
  }

  async start(): Promise<void> {
    this.log.info(
      { dataplane: this.ipsec.dataplane, reason: this.ipsec.reason },
      'IPsec data plane selected',
    );
    await this.ensureCa();
    // charon from an earlier run (our state says it ran): take it over now, so status works at once.
    if (this.state.get('running') === '1') await this.ensureCharon();
  }

  /**
   * The appliance is stopping: so is its charon. Tunnels are down until the appliance is back (and
   * loads them again); a charon left behind would outlive the namespaces of a lab.
   */
  async stop(): Promise<void> {
    this.feed.close();
    if (this.ipsec.isRunning()) await this.ipsec.stop();
  }

  detail(): string {
    return this.ipsec.dataplane === 'kernel'
      ? `charon, kernel ESP: ${this.ipsec.reason}`
      : `charon with kernel-libipsec (${this.ipsec.interfaceName ?? 'ipsec0'}): ${this.ipsec.reason}`;
  }

  /** A change behind the document's back: charon restarted, an SA went up or down. */
  notifyChange(what: string): void {
    this.feed.notify(what);
  }

  changes(): AsyncIterable<string> {
    return this.feed.changes();
  }

  /** The interface an IPsec link's traffic is routed into (kernel-libipsec's TUN), for the core. */
  interfaceOf(): string | undefined {
    return this.ipsec.interfaceName;
  }

  verify(doc: NormalizedDocument): FieldProblem[] {
    const problems = verifyIpsecLinks(doc, this.now());
    if (!this.credentials?.caCertificate) {
      doc.links.forEach((link, i) => {
        // An imported certificate does without the appliance's CA.
        if (!isIpsec(link) || link.ipsec?.auth !== 'certificate' || hasImportedCertificate(link)) return;
        problems.push({
          pointer: `/links/${i}/ipsec/auth`,
          message: `this appliance has no IPsec certificate authority${this.caProblem ? ` (${this.caProblem})` : ''}: install strongSwan's pki tool (package strongswan-pki) and restart the appliance, or use auth "psk"`,
        });
      });
    }
    return problems;
  }

  private links(doc: NormalizedDocument): IpsecLink[] {
    return doc.links.filter(isIpsec).filter((l) => l.enabled !== false);
  }

  async plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    const links = this.links(doc);
    this.byRemote = new Map(
      links.flatMap((l) => {
        const host = connSpecOf(doc, l).remoteAddrs[0];
        return host && host !== '%any' ? [[host, l.name] as const] : [];
      }),
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
    const running = this.ipsec.isRunning();
    const addresses = await this.planAddresses(links);
    const addressStep = (a: { op: 'add' | 'remove'; cidr: string; why: string }): void =>
      step(
        a.op === 'add' ? 'create' : 'delete',
        `address ${a.cidr} dev lo`,
        `${a.op} ${a.cidr} on lo (${WEFT_LOOPBACK_LABEL}): ${a.why}`,
        { kind: 'address', op: a.op, cidr: a.cidr },
      );
    if (links.length === 0) {
      if (running) step('delete', 'charon', 'stop charon: no IPsec link left', { kind: 'stop' });
      for (const name of this.loadedNames())
        step('delete', `connection ${name}`, `forget connection ${name}`, { kind: 'unload', name });
      addresses.filter((a) => a.op === 'remove').forEach(addressStep);
      return steps;
    }
    if (!running) step('create', 'charon', `start charon (${this.ipsec.dataplane})`, { kind: 'start' });
    // Before the connections: a CHILD_SA installed without its local address fails its route.
    addresses.filter((a) => a.op === 'add').forEach(addressStep);
    const observed = running ? new Set(await this.ipsec.connections()) : new Set<string>();
    const desired = new Set<string>();
    for (const link of links) {
      desired.add(link.name);
      const spec = connSpecOf(doc, link);
      const imported = hasImportedCertificate(link)
        ? importedCredentials(
            link.ipsec?.local_certificate ?? '',
            link.ipsec?.local_private_key ?? '',
            spec.version,
          )
        : undefined;
      const certifyFor = spec.auth === 'pubkey' && !imported ? spec.localId : undefined;
      const psk = link.ipsec?.preshared_key;
      const shared = psk !== undefined && spec.auth === 'psk' ? loadSharedMessage(spec, psk) : undefined;
      // The hash covers the key too (never stored itself), so a changed PSK reloads the connection; for
      // a certificate link it covers the remote CA (in the spec) and the identity our certificate names;
      // for an imported one the certificate, local CA (both in the spec), intermediates and key.
      let hashed: unknown;
      if (spec.auth === 'pubkey') {
        assertConnSpec(spec);
        hashed = imported
          ? [spec, imported.intermediates, createHash('sha256').update(imported.key.data).digest('hex')]
          : [spec, certifyFor ?? null, this.credentials?.caCertificate ?? null];
      } else hashed = [loadConnMessage(spec), shared ?? null];
      const hash = createHash('sha256').update(JSON.stringify(hashed)).digest('hex');
      const loaded = this.state.get(`conn:${link.name}`);
      if (!observed.has(link.name) || loaded !== hash) {
        const replace = observed.has(link.name) && loaded !== undefined && loaded !== hash;
        step(
          replace ? 'update' : 'create',
          `connection ${link.name}`,
          `${replace ? 'reload' : 'load'} IPsec connection ${link.name} (${spec.version}, ${spec.startAction === 'initiate' ? 'initiates' : 'waits'})`,
          {
            kind: 'load',
            name: link.name,
            spec,
            ...(shared ? { shared } : {}),
            ...(certifyFor ? { certifyFor } : {}),
            ...(imported ? { imported } : {}),
            applianceName: doc.appliance.name,
            hash,
            replace,
          },
        );
      }
    }
    for (const name of new Set([...observed, ...this.loadedNames()])) {
      if (!desired.has(name))
        step('delete', `connection ${name}`, `unload IPsec connection ${name}`, { kind: 'unload', name });
    }
    // After the connections that used them are gone.
    addresses.filter((a) => a.op === 'remove').forEach(addressStep);
    return steps;
  }

  /** Addresses this driver put on `lo`: remembered in module state (IPv6 ones can only be known so). */
  private rememberedAddresses(): string[] {
    return this.state
      .entries()
      .filter(([k]) => k.startsWith('addr:'))
      .map(([k]) => k.slice(5));
  }

  /**
   * The local addresses charon needs for links with netmap.local (one per mapped net, however many
   * links share it) against those on `lo` that are ours: labelled `lo:weft`, or remembered. An address
   * someone else put there is used as it is and never removed.
   */
  private async planAddresses(
    links: IpsecLink[],
  ): Promise<{ op: 'add' | 'remove'; cidr: string; why: string }[]> {
    const wanted = new Map<string, string[]>();
    for (const link of links) {
      const cidr = loopbackAddressOf(link);
      if (cidr) wanted.set(cidr, [...(wanted.get(cidr) ?? []), link.name]);
    }
    const remembered = this.rememberedAddresses();
    // Read every time (one dump): a crash between the kernel change and the state write leaves a
    // labelled address the state does not know, and someone may remove ours behind our back.
    const present = await this.ipsec.loopbackAddresses();
    const there = new Set(present.map((a) => a.cidr));
    const ours = new Set([...present.filter((a) => a.labelled).map((a) => a.cidr), ...remembered]);
    const out: { op: 'add' | 'remove'; cidr: string; why: string }[] = [];
    for (const [cidr, names] of wanted) {
      if (!there.has(cidr)) {
        out.push({
          op: 'add',
          cidr,
          why: `charon's local address inside netmap.local of ${names.map((n) => `"${n}"`).join(', ')}`,
        });
      }
    }
    for (const cidr of ours) {
      if (!wanted.has(cidr)) out.push({ op: 'remove', cidr, why: 'no IPsec link maps to it any more' });
    }
    return out;
  }

  private loadedNames(): string[] {
    return this.state
      .entries()
      .filter(([k]) => k.startsWith('conn:'))
      .map(([k]) => k.slice(5));
  }

  async apply(steps: DriverStep[]): Promise<void> {
    // What charon now holds, written in one transaction at the end (also after a failed step).
    const loaded: Record<string, string> = {};
    const unloaded: string[] = [];
    try {
      await this.applySteps(steps, loaded, unloaded);
    } finally {
      this.state.update(loaded, unloaded);
    }
  }

  private async applySteps(
    steps: DriverStep[],
    loaded: Record<string, string>,
    unloaded: string[],
  ): Promise<void> {
    for (const s of steps) {
      const p = s.payload as Payload;
      try {
        switch (p.kind) {
          case 'start':
            await this.ensureCharon();
            break;
          case 'stop':
            await this.ipsec.stop();
            this.state.delete('running');
            break;
          case 'load':
            // A changed connection is unloaded first, so its SAs go and the new one starts clean.
            if (p.replace) await this.ipsec.unloadConn(p.name);
            if (p.shared) await this.ipsec.loadShared(p.shared);
            await this.ipsec.loadConn(loadConnMessage(await this.withCertificate(p)));
            loaded[`conn:${p.name}`] = p.hash;
            break;
          case 'address':
            if (p.op === 'add') {
              await this.ipsec.addLoopbackAddress(p.cidr);
              loaded[`addr:${p.cidr}`] = '1';
            } else {
              await this.ipsec.removeLoopbackAddress(p.cidr);
              unloaded.push(`addr:${p.cidr}`);
              delete loaded[`addr:${p.cidr}`];
            }
            break;
          case 'unload':
            if (this.ipsec.isRunning()) {
              await this.ipsec.unloadConn(p.name);
              await this.ipsec.unloadShared(sharedKeyId(p.name)).catch(() => undefined);
            }
            unloaded.push(`conn:${p.name}`);
            delete loaded[`conn:${p.name}`];
            this.causes.delete(p.name);
            break;
        }
      } catch (err) {
        throw new StepFailedError(s.action, err);
      }
    }
  }

  /**
   * The CA is made on first start, before any certificate link: the other side needs its certificate
   * (GET /appliance) to create its link. A random suffix keeps two appliances' CA names apart (charon
   * finds issuers by name) even when they share a name or have none yet.
   */
  private async ensureCa(): Promise<void> {
    if (!this.credentials || this.credentials.caCertificate) return;
    const name = `${this.applianceName() ?? 'appliance'} ${randomBytes(4).toString('hex')}`;
    try {
      await this.credentials.ensureCa(name);
      this.caProblem = undefined;
      this.log.info('made this appliance’s IPsec CA (for certificate links)');
    } catch (err) {
      this.caProblem = err instanceof Error ? err.message : String(err);
      this.log.warn(
        { err: this.caProblem },
        'could not make the IPsec CA: certificate links are unavailable',
      );
    }
  }

  private async ensureCharon(): Promise<void> {
    await this.ipsec.start();
    this.state.set('running', '1');
    if (!this.following) {
      this.following = true;
      void this.followLogs();
    }
  }

  /**
   * A certificate link's spec with our certificate, after charon got everything the authentication
   * needs: the remote CA and ours as trust anchors, our certificate and our private key (over VICI).
   * Loading them again is harmless, and needed after a charon restart.
   */
  private async withCertificate(p: Extract<Payload, { kind: 'load' }>): Promise<IpsecConnSpec> {
    if (p.spec.auth !== 'pubkey') return p.spec;
    if (p.imported) return this.withImported(p.name, p.spec, p.imported);
    if (!this.credentials || !p.certifyFor || !p.spec.remoteCa) {
      throw new Error(`IPsec connection ${p.name}: certificate authentication without a CA or identity`);
    }
    const own = await this.credentials.ensureCertificate(p.certifyFor, p.applianceName);
    await this.ipsec.loadCert({ flag: 'CA', data: p.spec.remoteCa });
    await this.ipsec.loadCert({ flag: 'CA', data: own.caCert });
    await this.ipsec.loadCert({ flag: 'NONE', data: own.cert });
    await this.ipsec.loadKey({ type: 'ecdsa', data: own.key });
    return { ...p.spec, localCert: own.cert };
  }

  /**
   * An imported certificate: the remote CA and the CA our chain ends at as trust anchors, the
   * intermediates (issuers first) as plain certificates charon finds the chain in and sends along,
   * the certificate itself, its key. The spec already names the certificate and local CA.
   */
  private async withImported(
    name: string,
    spec: IpsecConnSpec,
    imported: ImportedCredentials,
  ): Promise<IpsecConnSpec> {
    if (!spec.remoteCa || !spec.localCert) {
      throw new Error(`IPsec connection ${name}: an imported certificate without remote CA or certificate`);
    }
    await this.ipsec.loadCert({ flag: 'CA', data: spec.remoteCa });
    if (spec.localCa) await this.ipsec.loadCert({ flag: 'CA', data: spec.localCa });
    for (const cert of [...imported.intermediates].reverse()) {
      await this.ipsec.loadCert({ flag: 'NONE', data: cert });
    }
    await this.ipsec.loadCert({ flag: 'NONE', data: imported.certificate });
    try {
      await this.ipsec.loadKey(imported.key);
    } catch (err) {
      // charon's answer names the key type at most, never the key; say which link it was for.
      throw new Error(`IPsec connection ${name}: charon refused the private key of local_certificate`, {
        cause: err,
      });
    }
    return spec;
  }

  /** Reads charon's log into the diagnoser; a finding becomes the link's cause and a state change. */
  private async followLogs(): Promise<void> {
    try {
      for await (const line of this.ipsec.logs(this.feed.signal)) {
        if (/^CHILD_SA \S+ established/.test(line.msg) && line.ikeName) {
          this.causes.delete(line.ikeName);
          this.notifyChange(`IPsec ${line.ikeName} established`);
        }
        const finding = this.diagnoser.observe(line);
        if (!finding) continue;
        const link = finding.connection ?? (finding.remote ? this.byRemote.get(finding.remote) : undefined);
        if (!link) {
          this.log.warn({ remote: finding.remote, cause: finding.diagnosis.code }, finding.diagnosis.message);
          continue;
        }
        const previous = this.causes.get(link);
        const now = this.now().getTime();
        const keep =
          previous !== undefined &&
          now - previous.told < MORE_FACTS_KEPT_MS &&
          keepsMoreFacts(previous.diagnosis, finding.diagnosis);
        this.causes.set(
          link,
          keep ? { ...previous, at: now } : { diagnosis: finding.diagnosis, at: now, told: now },
        );
        if (previous?.diagnosis.code !== finding.diagnosis.code) {
          this.log.warn({ link, cause: finding.diagnosis.code }, finding.diagnosis.message);
          this.notifyChange(`IPsec ${link}: ${finding.diagnosis.code}`);
        }
      }
    } catch (err) {
      if (!this.feed.signal.aborted) this.log.error({ err: String(err) }, 'stopped reading charon’s log');
    } finally {
      this.following = false;
    }
  }

  async linkStatus(doc: NormalizedDocument): Promise<LinkStatus[]> {
    const links = doc.links.filter(isIpsec);
    if (links.length === 0) return [];
    const sas = this.ipsec.isRunning() ? await this.ipsec.listSas().catch(() => []) : [];
    const now = this.now().getTime();
    return links.map((link): LinkStatus => {
      const base = { name: link.name, type: 'ipsec' as const, interface: this.ipsec.interfaceName ?? null };
      if (link.enabled === false)
        return { ...base, state: 'disabled', rx_bytes: 0, tx_bytes: 0, diagnosis: null, ipsec: null };
      const mine = sas.filter((sa) => sa.connection === link.name);
      const sa = mine.find((x) => x.state === 'ESTABLISHED') ?? mine[0];
      const child = sa?.children.find((c) => c.state === 'INSTALLED') ?? sa?.children[0];
      const cause = this.causes.get(link.name);
      const up = child?.state === 'INSTALLED';
      const diagnosis =
        cause && (!up || now - cause.at < 5_000) && now - cause.at < DIAGNOSIS_TTL_MS
          ? cause.diagnosis
          : undefined;
      const state: LinkStatus['state'] = up ? 'up' : diagnosis ? 'down' : 'connecting';
      const established =
        sa?.establishedSeconds !== undefined
          ? new Date(now - sa.establishedSeconds * 1000).toISOString()
          : null;
      return {
        ...base,
        state,
        established_at: up ? established : null,
        rx_bytes: child?.bytesIn ?? 0,
        tx_bytes: child?.bytesOut ?? 0,
        endpoint: sa?.remoteHost ? `${sa.remoteHost}:${sa.remotePort ?? 500}` : null,
        diagnosis: diagnosis
          ? { code: diagnosis.code, message: diagnosis.message, fix: diagnosis.fix }
          : up
            ? null
            : sa
              ? {
                  code: 'negotiating',
                  message: `IKE_SA ${sa.state}${child ? `, CHILD_SA ${child.state}` : ', no CHILD_SA yet'}`,
                  fix: 'wait a few seconds; if it stays, see the log',
                }
              : {
                  code: 'no-sa',
                  message: 'no IKE_SA with the peer yet',
                  fix: 'the side with start_action "initiate" starts it; check that one side has remote_endpoint',
                },
        ipsec: sa
          ? {
              ike_state: sa.state,
              ike_version: sa.version,
              ike_proposal: sa.proposal ?? null,
              child_state: child?.state ?? null,
              esp_proposal: child?.proposal ?? null,
              spi_in: child?.spiIn ?? null,
              spi_out: child?.spiOut ?? null,
              nat_t: sa.encap,
            }
          : null,
      };
    });
  }

  async cleanup(): Promise<void> {
    if (this.ipsec.isRunning()) await this.ipsec.stop();
    const labelled = (await this.ipsec.loopbackAddresses()).filter((a) => a.labelled).map((a) => a.cidr);
    for (const cidr of new Set([...labelled, ...this.rememberedAddresses()])) {
      await this.ipsec.removeLoopbackAddress(cidr);
    }
    for (const [k] of this.state.entries())
      if (k.startsWith('conn:') || k.startsWith('addr:') || k === 'running') this.state.delete(k);
  }
}
