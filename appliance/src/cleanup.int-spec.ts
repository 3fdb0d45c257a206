// `weft cleanup` as an operator runs it (the compiled main.js, a child process), inside the namespace
// tools/test.mjs makes: it removes Weft's table and rule and what a SIGKILLed charon leaves in its own
// table (core's owned.ts), the addresses it labelled lo:weft, and nothing else.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import {
  CHARON_RULE_PRIORITY,
  CHARON_TABLE,
  WEFT_LOOPBACK_LABEL,
  WEFT_RULE_PRIORITY,
  WEFT_TABLE,
} from '@weft/core';
import { assertInsideThrowawayNetns, ip } from '@weft/core/testing';

assertInsideThrowawayNetns();

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** Somebody else's table and rule, which cleanup must leave alone. */
const FOREIGN = { table: '100', priority: '6000' };

const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');
/** What `ip … show` lists; a table the kernel never had is empty too ("FIB table does not exist"). */
const shown = async (...args: string[]): Promise<string[]> =>
  lines(
    await ip(...args).catch((err: unknown) => {
      if (/FIB table does not exist/.test(String((err as { stderr?: unknown }).stderr))) return '';
      throw err;
    }),
  );

void describe('weft cleanup (real kernel)', () => {
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'weft-cleanup-'));
    await ip('link', 'set', 'lo', 'up');
    for (const [table, priority, prefix] of [
      [String(WEFT_TABLE.id), String(WEFT_RULE_PRIORITY), '10.98.0.0/24'],
      // What kernel-libipsec's charon leaves after a SIGKILL: its rule and a route of its table.
      [String(CHARON_TABLE.id), String(CHARON_RULE_PRIORITY), '10.99.0.0/24'],
      [FOREIGN.table, FOREIGN.priority, '10.97.0.0/24'],
    ] as const) {
      await ip('rule', 'add', 'priority', priority, 'table', table);
      await ip('route', 'add', 'unreachable', prefix, 'table', table);
    }
    await ip('-6', 'rule', 'add', 'priority', String(CHARON_RULE_PRIORITY), 'table', String(CHARON_TABLE.id));
    // What the IPsec driver adds for a NETMAP link, and somebody else's address on lo.
    await ip('address', 'add', '10.96.0.1/32', 'dev', 'lo', 'label', WEFT_LOOPBACK_LABEL);
    await ip('address', 'add', '10.95.0.1/32', 'dev', 'lo', 'label', 'lo:other');
  });

  after(() => rmSync(dataDir, { recursive: true, force: true }));

  void it('removes Weft’s and charon’s rules and routes, leaves others’', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [MAIN, 'cleanup', '--data-dir', dataDir]);
    assert.match(stdout, /removed the routes and rules Weft owns/);
    for (const table of [WEFT_TABLE.id, CHARON_TABLE.id]) {
      for (const family of ['-4', '-6']) {
        assert.deepEqual(await shown(family, 'rule', 'show', 'table', String(table)), [], `rules ${table}`);
        assert.deepEqual(await shown(family, 'route', 'show', 'table', String(table)), [], `routes ${table}`);
      }
    }
    assert.equal((await shown('rule', 'show', 'table', FOREIGN.table)).length, 1);
    assert.equal((await shown('route', 'show', 'table', FOREIGN.table)).length, 1);
    const lo = (await shown('-4', 'address', 'show', 'dev', 'lo')).join('\n');
    assert.doesNotMatch(lo, /10\.96\.0\.1/, 'the lo:weft address is gone');
    assert.match(lo, /10\.95\.0\.1\/32 .*lo:other/, 'the other address stays');
  });
});
