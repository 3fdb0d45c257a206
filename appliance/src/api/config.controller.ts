import { Body, Controller, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Schemas } from '@weft/api-spec';
import type { FastifyReply } from 'fastify';
import { ConfigService, etagOf, type CommitRequest } from '../desired-state/config.service.js';
import type { ConfigDocument } from '../desired-state/document.js';
import { toCommitResult, toRevision, toRevisionSummary } from './config.mapper.js';
import { DocumentPresenter } from './document.presenter.js';
import { CommitOptions } from './request-context.js';

@Controller('config')
export class ConfigController {
  constructor(
    private readonly config: ConfigService,
    private readonly presenter: DocumentPresenter,
  ) {}

  @Get()
  get(@Res({ passthrough: true }) reply: FastifyReply): ConfigDocument {
    const { document, etag } = this.config.active();
    void reply.header('etag', etag);
    return this.presenter.present(document);
  }

  @Put()
  async put(
    @Body() body: ConfigDocument,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    const outcome = await this.config.commit(body, opts);
    void reply.header('etag', etagOf(this.config.active().revision?.number));
    return toCommitResult(outcome);
  }

  @Get('revisions')
  list(@Query('limit') limit?: number): { items: Schemas['RevisionSummary'][] } {
    return { items: this.config.revisions(limit ?? 100).map(toRevisionSummary) };
  }

  @Get('revisions/:number')
  one(@Param('number') number: string): Schemas['Revision'] {
    const rev = this.config.revision(Number(number));
    return { ...toRevision(rev), document: this.presenter.present(rev.document) };
  }

  @Post('rollback')
  @HttpCode(200)
  async rollback(
    @Body() body: { revision: number; message?: string },
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    const outcome = await this.config.rollback(body.revision, {
      ...opts,
      ...(body.message !== undefined ? { message: body.message } : {}),
    });
    void reply.header('etag', etagOf(this.config.active().revision?.number));
    return toCommitResult(outcome);
  }

  @Post('confirm')
  @HttpCode(200)
  async confirm(@CommitOptions() opts: CommitRequest): Promise<Schemas['RevisionSummary']> {
    return toRevisionSummary(await this.config.confirm(opts.author));
  }
}
