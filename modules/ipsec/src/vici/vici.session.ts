// A VICI session: one connection, one reader, one exchange in flight.
//
// VICI has no request ids: a CMD_RESPONSE answers the one outstanding CMD_REQUEST, an EVENT_CONFIRM the
// one outstanding (un)registration. So every exchange waits its turn in one FIFO queue. A caller that
// times out or aborts gets its rejection at once, but its exchange keeps the slot until charon answers
// (the answer is read and dropped); otherwise that late answer would be taken for the next caller's.
//
// Events are fanned out to subscriptions, each an AsyncIterable that ends when the connection does.
// Registrations are reference-counted per event name, so a streamed command's unregister never cancels
// a subscriber's interest in the same event. Streamed commands (list-sas → list-sa events, initiate →
// control-log) collect the events that arrive while their own request is the one in flight: charon
// sends them only to the connection running the command, before its response.
import {
  abortedError,
  ViciCommandFailedError,
  ViciCommandUnknownError,
  ViciEventError,
  ViciParseError,
  ViciTransportError,
  type ViciError,
} from './vici.errors.js';
import {
  decodeMessage,
  decodeMessageRaw,
  encodeMessage,
  type ViciInput,
  type ViciRawSection,
  type ViciSection,
} from './vici.message.js';
import { decodePacket, encodePacket, type ViciPacket } from './vici.packet.js';
import {
  UnixSocketTransport,
  type UnixSocketTransportOptions,
  type ViciTransport,
} from './vici.transport.js';

/** Where Debian's charon listens unless strongswan.conf says otherwise. */
export const VICI_DEFAULT_SOCKET = '/var/run/charon.vici';

export interface ViciCallOptions {
  signal?: AbortSignal;
  /** Overrides the session's default timeout for this call (time spent waiting for its turn included). */
  timeoutMs?: number;
}

export interface ViciSessionOptions {
  /** Default per call, 10,000 ms. */
  timeoutMs?: number;
  /** Default for subscriptions: events a subscriber may leave unread before it is cut off, 10,000. */
  maxQueuedEvents?: number;
}

export interface ViciEvent {
  name: string;
  message: ViciSection;
  /** The message bytes as charon sent them, for values that are not text. */
  raw: Buffer;
}

export interface ViciSubscribeOptions extends ViciCallOptions {
  /** Events left unread before the subscription ends with a ViciEventError. */
  maxQueued?: number;
}

export interface ViciStreamedResult {
  response: ViciSection;
  /** The streamed events' messages, in arrival order. */
  events: ViciSection[];
}

interface Exchange {
  payload: Buffer;
  expect: 'command' | 'event';
  what: string;
  collect: { event: string; sink: Buffer[] } | undefined;
  settle(answer: ViciPacket | Error): void;
}

interface Registration {
  refs: number;
  failed: boolean;
  ready: Promise<void>;
}

export class ViciSession {
  private readonly queue: Exchange[] = [];
  private inFlight: Exchange | undefined;
  private readonly registrations = new Map<string, Registration>();
  private readonly subscribers = new Map<string, Set<ViciSubscription>>();
  private closeError: Error | undefined;
  private readonly timeoutMs: number;
  private readonly maxQueuedEvents: number;
  private resolveClosed!: (error: Error | undefined) => void;
  /** Settles when the connection ends: with the reason, or `undefined` after close(). Never rejects. */
  readonly closed: Promise<Error | undefined>;

  constructor(
    private readonly transport: ViciTransport,
    options: ViciSessionOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxQueuedEvents = options.maxQueuedEvents ?? 10_000;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    transport.start({
      frame: (payload) => this.onFrame(payload),
      closed: (error) => this.onClosed(error ?? new ViciTransportError('the VICI session is closed'), !error),
    });
  }

  /** Connects to charon's VICI socket. */
  static async connect(
    path = VICI_DEFAULT_SOCKET,
    options: ViciSessionOptions & UnixSocketTransportOptions = {},
  ): Promise<ViciSession> {
    return new ViciSession(await UnixSocketTransport.connect(path, options), options);
  }

