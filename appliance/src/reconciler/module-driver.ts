// The contract between the reconciler and each module (core routing, WireGuard, IPsec, OpenVPN).
import type { Schemas } from '@weft/api-spec';
import type { FieldProblem } from '../common/errors.js';
import type { NormalizedDocument, PlanAction } from '../desired-state/document.js';

export type LinkStatus = Schemas['LinkStatus'];
export type MulticastGroupStatus = Schemas['MulticastGroupStatus'];

/** One step of a module's plan: what the API shows, plus the module's own payload. */
export interface DriverStep<P = unknown> {
  action: PlanAction;
  payload: P;
}

export interface ModuleDriver {
  /** Short name shown in plans and status: `core`, `wireguard`… */
  readonly name: string;
  /** Link types whose status this module reports. */
  readonly linkTypes: readonly string[];
  /** Detects what it can use (kernel or userspace path…), logs it, prepares base state. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What runs, for status: `netlink, table weft (7373)`. */
  detail(): string;
  /**
   * Fills, at commit, what this module makes for the document (a generated key, an allocated address),
   * so the committed revision is complete and an exported bundle carries the same values. Keeps what
   * `previous` had for a resource a change leaves it out of. Mutates `next`; no I/O.
   */
  complete?(next: NormalizedDocument, previous: NormalizedDocument | undefined): void;
  /** Pure: every problem of the document this module cares about. */
  verify(doc: NormalizedDocument): FieldProblem[];
  /** Observes the kernel/daemon and returns the steps that would make it match `doc`. Changes nothing. */
  plan(doc: NormalizedDocument): Promise<DriverStep[]>;
  /** Carries the steps out in order. Throws `StepFailedError` naming the step that failed. */
  apply(steps: DriverStep[]): Promise<void>;
  /** Observed state of the document's links of this module's types. */
  linkStatus(doc: NormalizedDocument): Promise<LinkStatus[]>;
  /** The document's multicast groups with their state and counters (the multicast module only). */
  multicastStatus?(doc: NormalizedDocument): Promise<MulticastGroupStatus[]>;
  /** Fires when something this module owns changed in the kernel or daemon (drift trigger). */
  changes?(): AsyncIterable<string>;
  /** Removes everything the module owns (uninstall, or `weft cleanup`). */
  cleanup(): Promise<void>;
}

export class StepFailedError extends Error {
  constructor(
    readonly step: PlanAction,
    cause: unknown,
  ) {
    super(`${step.module}: ${step.op} ${step.target}`, { cause });
    this.name = 'StepFailedError';
  }
}

/** Injection token for the ordered list of module drivers (tunnels first, core last). */
export const MODULE_DRIVERS = Symbol('MODULE_DRIVERS');
