// The consumer side of one event subscription: an AsyncIterator fed by push(), ended by end().

export interface EventQueueOptions<T> {
  /** Items held for a slow consumer before the backlog is replaced by `overflow()`. */
  limit: number;
  /** The item that stands for everything dropped (it tells the consumer to resynchronise). */
  overflow: () => T;
  /** Called once when the consumer stops early (break, return()) so the producer can unsubscribe. */
  onReturn?: () => void;
}

export class EventQueue<T> implements AsyncIterableIterator<T> {
  private items: T[] = [];
  private readonly waiting: Array<{ resolve: (r: IteratorResult<T>) => void; reject: (e: Error) => void }> =
    [];
  private ended = false;
  private failure: { error: Error } | undefined;

  constructor(private readonly options: EventQueueOptions<T>) {}

  get isEnded(): boolean {
    return this.ended;
  }

  push(item: T): void {
    if (this.ended) return;
    const waiter = this.waiting.shift();
    if (waiter) {
      waiter.resolve({ value: item, done: false });
      return;
    }
    // Dropping the whole backlog, not just the oldest item: after a gap every queued item is stale
    // against a fresh read anyway, and one marker is all the consumer needs.
    if (this.items.length >= this.options.limit) this.items = [this.options.overflow()];
    else this.items.push(item);
  }

  /** No more items. Queued items are still delivered; then the error, if any, is thrown once. */
  end(error?: Error): void {
    if (this.ended) return;
    this.ended = true;
    if (error !== undefined) this.failure = { error };
    for (const waiter of this.waiting.splice(0)) {
      if (this.failure) {
        waiter.reject(this.failure.error);
        this.failure = undefined;
      } else waiter.resolve({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ended) {
      const failure = this.failure;
      this.failure = undefined;
      return failure ? Promise.reject(failure.error) : Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    const wasEnded = this.ended;
    this.items = [];
    this.failure = undefined;
    this.end();
    if (!wasEnded) this.options.onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}