  get isClosed(): boolean {
    return this.closeError !== undefined;
  }

  /**
   * Runs `command` and returns charon's answer. Throws ViciCommandUnknownError on CMD_UNKNOWN and
   * ViciCommandFailedError when the answer says `success=no`.
   */
  async request(command: string, input: ViciInput = {}, options: ViciCallOptions = {}): Promise<ViciSection> {
    const body = await this.command(command, input, options, undefined);
    return checked(command, decodeMessage(body));
  }

  /** Like request(), with values as the bytes charon sent. */
  async requestRaw(
    command: string,
    input: ViciInput = {},
    options: ViciCallOptions = {},
  ): Promise<ViciRawSection> {
    const body = await this.command(command, input, options, undefined);
    const raw = decodeMessageRaw(body);
    const success = raw['success'];
    if (Buffer.isBuffer(success) && success.toString() === 'no') checked(command, decodeMessage(body));
    return raw;
  }

  /**
   * Runs a command that streams `event` events before its response (list-sas/list-sa,
   * list-conns/list-conn, initiate/control-log): registers for the event, collects it until the
   * response, and unregisters in any case. With `checkSuccess: false`, a `success=no` answer is returned
   * rather than thrown (initiate wants its log either way).
   */
  async streamedRequest(
    command: string,
    event: string,
    input: ViciInput = {},
    options: ViciCallOptions & { checkSuccess?: boolean } = {},
  ): Promise<ViciStreamedResult> {
    const signal = this.callSignal(options);
    await this.acquire(event, signal, `VICI ${command}: register for ${event}`);
    try {
      const sink: Buffer[] = [];
      const body = await this.command(command, input, { signal }, { event, sink });
      const response = decodeMessage(body);
      const events = sink.map((raw) => decodeMessage(raw));
      return { response: options.checkSuccess === false ? response : checked(command, response), events };
    } finally {
      void this.release(event);
    }
  }

  /**
   * Registers for `events` and returns their stream. The subscription ends when its iteration stops
   * (break, return), when close() is called on it, when `options.signal` aborts, or when the connection
   * ends. `timeoutMs` bounds the registration only.
   */
  async subscribe(
    events: string | readonly string[],
    options: ViciSubscribeOptions = {},
  ): Promise<ViciSubscription> {
    const names = [...new Set(typeof events === 'string' ? [events] : events)];
    const signal = this.callSignal(options);
    const acquired: string[] = [];
    try {
      for (const name of names) {
        await this.acquire(name, signal, `VICI register for ${name}`);
        acquired.push(name);
      }
    } catch (err) {
      for (const name of acquired) void this.release(name);
      throw err;
    }
    if (this.closeError) throw this.closeError;
    const subscription = new ViciSubscription(names, options.maxQueued ?? this.maxQueuedEvents, (sub) =>
      this.unsubscribe(sub),
    );
    for (const name of names) {
      let set = this.subscribers.get(name);
      if (!set) this.subscribers.set(name, (set = new Set()));
      set.add(subscription);
    }
    if (options.signal) {
      const userSignal = options.signal;
      const onAbort = (): void => void subscription.close();
      if (userSignal.aborted) onAbort();
      else {
        userSignal.addEventListener('abort', onAbort, { once: true });
        void subscription.ended.then(() => userSignal.removeEventListener('abort', onAbort));
      }
    }
    return subscription;
  }

  /** Closes the connection: pending calls reject with ViciTransportError, subscriptions end. */
  close(): void {
    if (this.closeError) return;
    this.onClosed(new ViciTransportError('the VICI session is closed'), true);
    this.transport.close();
  }

  // --- exchanges ---

