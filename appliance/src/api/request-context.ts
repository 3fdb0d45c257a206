import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { AuthedRequest } from '../auth/auth.guard.js';
import type { CommitRequest } from '../desired-state/config.service.js';

/** The commit options every mutating endpoint shares: author (the token's name), If-Match, dry run… */
export const CommitOptions = createParamDecorator((_: unknown, ctx: ExecutionContext): CommitRequest => {
  const req = ctx.switchToHttp().getRequest<AuthedRequest>();
  const q = (req.query ?? {}) as Record<string, unknown>;
  const ifMatch = req.headers['if-match'];
  return {
    author: req.principal?.name ?? 'unknown',
    ...(typeof ifMatch === 'string' ? { ifMatch } : {}),
    ...(q.dry_run === true ? { dryRun: true } : {}),
    ...(typeof q.confirm_timeout === 'number' ? { confirmTimeout: q.confirm_timeout } : {}),
    ...(typeof q.message === 'string' ? { message: q.message } : {}),
  };
});
