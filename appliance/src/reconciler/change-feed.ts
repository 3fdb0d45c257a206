// What a driver tells the reconciler about changes behind the document's back (a restarted daemon, a
// DNS name due, an SA that went down): one feed per driver, ended when the driver stops.
import { EventEmitter, on } from 'node:events';

export class ChangeFeed {
  private readonly emitter = new EventEmitter();
  private readonly stopped = new AbortController();

  /** Aborted when the driver stops: for its own timers and loops too. */
  get signal(): AbortSignal {
    return this.stopped.signal;
  }

  notify(what: string): void {
    this.emitter.emit('change', what);
  }

  async *changes(): AsyncIterable<string> {
    try {
      for await (const [what] of on(this.emitter, 'change', { signal: this.stopped.signal }))
        yield String(what);
    } catch (err) {
      if (!this.stopped.signal.aborted) throw err;
    }
  }

  close(): void {
    this.stopped.abort();
  }
}
