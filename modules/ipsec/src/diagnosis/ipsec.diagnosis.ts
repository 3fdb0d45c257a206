// The tunnel doctor, IPsec part: reads charon's log lines (VICI `log` and `control-log` events) and
// names why an IKE or CHILD SA failed, with a fix an operator can act on. Lines are grouped by the IKE
// SA they belong to (`ikesa-uniqueid`): a responder logs a proposal failure before it knows which
// connection the peer wanted, so the context (the peer's address, both proposal lists) is collected per
// SA and the cause is reported with it. Pure: no I/O, no clock — the caller passes times in.

export type IpsecCauseCode =
  'no-proposal-chosen' | 'authentication-failed' | 'ts-unacceptable' | 'peer-unreachable' | 'dpd-dead';

export interface IpsecDiagnosis {
  code: IpsecCauseCode;
  /** What happened, in plain language, with the facts the log gave (lists, addresses, counts). */
  message: string;
  /** What to change. */
  fix: string;
  /** For `no-proposal-chosen`: what each side offered, as charon prints them. */
  proposals?: { local?: string[]; remote?: string[] };
}

/** One log line as VICI delivers it (`log` / `control-log` events). */
export interface CharonLogLine {
  msg: string;
  /** `group` (IKE, CFG, …). */
  group?: string;
  /** `ikesa-name`: the connection, once charon has picked it. */
  ikeName?: string;
  /** `ikesa-uniqueid`. */
  ikeId?: string;
}

/** A diagnosis found for one IKE SA: by connection name when charon knew it, else by peer address. */
export interface IpsecFinding {
  ikeId?: string;
  connection?: string;
  /** The peer's IP address, when the log named it. */
  remote?: string;
  diagnosis: IpsecDiagnosis;
}

interface SaContext {
  connection?: string;
  remote?: string;
  received?: string[];
  configured?: string[];
  lastRetransmitId?: number;
  dpdSent?: boolean;
  retransmits?: number;
}

const MAX_CONTEXTS = 1024;

