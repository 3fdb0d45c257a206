// Convenience endpoints for single resources. Each mutation is one commit (see ResourceService).
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Schemas } from '@weft/api-spec';
import type { FastifyReply } from 'fastify';
import {
  ConfigService,
  etagOf,
  type CommitOutcome,
  type CommitRequest,
} from '../desired-state/config.service.js';
import type { ApplianceSettings, Link, Route } from '../desired-state/document.js';
import { ResourceService } from '../desired-state/resource.service.js';
import type { LinkStatus } from '../reconciler/module-driver.js';
import { StatusService } from '../status/status.service.js';
import { AdminOnly } from '../auth/auth.decorators.js';
import { toCommitResult } from './config.mapper.js';
import { DocumentPresenter } from './document.presenter.js';
import { LinkCheckService } from './link-check.service.js';
import { PeerConfigService, type PeerConfigFormat } from './peer-config.service.js';
import { CommitOptions } from './request-context.js';

abstract class CommitReplying {
  constructor(protected readonly config: ConfigService) {}

  protected committed(reply: FastifyReply, outcome: CommitOutcome, status = 200): Schemas['CommitResult'] {
    void reply.status(status).header('etag', etagOf(this.config.active().revision?.number));
    return toCommitResult(outcome);
  }

  protected tagged(reply: FastifyReply): void {
    void reply.header('etag', this.config.active().etag);
  }
}

@Controller('appliance')
export class ApplianceController extends CommitReplying {
  constructor(
    config: ConfigService,
    private readonly resources: ResourceService,
    private readonly presenter: DocumentPresenter,
  ) {
    super(config);
  }

  @Get()
  get(@Res({ passthrough: true }) reply: FastifyReply): ApplianceSettings {
    this.tagged(reply);
    return this.presenter.present(this.config.active().document).appliance;
  }

  @Put()
  async put(
    @Body() body: ApplianceSettings,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    return this.committed(reply, await this.resources.putAppliance(body, opts));
  }
}

@Controller('links')
export class LinksController extends CommitReplying {
  constructor(
    config: ConfigService,
    private readonly resources: ResourceService,
    private readonly status: StatusService,
    private readonly presenter: DocumentPresenter,
    private readonly peerConfigs: PeerConfigService,
    private readonly checks: LinkCheckService,
  ) {
    super(config);
  }

  @Get()
  list(@Res({ passthrough: true }) reply: FastifyReply): { items: Link[] } {
    this.tagged(reply);
    return { items: this.presenter.present(this.config.active().document).links };
  }

  @Post()
  async create(
    @Body() body: Link,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    const { outcome } = await this.resources.upsert('links', body, 'create', opts);
    return this.committed(reply, outcome, outcome.dryRun ? 200 : 201);
  }

  @Get(':name')
  get(@Param('name') name: string, @Res({ passthrough: true }) reply: FastifyReply): Link {
    this.tagged(reply);
    const link = this.resources.get('links', name);
    return this.presenter.present({ ...this.config.active().document, links: [link] }).links[0] ?? link;
  }

  @AdminOnly()
  @Get(':name/peer-config')
  async peerConfig(
    @Param('name') name: string,
    @Query('format') format: PeerConfigFormat | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Link | string> {
    const out = await this.peerConfigs.render(name, format ?? 'weft');
    if (typeof out === 'string') void reply.header('content-type', 'text/plain; charset=utf-8');
    return out;
  }

  @Put(':name')
  async put(
    @Param('name') name: string,
    @Body() body: Link,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    const { outcome } = await this.resources.upsert('links', body, 'put', opts, name);
    return this.committed(reply, outcome);
  }

  @Delete(':name')
  async remove(
    @Param('name') name: string,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    return this.committed(reply, await this.resources.remove('links', name, opts));
  }

  @Get(':name/status')
  linkStatus(@Param('name') name: string): Promise<LinkStatus> {
    return this.status.link(name);
  }

  @AdminOnly()
  @Post(':name/check')
  @HttpCode(200)
  check(@Param('name') name: string): Promise<LinkStatus> {
    return this.checks.check(name);
  }
}

@Controller('routes')
export class RoutesController extends CommitReplying {
  constructor(
    config: ConfigService,
    private readonly resources: ResourceService,
  ) {
    super(config);
  }

  @Get()
  list(@Res({ passthrough: true }) reply: FastifyReply): { items: Route[] } {
    this.tagged(reply);
    return { items: this.resources.list('routes') };
  }

  @Post()
  async create(
    @Body() body: Route,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    const { outcome } = await this.resources.upsert('routes', body, 'create', opts);
    return this.committed(reply, outcome, outcome.dryRun ? 200 : 201);
  }

  @Get(':name')
  get(@Param('name') name: string, @Res({ passthrough: true }) reply: FastifyReply): Route {
    this.tagged(reply);
    return this.resources.get('routes', name);
  }

  @Put(':name')
  async put(
    @Param('name') name: string,
    @Body() body: Route,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    const { outcome } = await this.resources.upsert('routes', body, 'put', opts, name);
    return this.committed(reply, outcome);
  }

  @Delete(':name')
  async remove(
    @Param('name') name: string,
    @CommitOptions() opts: CommitRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Schemas['CommitResult']> {
    return this.committed(reply, await this.resources.remove('routes', name, opts));
  }
}
