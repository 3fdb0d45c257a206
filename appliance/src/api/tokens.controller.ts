import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { Schemas } from '@weft/api-spec';
import { AdminOnly } from '../auth/auth.decorators.js';
import { TokenService, type Role } from '../auth/token.service.js';
import { toTokenInfo } from './config.mapper.js';

@AdminOnly()
@Controller('tokens')
export class TokensController {
  constructor(private readonly tokens: TokenService) {}

  @Get()
  list(): { items: Schemas['TokenInfo'][] } {
    return { items: this.tokens.list().map(toTokenInfo) };
  }

  @Post()
  create(@Body() body: { name: string; role: Role }): Schemas['NewToken'] {
    const { token, info } = this.tokens.create(body.name, body.role);
    return { ...toTokenInfo(info), token };
  }

  @Delete(':name')
  @HttpCode(204)
  revoke(@Param('name') name: string): void {
    this.tokens.revoke(name);
  }
}