function list(text: string): string[] {
  return text
    .split(/,\s*/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * How many facts from the log a diagnosis carries beyond its code: for `no-proposal-chosen`, each
 * proposal list (ours, the peer's) it could name.
 */
export function factsOf(d: IpsecDiagnosis): number {
  return (d.proposals?.local ? 1 : 0) + (d.proposals?.remote ? 1 : 0);
}

/**
 * Whether `kept` should stay a link's cause when `next` is found: the same cause with the same fix
 * (IKE proposals are not ESP proposals), told with more facts. One failure is logged more than once,
 * and not alike: when both sides initiate, the responder's SA names both proposal lists while the
 * initiator's, a moment later, only knows that the peer sent NO_PROPOSAL_CHOSEN. The later, vaguer
 * finding must not replace the one an operator can act on. Another cause, or the same told with as
 * many facts (lists that changed), replaces it.
 */
export function keepsMoreFacts(kept: IpsecDiagnosis, next: IpsecDiagnosis): boolean {
  return kept.code === next.code && kept.fix === next.fix && factsOf(kept) > factsOf(next);
}

/** Feeds lines, returns findings. Keeps a bounded context per IKE SA. */
export class IpsecDiagnoser {
  private readonly contexts = new Map<string, SaContext>();

  /** Returns a finding when `line` completes one; undefined for the many lines that do not. */
  observe(line: CharonLogLine): IpsecFinding | undefined {
    const key = line.ikeId ?? `name:${line.ikeName ?? ''}`;
    let ctx = this.contexts.get(key);
    if (!ctx) {
      ctx = {};
      this.contexts.set(key, ctx);
      if (this.contexts.size > MAX_CONTEXTS) {
        const oldest = this.contexts.keys().next().value;
        if (oldest !== undefined) this.contexts.delete(oldest);
      }
    }
    if (line.ikeName && line.ikeName !== '(unnamed)') ctx.connection = line.ikeName;
    const msg = line.msg.trim();
    const diagnosis = this.classify(msg, ctx);
    if (!diagnosis) return undefined;
    const finding: IpsecFinding = { diagnosis };
    if (line.ikeId !== undefined) finding.ikeId = line.ikeId;
    if (ctx.connection !== undefined) finding.connection = ctx.connection;
    if (ctx.remote !== undefined) finding.remote = ctx.remote;
    return finding;
  }

  /** Forget an SA (charon reported it gone). */
  forget(ikeId: string): void {
    this.contexts.delete(ikeId);
  }

  private classify(msg: string, ctx: SaContext): IpsecDiagnosis | undefined {
    let m: RegExpExecArray | null;
    // --- context -------------------------------------------------------------------------------
    if ((m = /^received proposals: (.+)$/.exec(msg))) {
      ctx.received = list(m[1] ?? '');
      return undefined;
    }
    if ((m = /^configured proposals: (.+)$/.exec(msg))) {
      ctx.configured = list(m[1] ?? '');
      return undefined;
    }
    if ((m = /^looking for (?:IKEv[12] )?configs? for (\S+)\.\.\.(\S+)$/.exec(msg))) {
      ctx.remote = m[2];
      return undefined;
    }
    if ((m = /^(\S+) is initiating an? (?:IKE_SA|Main Mode IKE_SA|Aggressive Mode IKE_SA)$/.exec(msg))) {
      ctx.remote = m[1];
      return undefined;
    }
    if ((m = /^initiating (?:IKE_SA|Main Mode IKE_SA|Aggressive Mode IKE_SA) \S+ to (\S+)$/.exec(msg))) {
      ctx.remote = m[1];
      return undefined;
    }
    if ((m = /^retransmit (\d+) of request with message ID (\d+)$/.exec(msg))) {
      ctx.retransmits = Number(m[1]);
      ctx.lastRetransmitId = Number(m[2]);
      return undefined;
    }
    if (/^sending DPD request$/.test(msg)) {
      ctx.dpdSent = true;
      return undefined;
    }
    if (/^(IKE_SA \S+ established|CHILD_SA \S+ established)/.test(msg)) {
      ctx.dpdSent = false;
      ctx.lastRetransmitId = undefined;
      return undefined;
    }

    // --- causes --------------------------------------------------------------------------------
    if (
      /^received proposals unacceptable$/.test(msg) ||
      /^no acceptable proposal found$/.test(msg) ||
      /^received NO_PROPOSAL_CHOSEN notify/.test(msg)
    ) {
      const child = /notify, no CHILD_SA built/.test(msg) || ctx.received?.some((p) => p.startsWith('ESP:'));
      const what = child ? 'ESP (CHILD_SA)' : 'IKE';
      // "received proposals" are the peer's, "configured proposals" ours — on either side of a failure.
      const local = ctx.configured;
      const remote = ctx.received;
      const lists = [
        local ? `this side offers ${local.join(', ')}` : undefined,
        remote ? `the remote side offers ${remote.join(', ')}` : undefined,
      ].filter(Boolean);
      return {
        code: 'no-proposal-chosen',
        message:
          `no proposal chosen: the two sides share no ${what} algorithms` +
          (lists.length > 0
            ? ` (${lists.join('; ')})`
            : ' (the remote side rejected all of ours; its log lists both)'),
        fix: `give both sides one common ${child ? 'esp_proposals' : 'ike_proposals'} entry: set the list on this link to include one the remote side offers, or change the remote side's`,
        proposals: { ...(local ? { local } : {}), ...(remote ? { remote } : {}) },
      };
    }
    if (
      /^received AUTHENTICATION_FAILED notify/.test(msg) ||
      /but MAC mismatched$/.test(msg) ||
      /^no shared key found for/.test(msg) ||
      /^authentication of '.*' with .* failed$/.test(msg) ||
      /^no trusted .* public key found for/.test(msg) ||
      /^constraint check failed/.test(msg)
    ) {
      const mac = /MAC mismatched/.test(msg);
      const noKey = /no shared key found/.test(msg);
      return {
        code: 'authentication-failed',
        message: mac
          ? 'authentication failed: the pre-shared keys of the two sides differ'
          : noKey
            ? `authentication failed: ${msg} (the identities do not match any key)`
            : /public key|constraint/.test(msg)
              ? `authentication failed: ${msg} (certificate not trusted or its identity does not match)`
              : 'authentication failed: the remote side rejected our proof (pre-shared key or certificate/ID mismatch)',
        fix: 'set the same preshared_key on both sides, and check local_id/remote_id (or, with certificates, remote_ca and the identities)',
      };
    }
    if (
      /^received TS_UNACCEPTABLE notify/.test(msg) ||
      (m = /^traffic selectors (.+) unacceptable$/.exec(msg)) ||
      /^no matching CHILD_SA config found$/.test(msg)
    ) {
      const ts = m?.[1];
      return {
        code: 'ts-unacceptable',
        message: `traffic selectors unacceptable: the two sides disagree on which subnets the tunnel carries${ts ? ` (${ts})` : ''}`,
        fix: "this link's local_subnets must be the remote link's remote_subnets and the other way round",
      };
    }
    if (
      (m = /^giving up after (\d+) retransmits$/.exec(msg)) ||
      /^establishing IKE_SA failed, peer not responding$/.test(msg)
    ) {
      const count = m?.[1] ?? ctx.retransmits;
      const established =
        ctx.dpdSent === true || (ctx.lastRetransmitId !== undefined && ctx.lastRetransmitId > 0);
      const peer = ctx.remote ?? 'the peer';
      if (established) {
        return {
          code: 'dpd-dead',
          message: `the peer stopped answering: ${peer} gave no answer to dead-peer detection${count !== undefined ? ` after ${count} retransmits` : ''}`,
          fix: 'check that the remote site is up and that UDP 500/4500 still reaches it; with dpd_action restart the link comes back by itself',
        };
      }
      return {
        code: 'peer-unreachable',
        message: `peer unreachable: no answer from ${peer}${count !== undefined ? ` after ${count} retransmits` : ''}`,
        fix: 'check remote_endpoint, that the remote side runs, and that UDP ports 500 and 4500 are open on the path',
      };
    }
    return undefined;
  }
}
