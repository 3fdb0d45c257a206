// Commits: validate → verify → plan → commit (durable) → apply; automatic rollback on failure;
// commit-confirm; rollback to a revision; drift correction. One queue serializes all of it.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { Clock, type TimerHandle } from '../common/clock.js';
import {
  ApplyFailedError,
  ConflictError,
  describeError,
  NotFoundError,
  PreconditionFailedError,
  VerifyFailedError,
} from '../common/errors.js';
import { SerialQueue } from '../common/serial-queue.js';
import { EventBus } from '../events/event-bus.js';
import { StepFailedError } from '../reconciler/module-driver.js';
import { Reconciler } from '../reconciler/reconciler.js';
import { DesiredStateStore, type RevisionRecord } from './desired-state.store.js';
import { diffDocuments } from './diff.js';
import {
  carrySecrets,
  emptyDocument,
  normalize,
  type ConfigDocument,
  type NormalizedDocument,
  type Plan,
  type RevisionState,
} from './document.js';

export interface CommitRequest {
  author: string;
  message?: string;
  ifMatch?: string;
  dryRun?: boolean;
  /** Seconds until an unconfirmed commit rolls back by itself. */
  confirmTimeout?: number;
}

export interface CommitOutcome {
  dryRun: boolean;
  revision?: number;
  state?: RevisionState;
  confirmDeadline?: string | null;
  plan: Plan;
}

export function etagOf(revision: number | null | undefined): string {
  return `"rev-${revision ?? 0}"`;
}

@Injectable()
export class ConfigService implements OnApplicationShutdown {
  private readonly queue = new SerialQueue();
  private confirmTimer: TimerHandle | undefined;

  constructor(
    @Inject(DesiredStateStore) private readonly store: DesiredStateStore,
    private readonly reconciler: Reconciler,
    private readonly events: EventBus,
    private readonly clock: Clock,
    @InjectPinoLogger(ConfigService.name) private readonly log: PinoLogger,
  ) {}

  onApplicationShutdown(): void {
    this.confirmTimer?.cancel();
  }

  /** The document in force (an empty one before the first commit) and its revision. */
  active(): { document: NormalizedDocument; revision: RevisionRecord | undefined; etag: string } {
    const revision = this.store.active();
    return { document: revision?.document ?? emptyDocument(), revision, etag: etagOf(revision?.number) };
  }

  revisions(limit: number): ReturnType<DesiredStateStore['list']> {
    return this.store.list(limit);
  }

  revision(number: number): RevisionRecord {
    const r = this.store.get(number);
    if (!r) throw new NotFoundError(`no revision ${number}`);
    return r;
  }

  /** Replaces the whole desired state. */
  commit(document: ConfigDocument, req: CommitRequest): Promise<CommitOutcome> {
    return this.queue.run(() => this.commitLocked(() => document, req));
  }

  /**
   * Changes the active document with `edit` (run under the lock, on a copy) and commits the result:
   * what the per-resource endpoints use, so each of them is one commit against the latest state.
   */
  update(edit: (doc: NormalizedDocument) => void, req: CommitRequest): Promise<CommitOutcome> {
    return this.queue.run(() =>
      this.commitLocked(() => {
        const doc = structuredClone(this.active().document);
        edit(doc);
        return doc;
      }, req),
    );
  }

  rollback(to: number, req: CommitRequest): Promise<CommitOutcome> {
    return this.queue.run(() => {
      const target = this.store.get(to);
      if (!target) throw new NotFoundError(`no revision ${to}`);
      return this.commitLocked(
        () => target.document,
        { ...req, message: req.message ?? `rollback to revision ${to}` },
        {
          rollbackOf: to,
        },
      );
    });
  }

  confirm(author: string): Promise<RevisionRecord> {
    return this.queue.run(() => {
      const active = this.store.active();
      if (!active || active.state !== 'pending-confirm') {
        throw new ConflictError('no revision is waiting for confirmation');
      }
      this.confirmTimer?.cancel();
      this.confirmTimer = undefined;
      this.store.setState(active.number, 'applied', { confirmDeadline: null });
      this.events.publish('revision.confirmed', { revision: active.number, state: 'applied', author });
      this.log.info({ revision: active.number, author }, 'revision confirmed');
      return Promise.resolve(this.revision(active.number));
    });
  }

  private async commitLocked(
    build: () => ConfigDocument,
    req: CommitRequest,
    meta: { rollbackOf?: number } = {},
  ): Promise<CommitOutcome> {
    const opId = randomUUID().slice(0, 8);
    const started = performance.now();
    const active = this.store.active();
    if (req.ifMatch !== undefined && req.ifMatch !== '*' && req.ifMatch !== etagOf(active?.number)) {
      throw new PreconditionFailedError(
        `If-Match ${req.ifMatch} is stale: the active revision is ${etagOf(active?.number)}. GET /config, re-apply your change and retry`,
      );
    }
    if (active?.state === 'pending-confirm' && !req.dryRun) {
      throw new ConflictError(
        `revision ${active.number} waits for confirmation until ${active.confirmDeadline}: POST /config/confirm first, or let it roll back`,
      );
    }
    const document = normalize(build());
    carrySecrets(document, active?.document);
    this.reconciler.complete(document, active?.document);
    const problems = this.reconciler.verify(document);
    if (problems.length > 0) {
      throw new VerifyFailedError(`the configuration has ${problems.length} problem(s)`, problems);
    }
    const plan: Plan = {
      changes: diffDocuments(active?.document, document),
      actions: await this.reconciler.plan(document),
    };
    if (req.dryRun) return { dryRun: true, plan };

    const deadline = req.confirmTimeout
      ? new Date(this.clock.now().getTime() + req.confirmTimeout * 1000).toISOString()
      : null;
    const rev = this.store.commit({
      author: req.author,
      message: req.message ?? '',
      document,
      plan,
      state: deadline ? 'pending-confirm' : 'applied',
      confirmDeadline: deadline,
    });
    this.log.info(
      {
        opId,
        revision: rev.number,
        author: req.author,
        changes: plan.changes.slice(0, 20),
        changeCount: plan.changes.length,
        prepareMs: Math.round(performance.now() - started),
      },
      'revision committed',
    );
    this.events.publish('revision.committed', {
      revision: rev.number,
      state: rev.state,
      author: req.author,
      message: rev.message,
      ...(meta.rollbackOf !== undefined ? { rollback_of: meta.rollbackOf } : {}),
    });
    await this.applyOrRevert(rev, opId);
    if (deadline) this.armConfirmTimer(rev.number, deadline);
    return { dryRun: false, revision: rev.number, state: rev.state, confirmDeadline: deadline, plan };
  }

