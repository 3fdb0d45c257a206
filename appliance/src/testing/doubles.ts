// Strict test doubles shared by the unit specs.
import type { ModuleState } from '../desired-state/desired-state.store.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PinoLogger } from 'nestjs-pino';
import { Clock, type TimerHandle } from '../common/clock.js';
import type { FieldProblem } from '../common/errors.js';
import { DesiredStateStore } from '../desired-state/desired-state.store.js';
import type { NormalizedDocument } from '../desired-state/document.js';
import {
  StepFailedError,
  type DriverStep,
  type LinkStatus,
  type ModuleDriver,
} from '../reconciler/module-driver.js';

export function silentLogger(): PinoLogger {
  return new PinoLogger({ pinoHttp: { level: 'silent' } });
}

export function tempStore(): { store: DesiredStateStore; dir: string; dispose: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'weft-store-'));
  const store = DesiredStateStore.open(join(dir, 'weft.db'));
  return {
    store,
    dir,
    dispose: () => {
      store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A clock whose time only moves when the test says so. */
export class FakeClock extends Clock {
  private t = Date.parse('2026-01-01T00:00:00Z');
  private timers: { at: number; fn: () => void; every?: number; live: boolean }[] = [];

  override now(): Date {
    return new Date(this.t);
  }

  override after(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return { cancel: () => (timer.live = false) };
  }

  override every(ms: number, fn: () => void): TimerHandle {
    const timer = { at: this.t + ms, fn, every: ms, live: true };
    this.timers.push(timer);
    return { cancel: () => (timer.live = false) };
  }

  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers) {
      while (timer.live && timer.at <= this.t) {
        timer.fn();
        if (timer.every) timer.at += timer.every;
        else timer.live = false;
      }
    }
    this.timers = this.timers.filter((x) => x.live);
  }
}

/**
 * A module double that "owns" one kernel object per route name. `failOn` makes applying the route of
 * that name fail, so tests can watch the rollback.
 */
export class FakeRoutesDriver implements ModuleDriver {
  readonly name = 'fake';
  readonly linkTypes: readonly string[] = [];
  /** What the "kernel" holds. */
  readonly installed = new Set<string>();
  failOn: string | undefined;
  applies = 0;

  start(): Promise<void> {
    return Promise.resolve();
  }
  stop(): Promise<void> {
    return Promise.resolve();
  }
  detail(): string {
    return 'fake';
  }
  verify(_doc: NormalizedDocument): FieldProblem[] {
    return [];
  }
  plan(doc: NormalizedDocument): Promise<DriverStep[]> {
    const want = new Set(doc.routes.map((r) => r.name));
    const steps: DriverStep[] = [];
    for (const n of want) {
      if (!this.installed.has(n))
        steps.push({ action: { module: 'fake', op: 'create', target: n, summary: `add ${n}` }, payload: n });
    }
    for (const n of this.installed) {
      if (!want.has(n))
        steps.push({ action: { module: 'fake', op: 'delete', target: n, summary: `del ${n}` }, payload: n });
    }
    return Promise.resolve(steps);
  }
  apply(steps: DriverStep[]): Promise<void> {
    this.applies += 1;
    for (const s of steps) {
      const n = s.payload as string;
      if (s.action.op === 'create' && n === this.failOn)
        return Promise.reject(new StepFailedError(s.action, new Error('EEXIST')));
      if (s.action.op === 'create') this.installed.add(n);
      else this.installed.delete(n);
    }
    return Promise.resolve();
  }
  linkStatus(): Promise<LinkStatus[]> {
    return Promise.resolve([]);
  }
  cleanup(): Promise<void> {
    this.installed.clear();
    return Promise.resolve();
  }
}

/** A module's key/value state in memory, for driver unit tests. */
export class MemoryModuleState implements ModuleState {
  readonly map = new Map<string, string>();
  get(k: string): string | undefined {
    return this.map.get(k);
  }
  entries(): (readonly [string, string])[] {
    return [...this.map.entries()].sort();
  }
  set(k: string, v: string): void {
    this.map.set(k, v);
  }
  delete(k: string): void {
    this.map.delete(k);
  }
  update(set: Readonly<Record<string, string>>, remove: readonly string[] = []): void {
    for (const k of remove) this.map.delete(k);
    for (const [k, v] of Object.entries(set)) this.map.set(k, v);
  }
}
