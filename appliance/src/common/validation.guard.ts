// Every request is checked against the spec's own schemas before a handler sees it; coerced query
// values and schema defaults replace the raw ones.
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { basePath } from '@weft/api-spec';
import type { FastifyRequest } from 'fastify';
import { InvalidJsonBody } from './invalid-json.js';
import { OpenApiValidator } from './openapi/index.js';
import { RequestValidationError } from './problem.filter.js';

@Injectable()
export class ValidationGuard implements CanActivate {
  private readonly base = basePath();

  constructor(private readonly validator: OpenApiValidator) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<FastifyRequest>();
    const path = (req.url.split('?')[0] ?? '').slice(this.base.length) || '/';
    const op = this.validator.findOperation(req.method, path);
    if (!op) return true; // not an API operation: the router answers 404/405
    if (req.body instanceof InvalidJsonBody) {
      throw new RequestValidationError(`the body is not valid JSON: ${req.body.reason}`, [
        { pointer: '', message: `not valid JSON (${req.body.reason}): send a JSON document` },
      ]);
    }
    const result = this.validator.validateRequest({
      method: req.method,
      routePath: op.routePath,
      params: op.params,
      query: (req.query ?? {}) as Record<string, unknown>,
      headers: req.headers,
      body: req.body,
    });
    if (!result.ok) {
      const first = result.errors[0];
      throw new RequestValidationError(
        `${result.errors.length} problem(s) in the request${first ? `, first: ${first.pointer || '(body)'} ${first.message}` : ''}`,
        result.errors,
      );
    }
    (req as { body: unknown }).body = result.body;
    (req as { query: unknown }).query = result.query;
    return true;
  }
}