  private async command(
    command: string,
    input: ViciInput,
    options: ViciCallOptions,
    collect: Exchange['collect'],
  ): Promise<Buffer> {
    const payload = encodePacket({ type: 'cmd-request', name: command, message: encodeMessage(input) });
    const answer = await this.exchange(
      payload,
      'command',
      `VICI ${command}`,
      this.callSignal(options),
      collect,
    );
    if (answer.type === 'cmd-unknown') throw new ViciCommandUnknownError(command);
    if (answer.type !== 'cmd-response')
      throw new ViciParseError(`VICI ${command}: unexpected ${answer.type}`);
    return answer.message;
  }

  private exchange(
    payload: Buffer,
    expect: Exchange['expect'],
    what: string,
    signal: AbortSignal,
    collect?: Exchange['collect'],
  ): Promise<ViciPacket> {
    return new Promise((resolve, reject) => {
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
        payload,
        expect,
        what,
        collect,
        settle: (answer) => {
          if (done) return;
          done = true;
          signal.removeEventListener('abort', onAbort);
          if (answer instanceof Error) reject(answer);
          else resolve(answer);
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

  private pump(): void {
    while (!this.inFlight && !this.closeError) {
      const next = this.queue.shift();
      if (!next) return;
      try {
        this.transport.send(next.payload);
        this.inFlight = next;
      } catch (err) {
        next.settle(err as Error);
      }
    }
  }

  private callSignal(options: ViciCallOptions): AbortSignal {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs);
    return options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  }

  // --- registrations ---

  private async acquire(name: string, signal: AbortSignal, what: string): Promise<void> {
    let registration = this.registrations.get(name);
    if (!registration) {
      const payload = encodePacket({ type: 'event-register', name });
      // Not the caller's signal: other subscribers may share this registration.
      const ready = this.exchange(payload, 'event', what, this.callSignal({})).then((answer) => {
        if (answer.type !== 'event-confirm') throw new ViciEventError(`charon has no VICI event '${name}'`);
      });
      const created: Registration = { refs: 0, failed: false, ready };
      ready.catch(() => {
        created.failed = true;
        if (this.registrations.get(name) === created) this.registrations.delete(name);
      });
      this.registrations.set(name, created);
      registration = created;
    }
    registration.refs++;
    try {
      await raceSignal(registration.ready, signal, what);
    } catch (err) {
      void this.release(name, registration);
      throw err;
    }
  }

  /** Drops one reference; the last one sends EVENT_UNREGISTER. Never rejects. */
  private async release(name: string, registration = this.registrations.get(name)): Promise<void> {
    if (!registration || registration.refs === 0) return;
    registration.refs--;
    if (registration.refs > 0 || registration.failed) return;
    if (this.registrations.get(name) === registration) this.registrations.delete(name);
    // Even when the registration's answer is still outstanding: the unregister queues behind it.
    if (this.closeError) return;
    const payload = encodePacket({ type: 'event-unregister', name });
    try {
      await this.exchange(payload, 'event', `VICI unregister ${name}`, this.callSignal({}));
    } catch {
      // Nothing to undo: charon drops registrations with the connection, and an EVENT_UNKNOWN here
      // means it had none.
    }
  }

  private unsubscribe(subscription: ViciSubscription): Promise<void> {
    const releases: Promise<void>[] = [];
    for (const name of subscription.names) {
      const set = this.subscribers.get(name);
      if (set?.delete(subscription) && set.size === 0) this.subscribers.delete(name);
      releases.push(this.release(name));
    }
    return Promise.all(releases).then(() => undefined);
  }

  // --- the reader ---

  private onFrame(payload: Buffer): void {
    if (this.closeError) return;
    let packet: ViciPacket;
    try {
      packet = decodePacket(payload);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    switch (packet.type) {
      case 'cmd-response':
      case 'cmd-unknown':
      case 'event-confirm':
      case 'event-unknown': {
        const expect = packet.type.startsWith('cmd') ? 'command' : 'event';
        const exchange = this.inFlight;
        if (exchange?.expect !== expect) {
          this.fail(new ViciParseError(`charon sent an unexpected ${packet.type} packet`));
          return;
        }
        this.inFlight = undefined;
        exchange.settle(packet);
        this.pump();
        return;
      }
      case 'event': {
        const collect = this.inFlight?.collect;
        if (collect?.event === packet.name) collect.sink.push(packet.message);
        const set = this.subscribers.get(packet.name);
        if (!set || set.size === 0) return;
        let message: ViciSection;
        try {
          message = decodeMessage(packet.message);
        } catch (err) {
          this.fail(err as Error);
          return;
        }
        for (const subscription of [...set])
          subscription.push({ name: packet.name, message, raw: packet.message });
        return;
      }
      case 'cmd-request':
      case 'event-register':
      case 'event-unregister':
        this.fail(new ViciParseError(`charon sent a client packet (${packet.type})`));
        return;
    }
  }

  private fail(error: Error): void {
    this.onClosed(error, false);
    this.transport.close();
  }

  private onClosed(error: Error, byUs: boolean): void {
    if (this.closeError) return;
    this.closeError = error;
    const pending = [...this.queue];
    this.queue.length = 0;
    if (this.inFlight) pending.unshift(this.inFlight);
    this.inFlight = undefined;
    const reason: Error =
      error instanceof ViciTransportError ? error : new ViciTransportError(error.message, { cause: error });
    for (const exchange of pending) exchange.settle(reason);
    for (const set of this.subscribers.values()) for (const subscription of set) subscription.end();
    this.subscribers.clear();
    this.registrations.clear();
    this.resolveClosed(byUs ? undefined : error);
  }
}

function checked(command: string, response: ViciSection): ViciSection {
  if (response['success'] === 'no') {
    const errmsg = response['errmsg'];
    throw new ViciCommandFailedError(command, typeof errmsg === 'string' ? errmsg : undefined);
  }
  return response;
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  if (signal.aborted) return Promise.reject(abortedError(signal, what));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortedError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * A stream of events from one or more registrations. Iterate it once; events arriving while nobody
 * reads are queued, up to a bound: a subscriber that falls further behind is cut off with a
 * ViciEventError rather than silently missing events.
 */
export class ViciSubscription implements AsyncIterable<ViciEvent> {
  private readonly buffer: ViciEvent[] = [];
  private waiter: ((result: IteratorResult<ViciEvent>) => void) | undefined;
  private waiterReject: ((error: Error) => void) | undefined;
  private finished = false;
  private error: ViciError | undefined;
  private releasing: Promise<void> | undefined;
  private resolveEnded!: () => void;
  /** Settles when the subscription has ended, for whatever reason. */
  readonly ended: Promise<void>;

  constructor(
    readonly names: readonly string[],
    private readonly maxQueued: number,
    private readonly onClose: (subscription: ViciSubscription) => Promise<void>,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Stops the stream and unregisters (when no one else holds the event). */
  close(): Promise<void> {
    this.end();
    this.releasing ??= this.onClose(this);
    return this.releasing;
  }

  /** @internal Called by the session for every event of a registered name. */
  push(event: ViciEvent): void {
    if (this.finished) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = this.waiterReject = undefined;
      waiter({ value: event, done: false });
      return;
    }
    if (this.buffer.length >= this.maxQueued) {
      this.error = new ViciEventError(
        `VICI subscription to ${this.names.join(', ')} fell ${this.maxQueued} events behind and was cut off`,
      );
      void this.close();
      return;
    }
    this.buffer.push(event);
  }

  /** @internal Ends the stream: queued events are still delivered, then the iteration finishes. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.resolveEnded();
    if (this.waiter) {
      const waiter = this.waiter;
      const waiterReject = this.waiterReject;
      this.waiter = this.waiterReject = undefined;
      if (this.error && waiterReject) waiterReject(this.error);
      else waiter({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<ViciEvent> {
    return {
      next: () => {
        const event = this.buffer.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.finished) {
          if (this.error) {
            const error = this.error;
            this.error = undefined;
            return Promise.reject(error);
          }
          return Promise.resolve({ value: undefined, done: true });
        }
        return new Promise((resolve, reject) => {
          this.waiter = resolve;
          this.waiterReject = reject;
        });
      },
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }
}