  /** Applies `rev`; on failure marks it failed, restores its parent and re-applies that. */
  private async applyOrRevert(rev: RevisionRecord, opId: string): Promise<void> {
    this.events.publish('apply.started', { revision: rev.number });
    try {
      await this.reconciler.apply(rev.document, rev.number, opId);
      this.events.publish('apply.succeeded', { revision: rev.number });
    } catch (err) {
      const step =
        err instanceof StepFailedError ? `${err.step.module}: ${err.step.op} ${err.step.target}` : 'apply';
      const reason = describeError(err instanceof StepFailedError ? err.cause : err);
      this.log.error({ opId, revision: rev.number, step, err: reason }, 'apply failed, rolling back');
      this.events.publish('apply.failed', { revision: rev.number, step, error: reason });
      const restored = await this.revertTo(rev, 'failed', reason, opId);
      throw new ApplyFailedError(
        `applying revision ${rev.number} failed at "${step}": ${reason}. ${restored ? `Rolled back to revision ${restored}.` : 'Nothing to roll back to.'}`,
        step,
        restored,
        { cause: err },
      );
    }
  }

  /** Takes `rev` out of force and re-applies its parent. Returns the parent's number. */
  private async revertTo(
    rev: RevisionRecord,
    state: 'failed' | 'rolled-back',
    reason: string,
    opId: string,
  ): Promise<number | null> {
    const parent = rev.parent !== null ? this.store.get(rev.parent) : undefined;
    this.store.revert(rev.number, state, reason, parent?.number ?? null);
    const target = parent?.document ?? emptyDocument(rev.document.appliance.name);
    try {
      await this.reconciler.apply(target, parent?.number ?? null, opId);
    } catch (err) {
      // The previous state cannot be restored either: leave it committed, the drift check retries.
      this.log.error(
        { opId, revision: parent?.number, err: describeError(err) },
        'rollback apply failed too',
      );
    }
    this.events.publish('rollback.performed', { from: rev.number, to: parent?.number ?? null, reason });
    return parent?.number ?? null;
  }

  private armConfirmTimer(revision: number, deadline: string): void {
    this.confirmTimer?.cancel();
    const ms = new Date(deadline).getTime() - this.clock.now().getTime();
    this.confirmTimer = this.clock.after(ms, () => {
      this.queue
        .run(async () => {
          const rev = this.store.active();
          if (!rev || rev.number !== revision || rev.state !== 'pending-confirm') return;
          this.log.warn({ revision }, 'revision not confirmed in time, rolling back');
          await this.revertTo(
            rev,
            'rolled-back',
            `not confirmed before ${deadline}`,
            randomUUID().slice(0, 8),
          );
        })
        .catch((err: unknown) =>
          this.log.error({ err: describeError(err) }, 'confirm-timeout rollback failed'),
        );
    });
  }

  /**
   * Start-up: a revision still waiting for confirmation is rolled back if its deadline passed while
   * we were down, or its timer is re-armed; then the active revision is applied again.
   */
  resume(): Promise<void> {
    return this.queue.run(async () => {
      const opId = randomUUID().slice(0, 8);
      let active = this.store.active();
      if (active?.state === 'pending-confirm' && active.confirmDeadline) {
        if (new Date(active.confirmDeadline).getTime() <= this.clock.now().getTime()) {
          await this.revertTo(active, 'rolled-back', `not confirmed before ${active.confirmDeadline}`, opId);
          active = this.store.active();
        } else {
          this.armConfirmTimer(active.number, active.confirmDeadline);
        }
      }
      const document = active?.document ?? emptyDocument();
      try {
        const steps = await this.reconciler.apply(document, active?.number ?? null, opId);
        this.log.info(
          { opId, revision: active?.number ?? null, steps: steps.length },
          'active revision applied at start-up',
        );
      } catch (err) {
        this.log.error({ opId, revision: active?.number, err: describeError(err) }, 'start-up apply failed');
      }
    });
  }

  /** Re-applies the active revision when the kernel or a daemon no longer matches it. */
  correctDrift(trigger: string): Promise<void> {
    return this.queue.run(async () => {
      const opId = randomUUID().slice(0, 8);
      const active = this.store.active();
      const document = active?.document ?? emptyDocument();
      this.reconciler.markDriftCheck();
      try {
        const steps = await this.reconciler.apply(document, active?.number ?? null, opId);
        if (steps.length > 0) {
          this.reconciler.status.driftCorrections += 1;
          this.log.warn({ opId, trigger, steps: steps.map((s) => s.target) }, 'drift corrected');
          this.events.publish('drift.corrected', {
            trigger,
            revision: active?.number ?? null,
            actions: steps,
          });
        }
      } catch (err) {
        this.log.error({ opId, trigger, err: describeError(err) }, 'drift correction failed');
      }
    });
  }
}
