// Time as an injectable adapter, so confirm deadlines and drift timers can be driven in unit tests.
import { Injectable } from '@nestjs/common';

export interface TimerHandle {
  cancel(): void;
}

@Injectable()
export class Clock {
  now(): Date {
    return new Date();
  }

  after(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }

  every(ms: number, fn: () => void): TimerHandle {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  }
}
