#!/usr/bin/env node
// `weft serve --data-dir DIR --listen ADDR:PORT` — the one binary entry.
import 'reflect-metadata';
import { Logger } from 'nestjs-pino';
import { createApp } from './app.factory.js';
import { BootConfigError, parseCommand, USAGE } from './boot/boot-config.js';
import { cleanupOwnedState } from './drivers/drivers.js';
import { WEFT_VERSION } from './version.js';

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
      await cleanupOwnedState(cmd.config.dataDir);
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
