// verify → plan → apply through the module drivers. Callers serialize (ConfigService owns the queue).
import { performance } from 'node:perf_hooks';
import { Inject, Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { Clock } from '../common/clock.js';
import type { FieldProblem } from '../common/errors.js';
import type { NormalizedDocument, PlanAction } from '../desired-state/document.js';
import { verifyDocument } from '../desired-state/verify.js';
import { MODULE_DRIVERS, StepFailedError, type ModuleDriver } from './module-driver.js';

export interface ReconcilerState {
  state: 'idle' | 'applying' | 'failed';
  appliedRevision: number | null;
  lastApplyAt: string | null;
  lastDriftCheckAt: string | null;
  driftCorrections: number;
  lastError: string | null;
}

@Injectable()
export class Reconciler {
  readonly status: ReconcilerState = {
    state: 'idle',
    appliedRevision: null,
    lastApplyAt: null,
    lastDriftCheckAt: null,
    driftCorrections: 0,
    lastError: null,
  };

  constructor(
    @Inject(MODULE_DRIVERS) readonly drivers: ModuleDriver[],
    private readonly clock: Clock,
    @InjectPinoLogger(Reconciler.name) private readonly log: PinoLogger,
  ) {}

  /** Lets each module fill what it makes at commit (generated keys, allocated addresses). Mutates `next`. */
  complete(next: NormalizedDocument, previous: NormalizedDocument | undefined): void {
    for (const d of this.drivers) d.complete?.(next, previous);
  }

  verify(doc: NormalizedDocument): FieldProblem[] {
    return [...verifyDocument(doc), ...this.drivers.flatMap((d) => d.verify(doc))];
  }

  /** The steps every module would take for `doc`, in order. Changes nothing. */
  async plan(doc: NormalizedDocument): Promise<PlanAction[]> {
    const out: PlanAction[] = [];
    for (const d of this.drivers) out.push(...(await d.plan(doc)).map((s) => s.action));
    return out;
  }

  /**
   * Makes the kernel and daemons match `doc`: each module plans against what it observes now (after
   * the modules before it have applied) and applies. Returns the steps taken; throws StepFailedError.
   */
  async apply(doc: NormalizedDocument, revision: number | null, opId: string): Promise<PlanAction[]> {
    this.status.state = 'applying';
    const taken: PlanAction[] = [];
    try {
      for (const d of this.drivers) {
        const started = performance.now();
        const steps = await d.plan(doc);
        if (steps.length === 0) continue;
        const planned = performance.now();
        this.log.info(
          {
            opId,
            module: d.name,
            count: steps.length,
            steps: steps.slice(0, 20).map((s) => s.action.target),
          },
          'applying',
        );
        await d.apply(steps);
        this.log.info(
          {
            opId,
            module: d.name,
            count: steps.length,
            planMs: Math.round(planned - started),
            applyMs: Math.round(performance.now() - planned),
          },
          'applied',
        );
        taken.push(...steps.map((s) => s.action));
      }
      this.status.state = 'idle';
      this.status.appliedRevision = revision;
      this.status.lastApplyAt = this.clock.now().toISOString();
      this.status.lastError = null;
      return taken;
    } catch (err) {
      this.status.state = 'failed';
      this.status.lastError = err instanceof Error ? err.message : String(err);
      if (err instanceof StepFailedError) throw err;
      throw new StepFailedError(
        { module: 'reconciler', op: 'update', target: 'apply', summary: 'apply' },
        err,
      );
    }
  }

  markDriftCheck(): void {
    this.status.lastDriftCheckAt = this.clock.now().toISOString();
  }
}
