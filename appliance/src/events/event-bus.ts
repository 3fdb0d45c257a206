// Typed events, numbered, kept in a ring for replay (SSE Last-Event-ID), fanned out to subscribers.
import { Injectable } from '@nestjs/common';
import type { Schemas } from '@weft/api-spec';
import { Observable } from 'rxjs';
import { Clock } from '../common/clock.js';

export type WeftEvent = Schemas['Event'];
export type EventType = WeftEvent['type'];

const RING_SIZE = 1000;

@Injectable()
export class EventBus {
  private seq = 0;
  private readonly ring: WeftEvent[] = [];
  private readonly listeners = new Set<(e: WeftEvent) => void>();

  constructor(private readonly clock: Clock) {}

  publish(type: EventType, data: Record<string, unknown>): WeftEvent {
    const event: WeftEvent = { id: ++this.seq, time: this.clock.now().toISOString(), type, data };
    this.ring.push(event);
    if (this.ring.length > RING_SIZE) this.ring.shift();
    for (const l of this.listeners) l(event);
    return event;
  }

  recent(afterId = 0): WeftEvent[] {
    return this.ring.filter((e) => e.id > afterId);
  }

  /** Events after `afterId` still in the ring, then live ones, until unsubscribed. */
  stream(afterId?: number): Observable<WeftEvent> {
    return new Observable<WeftEvent>((sub) => {
      if (afterId !== undefined) for (const e of this.recent(afterId)) sub.next(e);
      const listener = (e: WeftEvent): void => sub.next(e);
      this.listeners.add(listener);
      return () => this.listeners.delete(listener);
    });
  }
}
