// A virtual clock for supervision tests: timers fire in due order, one per turn of the event loop, and
// `now()` jumps to each timer's due time. Backoffs of 30 s pass in microseconds, and every requested
// delay is recorded for assertions.
import type { Clock } from '../common/clock.js';

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  /** Every delay given to schedule() (not sleep()), in call order. */
  readonly scheduled: number[] = [];
  private t = 0;
  private seq = 0;
  private timers: Timer[] = [];
  private pumping = false;
  private disposed = false;

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.add(resolve, ms));
  }

  schedule(fn: () => void, ms: number): () => void {
    this.scheduled.push(ms);
    const timer = this.add(fn, ms);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }

  /** Moves time forward without firing anything (a process that simply keeps running). */
  advance(ms: number): void {
    this.t += ms;
  }

  /** Timers still pending. */
  get pending(): number {
    return this.timers.length;
  }

  dispose(): void {
    this.disposed = true;
    this.timers = [];
  }

  private add(fn: () => void, ms: number): Timer {
    const timer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.push(timer);
    this.kick();
    return timer;
  }

  private kick(): void {
    if (this.pumping || this.disposed) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      const next = this.timers.reduce<Timer | undefined>(
        (best, t) =>
          best === undefined || t.due < best.due || (t.due === best.due && t.seq < best.seq) ? t : best,
        undefined,
      );
      if (next === undefined) return;
      this.timers = this.timers.filter((t) => t !== next);
      this.t = Math.max(this.t, next.due);
      next.fn();
      if (this.timers.length > 0) this.kick();
    });
  }
}
