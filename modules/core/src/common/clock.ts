// Time behind an adapter, so supervision (backoff, timeouts, polling) is tested without waiting. The
// supervisors of charon and openvpn take it; tests give them @weft/core/testing's FakeClock.

export interface Clock {
  now(): number;
  /** Resolves after `ms`. */
  sleep(ms: number): Promise<void>;
  /** Calls `fn` after `ms`; returns a function that cancels it. Does not keep the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise<void>((resolve) => setTimeout(resolve, ms)),
  schedule: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/**
 * Polls `condition` every `intervalMs` until it holds (a condition wait, never a fixed sleep); throws
 * what `onTimeout` builds once `timeoutMs` passed.
 */
export async function waitFor(
  clock: Clock,
  condition: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; onTimeout: () => Error },
): Promise<void> {
  const deadline = clock.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (clock.now() >= deadline) throw options.onTimeout();
    await clock.sleep(options.intervalMs ?? 25);
  }
}
