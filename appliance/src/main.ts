#!/usr/bin/env node
// `weft serve --data-dir DIR --listen ADDR:PORT` — the one binary entry.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { basePath } from '@weft/api-spec';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { BootConfigError, parseCommand, USAGE, type BootConfig } from './boot/boot-config.js';
import { InvalidJsonBody } from './common/invalid-json.js';
import { cleanupOwnedState } from './drivers/drivers.js';
import { WEFT_VERSION } from './version.js';

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

async function main(): Promise<void> {
  let cmd;
  try {
    cmd = parseCommand(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`weft: ${err instanceof BootConfigError ? err.message : String(err)}\n`);
    process.exit(2);
  }
  switch (cmd.name) {
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    case 'version':
      process.stdout.write(`weft ${WEFT_VERSION}\n`);
      return;
    case 'cleanup':
      await cleanupOwnedState();
      process.stdout.write('weft: removed the routes and rules Weft owns\n');
      return;
    case 'serve': {
      process.umask(0o077); // the data directory holds secrets: nothing we create is readable by others
      const app = await createApp(cmd.config);
      await app.listen(cmd.config.listenPort, cmd.config.listenHost);
      app.get(Logger).log(`listening on ${cmd.config.listenHost}:${cmd.config.listenPort}`, 'Main');
      return;
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`weft: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
