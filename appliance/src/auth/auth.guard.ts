// Bearer tokens: every endpoint but the public ones needs one; writes need the admin role.
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthenticatedError } from '../common/errors.js';
import { ADMIN_ONLY, IS_PUBLIC } from './auth.decorators.js';
import { TokenService, type Principal } from './token.service.js';

export type AuthedRequest = FastifyRequest & { principal?: Principal };

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
  ) {}

  canActivate(ctx: ExecutionContext): boolean {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      throw new UnauthenticatedError(
        'this endpoint needs an API token: send "Authorization: Bearer <token>"',
      );
    }
    const principal = this.tokens.authenticate(match[1]);
    if (!principal) throw new UnauthenticatedError('the API token is unknown or revoked');
    req.principal = principal;
    const write = !['GET', 'HEAD', 'OPTIONS'].includes(req.method);
    const adminOnly = this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, targets) || write;
    if (adminOnly && principal.role !== 'admin') {
      throw new ForbiddenError(`token "${principal.name}" has the viewer role: this needs an admin token`);
    }
    return true;
  }
}
