// Waiting on conditions, never on the clock: poll a probe until it holds, or fail saying what was awaited
// and what was last seen.
import { setTimeout as delay } from 'node:timers/promises';

export interface WaitOptions<T> {
  /** What is awaited, for the error message: "site a to answer /health". */
  what: string;
  /** Default 10 s. */
  timeoutMs?: number;
  /** Pause between probes. Default 50 ms. */
  intervalMs?: number;
  /** When the probe's value counts as done. Default: truthy. */
  until?: (value: T) => boolean;
  signal?: AbortSignal;
}

export class WaitTimeoutError extends Error {
  constructor(
    message: string,
    readonly lastValue: unknown,
    readonly lastError: unknown,
  ) {
    super(message, lastError === undefined ? undefined : { cause: lastError });
    this.name = 'WaitTimeoutError';
  }
}

/** Thrown by a probe (see giveUp()) to stop waiting at once: the condition can no longer become true. */
export class GiveUpError extends Error {
  override name = 'GiveUpError';
}

export function giveUp(reason: string, options?: ErrorOptions): never {
  throw new GiveUpError(reason, options);
}

/**
 * Calls `probe` until `until(value)` holds (default: the value is truthy) and returns that value.
 * A probe that throws counts as "not yet" (the error is remembered), except GiveUpError, which ends the
 * wait at once. On timeout, throws WaitTimeoutError naming `what` and the last value or error observed.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T>): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const until = options.until ?? ((v: T) => Boolean(v));
  const started = Date.now();
  const deadline = started + timeoutMs;
  let attempts = 0;
  let lastValue: unknown;
  let lastError: unknown;
  let sawValue = false;
  for (;;) {
    options.signal?.throwIfAborted();
    attempts++;
    try {
      const value = await probe();
      if (until(value)) return value;
      lastValue = value;
      sawValue = true;
      lastError = undefined;
    } catch (err) {
      if (err instanceof GiveUpError) {
        throw new Error(`gave up waiting for ${options.what}: ${err.message}`, { cause: err });
      }
      lastError = err;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const last =
        lastError !== undefined
          ? `last error: ${describeError(lastError)}`
          : sawValue
            ? `last observed: ${describeValue(lastValue)}`
            : 'nothing observed';
      throw new WaitTimeoutError(
        `timed out after ${Date.now() - started} ms (${attempts} attempts) waiting for ${options.what}; ${last}`,
        lastValue,
        lastError,
      );
    }
    try {
      await delay(Math.min(intervalMs, left), undefined, options.signal ? { signal: options.signal } : {});
    } catch (err) {
      options.signal?.throwIfAborted(); // the caller's reason rather than a generic AbortError
      throw err;
    }
  }
}

function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
    return `${err.message}${cause}`;
  }
  return describeValue(err);
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(truncate(value));
  try {
    return truncate(JSON.stringify(value) ?? String(value));
  } catch {
    return truncate(String(value));
  }
}

function truncate(text: string, max = 500): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
