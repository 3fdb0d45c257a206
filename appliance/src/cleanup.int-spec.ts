// `weft cleanup` as an operator runs it (the compiled main.js, a child process), inside the namespace
// tools/test.mjs makes: it removes Weft's table and rule and what a SIGKILLed charon leaves in its own
// table (core's owned.ts), the addresses it labelled lo:weft, the multicast forwarder's nft table and
// the appliance's smcrouted (by the pid file under its data dir), and nothing else.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  NodeProcessRunner,
  type ProcessHandle,
} from '@weft/core';
import { assertInsideThrowawayNetns, ip, waitUntil } from '@weft/core/testing';

assertInsideThrowawayNetns();

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));
/** Somebody else's table and rule, which cleanup must leave alone. */
const FOREIGN = { table: '100', priority: '6000' };

const processes = new NodeProcessRunner();
const nft = (script: string): Promise<unknown> => processes.run('nft', ['-f', '-'], { input: script });
const nftList = async (): Promise<string> => (await processes.run('nft', ['list', 'tables'])).stdout;

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
  let smcrouted: ProcessHandle | undefined;

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
    // What a killed appliance leaves of multicast: the nftables forwarder's table, and its smcrouted
    // (started here as the appliance starts it: its socket and pid file under <data dir>/multicast).
    await nft('add table ip weft_mcast\nadd table ip someone_elses\n');
    const dir = join(dataDir, 'multicast');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'smcroute.conf'), '');
    smcrouted = await processes.spawn(
      'smcrouted',
      [
        '-n',
        '-N',
        '-f',
        join(dir, 'smcroute.conf'),
        '-u',
        join(dir, 'smcroute.sock'),
        '-P',
        join(dir, 'smcroute.pid'),
      ],
      { output: { kind: 'ignore' } },
    );
    await waitUntil(() => existsSync(join(dir, 'smcroute.pid')), 'smcrouted to write its pid file');
  });

  after(async () => {
    smcrouted?.kill('SIGKILL');
    await nft('delete table ip someone_elses\n').catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

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
    const tables = await nftList();
    assert.doesNotMatch(tables, /weft_mcast/, 'the multicast table is gone');
    assert.match(tables, /table ip someone_elses/, 'the other table stays');
    const exit = await Promise.race([
      smcrouted?.exited,
      new Promise((r) => setTimeout(() => r('running'), 5000)),
    ]);
    assert.notEqual(exit, 'running', 'our smcrouted was ended');
  });
});
