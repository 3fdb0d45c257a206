// Builds the Nest application (Fastify, our JSON parser, the API base path) without listening.
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { basePath } from '@weft/api-spec';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { BootConfig } from './boot/boot-config.js';
import { InvalidJsonBody } from './common/invalid-json.js';

export async function createApp(boot: BootConfig): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: 32 * 1024 * 1024 });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(boot), adapter, {
    bufferLogs: true,
    bodyParser: false, // ours below reports bad JSON through validation
  });
  app.useLogger(app.get(Logger));
  app.setGlobalPrefix(basePath().replace(/^\//, ''));
  app.enableShutdownHooks();
  const fastify = app.getHttpAdapter().getInstance();
  // Our own JSON parser: a body that is not JSON reaches validation, which names the problem.
  fastify.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(null, new InvalidJsonBody(err instanceof Error ? err.message : String(err)));
    }
  });
  return app;
}
