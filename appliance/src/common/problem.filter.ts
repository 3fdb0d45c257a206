// The one place errors become HTTP: RFC 9457 application/problem+json.
import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { ApplyFailedError, DomainError, type FieldProblem } from './errors.js';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

const STATUS: Record<string, { status: number; title: string }> = {
  'invalid-argument': { status: 400, title: 'Invalid request' },
  validation: { status: 400, title: 'Request does not match the API schema' },
  unauthenticated: { status: 401, title: 'Authentication required' },
  forbidden: { status: 403, title: 'Not allowed for this token' },
  'not-found': { status: 404, title: 'Not found' },
  conflict: { status: 409, title: 'Conflict with the current state' },
  'precondition-failed': { status: 412, title: 'The configuration changed since you read it' },
  'verify-failed': { status: 422, title: 'The configuration does not verify' },
  'apply-failed': { status: 422, title: 'Applying the configuration failed; it was rolled back' },
  unavailable: { status: 503, title: 'Temporarily unavailable' },
};

/** A request that failed schema validation (thrown by the validation guard). */
export class RequestValidationError extends DomainError {
  readonly kind = 'validation';
}

export function problemFor(err: unknown, instance?: string): ProblemBody {
  if (err instanceof DomainError) {
    const meta = STATUS[err.kind] ?? { status: 500, title: 'Error' };
    const body: ProblemBody = {
      type: `urn:weft:problem:${err.kind}`,
      title: meta.title,
      status: meta.status,
      detail: err.message,
      ...(instance ? { instance } : {}),
    };
    if (err.problems.length > 0) body.errors = err.problems;
    if (err instanceof ApplyFailedError) {
      body.failed_step = err.failedStep;
      body.rolled_back_to = err.rolledBackTo;
    }
    return body;
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    return {
      type: status === 404 ? 'urn:weft:problem:not-found' : `urn:weft:problem:http-${status}`,
      title: status === 404 ? 'Not found' : err.message,
      status,
      detail: status === 404 ? 'no such endpoint: see /api/v1/docs' : err.message,
      ...(instance ? { instance } : {}),
    };
  }
  return {
    type: 'urn:weft:problem:internal',
    title: 'Internal error',
    status: 500,
    detail: 'the appliance hit an unexpected error; it is in the log',
    ...(instance ? { instance } : {}),
  };
}

@Catch()
export class ProblemFilter implements ExceptionFilter {
  constructor(private readonly log: PinoLogger) {
    this.log.setContext(ProblemFilter.name);
  }

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const req = http.getRequest<FastifyRequest>();
    const body = problemFor(err, req.url);
    if (body.status >= 500) this.log.error({ err, url: req.url }, 'request failed');
    if (body.status === 401) void reply.header('www-authenticate', 'Bearer realm="weft"');
    void reply.status(body.status).header('content-type', 'application/problem+json').send(body);
  }
}
