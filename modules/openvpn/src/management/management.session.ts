// A management session: one connection, one reader, one command in flight.
//
// The management protocol has no request ids: the next non-notification lines answer the one command
// outstanding. So every command waits its turn in one FIFO queue. A caller that times out or aborts gets
// its rejection at once, but its command keeps the slot until openvpn answers (the answer is read and
// dropped); otherwise that late answer would be taken for the next caller's.
//
// Notifications are fanned out to subscriptions, each an AsyncIterable that ends when the connection
// does. Turning them on at openvpn (`state on`, `log on`, `bytecount N`) is a command of its own (see
// ManagementClient): openvpn keeps one setting per connection, not per subscriber.
import {
  abortedError,
  commandWord,
  ManagementCommandFailedError,
  ManagementParseError,
  ManagementTransportError,
} from './management.errors.js';
import { ManagementParser, type ManagementReply, type ReplyShape } from './management.message.js';
import {
  UnixSocketTransport,
  type ManagementTransport,
  type UnixSocketTransportOptions,
} from './management.transport.js';
import type { ManagementNotification } from './management.types.js';

export interface ManagementCallOptions {
  signal?: AbortSignal;
  /** Overrides the session's default timeout for this call (time spent waiting for its turn included). */
  timeoutMs?: number;
}

export interface ManagementSessionOptions {
  /** Default per call, 10,000 ms. */
  timeoutMs?: number;
  /** Default for subscriptions: notifications a subscriber may leave unread before it is cut off. */
  maxQueuedNotifications?: number;
}

export interface ManagementSubscribeOptions {
  /** Ends the subscription. */
  signal?: AbortSignal;
  /** Notifications left unread before the subscription ends with a ManagementParseError. */
  maxQueued?: number;
}

/** A successful reply: the text after `SUCCESS: ` and, for list commands, the rows before `END`. */
export interface ManagementResult {
  message: string;
  rows: string[];
}

interface Exchange {
  line: string;
  shape: ReplyShape;
  what: string;
  settle(answer: ManagementReply | Error): void;
}

export class ManagementSession {
  private readonly parser = new ManagementParser();
  private readonly queue: Exchange[] = [];
  private inFlight: Exchange | undefined;
  private readonly subscriptions = new Set<ManagementSubscription<unknown>>();
  private closeError: Error | undefined;
  private readonly timeoutMs: number;
  private readonly maxQueued: number;
  private resolveClosed!: (error: Error | undefined) => void;
  /** Settles when the connection ends: with the reason, or `undefined` after close(). Never rejects. */
  readonly closed: Promise<Error | undefined>;

  constructor(
    private readonly transport: ManagementTransport,
    options: ManagementSessionOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxQueued = options.maxQueuedNotifications ?? 10_000;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    transport.start({
      line: (line) => this.onLine(line),
      closed: (error) =>
        this.onClosed(error ?? new ManagementTransportError('the management session is closed'), !error),
    });
  }

