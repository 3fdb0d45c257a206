import { Controller, Get, Headers, Res, Sse, type MessageEvent } from '@nestjs/common';
import type { Schemas } from '@weft/api-spec';
import type { FastifyReply } from 'fastify';
import { map, type Observable } from 'rxjs';
import { Public } from '../auth/auth.decorators.js';
import { EventBus } from '../events/event-bus.js';
import { renderMetrics } from '../status/metrics.js';
import { StatusService } from '../status/status.service.js';

@Controller()
export class StatusController {
  constructor(
    private readonly status: StatusService,
    private readonly events: EventBus,
  ) {}

  @Get('status')
  get(): Promise<Schemas['Status']> {
    return this.status.status();
  }

  /** Prometheus text exposition of the status: link states and bytes, multicast group counters. */
  @Get('metrics')
  async metrics(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    void reply.header('content-type', 'text/plain; version=0.0.4; charset=utf-8');
    return renderMetrics(await this.status.status());
  }

  /** SSE: `event:` = type, `id:` = sequence number, `data:` = the Event as JSON. */
  @Sse('events')
  stream(@Headers('last-event-id') lastEventId?: string): Observable<MessageEvent> {
    const after = lastEventId !== undefined && /^\d+$/.test(lastEventId) ? Number(lastEventId) : undefined;
    return this.events.stream(after).pipe(map((e) => ({ id: String(e.id), type: e.type, data: e })));
  }

  @Public()
  @Get('health')
  health(): Schemas['Health'] {
    return { status: 'ok' };
  }

  @Public()
  @Get('ready')
  ready(@Res({ passthrough: true }) reply: FastifyReply): Schemas['Health'] {
    const { ok, body } = this.status.health();
    if (!ok) void reply.status(503);
    return body;
  }
}
