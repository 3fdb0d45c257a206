import { beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NftError, NftService, NftUnavailableError } from './nft.service.js';
import { renderNftCleanup, renderNftScript } from './nft.render.js';
import { emptyNftDesired, type NftDesired } from './nft.types.js';
import { CommandError, InvalidArgumentError } from '../errors.js';
import type { ProcessHandle, ProcessRunner, RunOptions } from '../system/process.adapter.js';

interface Call {
  file: string;
  args: readonly string[];
  input?: string;
}

/** Answers `nft` calls from a queue; anything unexpected fails the test. */
class FakeRunner implements ProcessRunner {
  readonly calls: Call[] = [];
  readonly replies: Array<(call: Call) => { stdout: string; stderr: string }> = [];
  nftPath: string | undefined = '/usr/sbin/nft';

  spawn(): Promise<ProcessHandle> {
    return Promise.reject(new Error('nft is never spawned'));
  }

  async run(
    file: string,
    args: readonly string[],
    options: RunOptions = {},
  ): Promise<{ stdout: string; stderr: string }> {
    await Promise.resolve(); // answer asynchronously, as a real process does
    const call: Call = { file, args, ...(options.input !== undefined ? { input: options.input } : {}) };
    this.calls.push(call);
    const reply = this.replies.shift();
    if (!reply) throw new Error(`unexpected call: ${file} ${args.join(' ')}`);
    return reply(call);
  }

  findExecutable(name: string): Promise<string | undefined> {
    assert.equal(name, 'nft');
    return Promise.resolve(this.nftPath);
  }

  ok(stdout = ''): void {
    this.replies.push(() => ({ stdout, stderr: '' }));
  }

  fail(stderr: string, exitCode = 1): void {
    this.replies.push((c) => {
      throw new CommandError([c.file, ...c.args].join(' '), exitCode, stderr);
    });
  }
}

// What nft 1.0.6 prints for the table `desired` below renders to (captured from `nft -j list table inet weft`).
const META =
  '{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}';
const CHAINS =
  '{"table": {"family": "inet", "name": "weft", "handle": 2}}, ' +
  '{"chain": {"family": "inet", "table": "weft", "name": "prerouting", "handle": 1, "type": "nat", "hook": "prerouting", "prio": -100, "policy": "accept"}}, ' +
  '{"chain": {"family": "inet", "table": "weft", "name": "postrouting", "handle": 2, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}}, ' +
  '{"chain": {"family": "inet", "table": "weft", "name": "forward", "handle": 3, "type": "filter", "hook": "forward", "prio": -150, "policy": "accept"}}';
const MASQ_RULE = (handle: number): string =>
  `{"rule": {"family": "inet", "table": "weft", "chain": "postrouting", "handle": ${handle}, "comment": "masquerade", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wan0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.1.0.0", "len": 24}}}}, {"masquerade": null}]}}`;
const MSS_RULE = (handle: number): string =>
  `{"rule": {"family": "inet", "table": "weft", "chain": "forward", "handle": ${handle}, "comment": "mss wg0", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "wg0"}}, {"match": {"op": "in", "left": {"payload": {"protocol": "tcp", "field": "flags"}}, "right": "syn"}}, {"mangle": {"key": {"tcp option": {"name": "maxseg", "field": "size"}}, "value": {"rt": {"key": "mtu"}}}}]}}`;
const HAND_RULE = (packets: number): string =>
  `{"rule": {"family": "inet", "table": "weft", "chain": "postrouting", "handle": 6, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "eth9"}}, {"counter": {"packets": ${packets}, "bytes": ${packets * 84}}}, {"masquerade": null}]}}`;
const listing = (...items: string[]): string => `{"nftables": [${[META, ...items].join(', ')}]}\n`;
const ABSENT = 'Error: No such file or directory\nlist table inet weft\n                ^^^^\n';

const desired = (): NftDesired => ({
  masquerade: { underlay: 'wan0', sources: ['10.1.0.0/24'] },
  portForwards: [],
  netmaps: [],
  mssClamp: [{ device: 'wg0' }],
});