  /** Connects to an openvpn management socket (`--management <path> unix`). */
  static async connect(
    path: string,
    options: ManagementSessionOptions & UnixSocketTransportOptions = {},
  ): Promise<ManagementSession> {
    return new ManagementSession(await UnixSocketTransport.connect(path, options), options);
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /**
   * Sends one command line and waits for its reply of `shape`. Throws ManagementCommandFailedError on
   * `ERROR: …`, ManagementTimeoutError / ManagementAbortedError, ManagementTransportError.
   */
  command(line: string, shape: ReplyShape, options: ManagementCallOptions = {}): Promise<ManagementResult> {
    const word = commandWord(line);
    const what = `openvpn management '${word}'`;
    const signal = this.callSignal(options);
    return new Promise<ManagementResult>((resolve, reject) => {
      if (this.closeError) {
        reject(this.closeError);
        return;
      }
      if (signal.aborted) {
        reject(abortedError(signal, what));
        return;
      }
      let done = false;
      const exchange: Exchange = {
        line,
        shape,
        what,
        settle: (answer) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          if (answer instanceof Error) reject(answer);
          else if (!answer.ok) reject(new ManagementCommandFailedError(word, answer.message));
          else resolve({ message: answer.message, rows: answer.rows });
        },
      };
      const onAbort = (): void => {
        // Queued: forget it. In flight: it keeps the slot until its answer comes (see top of file).
        const i = this.queue.indexOf(exchange);
        if (i >= 0) this.queue.splice(i, 1);
        exchange.settle(abortedError(signal, what));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(exchange);
      this.pump();
    });
  }

  /**
   * Streams the notifications `select` maps to a value (undefined drops one). The subscription ends when
   * its iteration stops, when close() is called on it, when `options.signal` aborts, or when the
   * connection ends.
   */
  subscribe<T>(
    select: (notification: ManagementNotification) => T | undefined,
    options: ManagementSubscribeOptions = {},
  ): ManagementSubscription<T> {
    const subscription = new ManagementSubscription<T>(select, options.maxQueued ?? this.maxQueued, (s) =>
      this.subscriptions.delete(s as ManagementSubscription<unknown>),
    );
    if (this.closeError) {
      subscription.end();
      return subscription;
    }
    this.subscriptions.add(subscription as ManagementSubscription<unknown>);
    const userSignal = options.signal;
    if (userSignal) {
      const onAbort = (): void => subscription.close();
      if (userSignal.aborted) onAbort();
      else {
        userSignal.addEventListener('abort', onAbort, { once: true });
        void subscription.ended.then(() => userSignal.removeEventListener('abort', onAbort));
      }
    }
    return subscription;
  }

  /** Closes the connection: pending calls reject with ManagementTransportError, subscriptions end. */
  close(): void {
    if (this.closeError) return;
    this.onClosed(new ManagementTransportError('the management session is closed'), true);
    this.transport.close();
  }

  private pump(): void {
    while (!this.inFlight && !this.closeError) {
      const next = this.queue.shift();
      if (!next) return;
      try {
        this.transport.send(next.line);
        this.parser.expect(next.shape);
        this.inFlight = next;
      } catch (err) {
        next.settle(err as Error);
      }
    }
  }

  private callSignal(options: ManagementCallOptions): AbortSignal {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    return options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  }

  private onLine(line: string): void {
    if (this.closeError) return;
    let parsed;
    try {
      parsed = this.parser.push(line);
    } catch (err) {
      // The stream is out of step with our commands: nothing after this can be trusted.
      const error =
        err instanceof ManagementParseError ? err : new ManagementParseError(String(err), { cause: err });
      this.onClosed(error, false);
      this.transport.close();
      return;
    }
    for (const item of parsed) {
      if (item.kind === 'reply') {
        const exchange = this.inFlight;
        this.inFlight = undefined;
        exchange?.settle(item.reply);
        this.pump();
      } else {
        for (const subscription of this.subscriptions) subscription.offer(item.notification);
      }
    }
  }

  private onClosed(error: Error, byUs: boolean): void {
    if (this.closeError) return;
    this.closeError = error;
    const pending = [...(this.inFlight ? [this.inFlight] : []), ...this.queue.splice(0)];
    this.inFlight = undefined;
    for (const exchange of pending) exchange.settle(error);
    // Streams end normally; why the connection ended is in `closed`.
    for (const subscription of [...this.subscriptions]) subscription.end();
    this.subscriptions.clear();
    this.resolveClosed(byUs ? undefined : error);
  }
}

/**
 * One consumer's stream of notifications. Iterating ends when the connection ends (for whatever reason:
 * the session's `closed` says which) or the subscription is closed; it throws only when the consumer fell
 * `maxQueued` notifications behind.
 */
export class ManagementSubscription<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private waiter: { resolve(r: IteratorResult<T>): void; reject(e: Error): void } | undefined;
  private finished = false;
  private error: Error | undefined;
  private resolveEnded!: () => void;
  /** Settles when the subscription has ended, for whatever reason. */
  readonly ended: Promise<void>;

  constructor(
    private readonly select: (notification: ManagementNotification) => T | undefined,
    private readonly maxQueued: number,
    private readonly onClose: (subscription: ManagementSubscription<T>) => void,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Stops the stream; queued values are still delivered. */
  close(): void {
    this.end();
  }

  /** @internal Called by the session for every notification. */
  offer(notification: ManagementNotification): void {
    if (this.finished) return;
    const value = this.select(notification);
    if (value === undefined) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ value, done: false });
      return;
    }
    if (this.buffer.length >= this.maxQueued) {
      this.end(
        new ManagementParseError(
          `a management subscription fell ${this.maxQueued} notifications behind and was cut off`,
        ),
      );
      return;
    }
    this.buffer.push(value);
  }

  /** @internal Ends the stream, with `error` thrown after the queued values when given. */
  end(error?: Error): void {
    if (this.finished) return;
    this.finished = true;
    this.error = error;
    this.onClose(this);
    this.resolveEnded();
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) this.settleEnd(waiter);
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.buffer.length > 0) {
          return Promise.resolve({ value: this.buffer.shift() as T, done: false });
        }
        if (this.finished) {
          return new Promise<IteratorResult<T>>((resolve, reject) => this.settleEnd({ resolve, reject }));
        }
        return new Promise<IteratorResult<T>>((resolve, reject) => (this.waiter = { resolve, reject }));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private settleEnd(waiter: { resolve(r: IteratorResult<T>): void; reject(e: Error): void }): void {
    const error = this.error;
    this.error = undefined;
    if (error) waiter.reject(error);
    else waiter.resolve({ value: undefined, done: true });
  }
}
