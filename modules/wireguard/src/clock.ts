// Time behind an adapter, so supervision (backoff, timeouts) can be tested without waiting.

export interface Clock {
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms`; returns a function that cancels it. Does not keep the process alive. */
  schedule(fn: () => void, ms: number): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
  schedule: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/**
 * Polls `condition` every `intervalMs` until it holds (a condition wait, never a fixed sleep). Throws
 * the error `onTimeout` builds once `timeoutMs` passed, or whatever `check` throws to give up early.
 */
export async function waitFor(
  clock: Clock,
  condition: () => Promise<boolean>,
  options: { timeoutMs: number; intervalMs?: number; onTimeout: () => Error; signal?: AbortSignal },
): Promise<void> {
  const deadline = clock.now() + options.timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (clock.now() >= deadline) throw options.onTimeout();
    await clock.sleep(options.intervalMs ?? 20, options.signal);
  }
}