void describe('NftService', () => {
  let runner: FakeRunner;
  let nft: NftService;

  beforeEach(() => {
    runner = new FakeRunner();
    nft = new NftService(runner);
  });

  void describe('apply', () => {
    void it('runs one nft -f - with the script on stdin, then reads the table back', async () => {
      runner.ok();
      runner.ok(listing(CHAINS, MASQ_RULE(4), MSS_RULE(5)));
      await nft.apply(desired());
      assert.deepEqual(runner.calls, [
        { file: '/usr/sbin/nft', args: ['-f', '-'], input: renderNftScript(desired()) },
        { file: '/usr/sbin/nft', args: ['-j', 'list', 'table', 'inet', 'weft'] },
      ]);
    });

    void it('runs behind the launcher (another network namespace)', async () => {
      nft = new NftService(runner, { launcher: ['nsenter', '-t', '4242', '-n', '--'] });
      runner.ok();
      runner.ok(listing(CHAINS));
      await nft.apply(emptyNftDesired());
      assert.deepEqual(
        runner.calls.map((c) => [c.file, ...c.args].join(' ')),
        [
          'nsenter -t 4242 -n -- /usr/sbin/nft -f -',
          'nsenter -t 4242 -n -- /usr/sbin/nft -j list table inet weft',
        ],
      );
    });

    void it('throws with nft’s stderr lines when nft refuses the script', async () => {
      const stderr =
        '/dev/stdin:10:5-14: Error: Could not process rule: Operation not supported\n    masquerade\n    ^^^^^^^^^^\n';
      runner.fail(stderr);
      await assert.rejects(nft.apply(desired()), (err: unknown) => {
        assert.ok(err instanceof NftError, String(err));
        assert.deepEqual(err.stderrLines, [
          '/dev/stdin:10:5-14: Error: Could not process rule: Operation not supported',
          '    masquerade',
          '    ^^^^^^^^^^',
        ]);
        assert.match(
          err.message,
          /^nft refused the new table inet weft \(the kernel keeps the one it had\):\n/,
        );
        assert.ok(err.message.includes('Could not process rule: Operation not supported'));
        assert.ok(err.cause instanceof CommandError);
        return true;
      });
      assert.equal(runner.calls.length, 1, 'nothing read back after a refusal');
    });

    void it('runs nothing for an invalid desired', async () => {
      const bad = desired();
      bad.mssClamp.push({ device: 'wg0' });
      assert.throws(() => nft.apply(bad), InvalidArgumentError);
      await assert.rejects(nft.drifted(bad), InvalidArgumentError);
      assert.equal(runner.calls.length, 0);
    });

    void it('says how to install nft when it is missing', async () => {
      runner.nftPath = undefined;
      await assert.rejects(nft.apply(desired()), (err: unknown) => {
        assert.ok(err instanceof NftUnavailableError);
        assert.equal(err.message, 'nftables is not installed: apt install nftables');
        return true;
      });
      await assert.rejects(nft.observe(), NftUnavailableError);
      await assert.rejects(nft.cleanup(), NftUnavailableError);
      assert.equal(runner.calls.length, 0);
    });
  });

  void describe('observe', () => {
    void it('is undefined when the table is absent', async () => {
      runner.fail(ABSENT);
      assert.equal(await nft.observe(), undefined);
    });

    void it('rethrows any other failure with its stderr', async () => {
      runner.fail('Error: Could not receive data: Operation not permitted\n');
      await assert.rejects(
        nft.observe(),
        /nft could not list table inet weft:\nError: Could not receive data/,
      );
    });

    void it('normalizes: chains by name, rules in kernel order, no handles, no counter values', async () => {
      runner.ok(listing(CHAINS, MASQ_RULE(4), HAND_RULE(17), MSS_RULE(5)));
      const observed = await nft.observe();
      assert.deepEqual(
        observed?.chains.map((c) => [c.name, c.type, c.hook, c.prio, c.policy, c.rules.length]),
        [
          ['forward', 'filter', 'forward', -150, 'accept', 1],
          ['postrouting', 'nat', 'postrouting', 100, 'accept', 2],
          ['prerouting', 'nat', 'prerouting', -100, 'accept', 0],
        ],
      );
      assert.deepEqual(observed?.chains[1]?.rules[1], {
        expr: [
          { match: { op: '==', left: { meta: { key: 'oifname' } }, right: 'eth9' } },
          { counter: null },
          { masquerade: null },
        ],
      });
      assert.ok(!JSON.stringify(observed).includes('handle'));
    });

    void it('ignores what belongs to other tables in the listing', async () => {
      runner.ok(
        listing(
          CHAINS,
          '{"chain": {"family": "ip", "table": "weft", "name": "x", "handle": 1}}',
          '{"set": {"family": "inet", "table": "weft", "name": "blocked", "handle": 9, "type": "ipv4_addr", "elem": ["192.0.2.9"]}}',
        ),
      );
      const observed = await nft.observe();
      assert.deepEqual(
        observed?.chains.map((c) => c.name),
        ['forward', 'postrouting', 'prerouting'],
      );
      assert.deepEqual(observed?.objects, [
        { kind: 'set', name: 'blocked', body: { type: 'ipv4_addr', elem: ['192.0.2.9'] } },
      ]);
    });
  });

  void describe('drifted', () => {
    const applied = async (): Promise<void> => {
      runner.ok();
      runner.ok(listing(CHAINS, MASQ_RULE(4), MSS_RULE(5)));
      await nft.apply(desired());
    };

    void it('is true before any apply, without asking the kernel', async () => {
      assert.deepEqual(await nft.drifted(desired()), {
        drifted: true,
        differences: ['table inet weft not applied yet'],
      });
      assert.equal(runner.calls.length, 0);
    });

    void it('is false when the kernel still lists the same rules (other handles, other counters)', async () => {
      await applied();
      runner.ok(listing(CHAINS, MASQ_RULE(40), MSS_RULE(50)));
      assert.deepEqual(await nft.drifted(desired()), { drifted: false, differences: [] });
    });

    void it('is true for another desired', async () => {
      await applied();
      const other = desired();
      other.mssClamp = [];
      assert.deepEqual(await nft.drifted(other), {
        drifted: true,
        differences: ['table inet weft was last applied from another desired state'],
      });
    });

    void it('names a rule added by hand', async () => {
      await applied();
      runner.ok(listing(CHAINS, MASQ_RULE(4), HAND_RULE(3), MSS_RULE(5)));
      assert.deepEqual(await nft.drifted(desired()), {
        drifted: true,
        differences: ['rule added in chain postrouting: oifname "eth9" counter masquerade'],
      });
    });

    void it('names a rule deleted by hand, and a chain added', async () => {
      await applied();
      runner.ok(
        listing(
          CHAINS,
          MSS_RULE(5),
          '{"chain": {"family": "inet", "table": "weft", "name": "extra", "handle": 9}}',
        ),
      );
      assert.deepEqual(await nft.drifted(desired()), {
        drifted: true,
        differences: [
          'rule missing from chain postrouting: oifname "wan0" ip saddr 10.1.0.0/24 masquerade comment "masquerade"',
          'chain extra added (0 rules)',
        ],
      });
    });

    void it('names a chain whose policy was changed', async () => {
      await applied();
      runner.ok(
        listing(
          CHAINS.replace('"prio": -150, "policy": "accept"', '"prio": -150, "policy": "drop"'),
          MASQ_RULE(4),
          MSS_RULE(5),
        ),
      );
      assert.deepEqual((await nft.drifted(desired())).differences, [
        'chain forward changed: type filter hook forward priority -150 policy accept → type filter hook forward priority -150 policy drop',
      ]);
    });

    void it('says the table is missing', async () => {
      await applied();
      runner.fail(ABSENT);
      assert.deepEqual(await nft.drifted(desired()), {
        drifted: true,
        differences: ['table inet weft missing'],
      });
    });

    void it('is true again after cleanup', async () => {
      await applied();
      runner.ok();
      await nft.cleanup();
      assert.equal((await nft.drifted(desired())).drifted, true);
    });
  });

  void describe('cleanup', () => {
    void it('deletes our table only, in one nft -f -', async () => {
      runner.ok();
      await nft.cleanup();
      assert.deepEqual(runner.calls, [
        { file: '/usr/sbin/nft', args: ['-f', '-'], input: renderNftCleanup() },
      ]);
    });
  });

  void it('does not interleave an observe with an apply', async () => {
    const order: string[] = [];
    runner.replies.push(
      (c) => (order.push(`start ${c.args.join(' ')}`), { stdout: '', stderr: '' }),
      (c) => (order.push(`read ${c.args.join(' ')}`), { stdout: listing(CHAINS), stderr: '' }),
      (c) => (order.push(`observe ${c.args.join(' ')}`), { stdout: listing(CHAINS), stderr: '' }),
    );
    await Promise.all([nft.apply(emptyNftDesired()), nft.observe()]);
    assert.deepEqual(order, [
      'start -f -',
      'read -j list table inet weft',
      'observe -j list table inet weft',
    ]);
  });
});
