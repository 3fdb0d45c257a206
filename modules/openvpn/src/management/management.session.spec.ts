// The session and typed commands against the fake server on a real temporary UNIX socket.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { FakeManagementServer, SERVER_STATUS_3 } from '../testing/fake-management-server.js';
import { ManagementClient } from './management.commands.js';
import {
  ManagementAbortedError,
  ManagementCommandFailedError,
  ManagementParseError,
  ManagementTimeoutError,
  ManagementTransportError,
} from './management.errors.js';
import { ManagementSession } from './management.session.js';

let server: FakeManagementServer | undefined;
let session: ManagementSession | undefined;

async function setUp(
  options: Parameters<typeof FakeManagementServer.start>[0] = {},
): Promise<{ fake: FakeManagementServer; client: ManagementClient }> {
  const fake = await FakeManagementServer.start(options);
  server = fake;
  session = await ManagementSession.connect(fake.path, { timeoutMs: 2000 });
  return { fake, client: new ManagementClient(session) };
}

afterEach(async () => {
  session?.close();
  await server?.close();
  session = server = undefined;
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

async function take<T>(iterable: AsyncIterable<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  if (n === 0) return out;
  for await (const item of iterable) {
    out.push(item);
    if (out.length >= n) break;
  }
  return out;
}

describe('ManagementClient over the fake server', () => {
  it('state, status 3 (p2p), state on all, log on all', async () => {
    const { fake, client } = await setUp();
    const state = await client.state();
    assert.equal(state.name, 'CONNECTED');
    assert.equal(state.remotePort, 1195);
    const status = await client.status();
    assert.equal(status.mode, 'p2p');
    assert.equal(status.mode === 'p2p' ? status.linkReadBytes : 0, 2111);
    const history = await client.stateOn({ history: true });
    assert.deepEqual(
      history.map((s) => s.name),
      ['CONNECTING', 'ASSIGN_IP', 'WAIT', 'AUTH', 'CONNECTED'],
    );
    const log = await client.logOn({ history: true });
    assert.equal(log.at(-1)?.message, "MANAGEMENT: CMD 'log on all'");
    assert.deepEqual(fake.received, ['state', 'status 3', 'state on all', 'log on all']);
  });

  it('status 3 in server mode, kill with a count, kill of an unknown name → not-found', async () => {
    const { client } = await setUp({
      commands: {
        'status 3': SERVER_STATUS_3,
        'kill site-b': ["SUCCESS: common name 'site-b' found, 2 client(s) killed"],
        'kill nobody': ["ERROR: common name 'nobody' not found"],
      },
    });
    const status = await client.status();
    assert.equal(status.mode === 'server' ? status.clients.length : -1, 2);
    assert.equal(await client.kill('site-b'), 2);
    await assert.rejects(client.kill('nobody'), (err: unknown) => {
      assert.ok(err instanceof ManagementCommandFailedError);
      assert.equal(err.kind, 'not-found');
      assert.equal(err.reason, "common name 'nobody' not found");
      return true;
    });
    await assert.rejects(client.kill('two words'), /cannot pass common name/);
  });

  it('notifications interleaved inside a multi-line reply reach subscribers; the reply stays whole', async () => {
    const { fake, client } = await setUp({
      byteByByte: true,
      commands: {
        'status 3': [
          'OpenVPN STATISTICS',
          '>BYTECOUNT:2111,2110',
          'Updated,2026-11-22 11:00:12',
          '>STATE:1795345214,RECONNECTING,SIGUSR1,,,,,',
          ">LOG:1795345212,D,MANAGEMENT: CMD 'status 3'",
          'TCP/UDP read bytes,2111',
          'END',
        ],
      },
    });
    const states = client.states();
    const logs = client.logs();
    const counts = client.byteCounts();
    const status = await client.status();
    assert.deepEqual(status.mode === 'p2p' ? status.counters : {}, { 'TCP/UDP read bytes': 2111 });
    assert.deepEqual(await take(counts, 1), [{ bytesIn: 2111, bytesOut: 2110 }]);
    assert.equal((await take(states, 1))[0]?.description, 'SIGUSR1');
    assert.equal((await take(logs, 1))[0]?.message, "MANAGEMENT: CMD 'status 3'");
    assert.equal(fake.received.length, 1);
  });

  it('bytecount 1 then >BYTECOUNT: and >BYTECOUNT_CLI: as they come', async () => {
    const { fake, client } = await setUp();
    const counts = client.byteCounts();
    await client.bytecount(1);
    const conn = await fake.connection();
    conn.send('>BYTECOUNT:2039,2038', '>BYTECOUNT_CLI:0,2261,2135');
    assert.deepEqual(await take(counts, 2), [
      { bytesIn: 2039, bytesOut: 2038 },
      { clientId: 0, bytesIn: 2261, bytesOut: 2135 },
    ]);
    await assert.rejects(client.bytecount(-1), /whole number/);
  });

  it('commands are serialized: the second is sent only once the first is answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { fake, client } = await setUp({
      commands: {
        state: async () => {
          await gate;
          return ['1795345208,CONNECTED,SUCCESS,10.99.0.1,127.0.0.1,1195,127.0.0.1,1194', 'END'];
        },
      },
    });
    const first = client.state();
    const second = client.holdRelease();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(fake.received, ['state']);
    release();
    assert.equal((await first).name, 'CONNECTED');
    await second;
    assert.deepEqual(fake.received, ['state', 'hold release']);
  });

  it('a timed-out command keeps its slot until its late answer, which is dropped', async () => {
    const { fake, client } = await setUp({ commands: { state: () => ({ silent: true }) } });
    await assert.rejects(client.state({ timeoutMs: 50 }), ManagementTimeoutError);
    const next = client.signal('SIGUSR1');
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(fake.received, ['state'], 'the next command waits for the late answer');
    (await fake.connection()).send('1795345208,CONNECTED,SUCCESS,,,,,', 'END');
    await next;
    assert.deepEqual(fake.received, ['state', 'signal SIGUSR1']);
  });

  it('an aborted queued command is never sent', async () => {
    const { fake, client } = await setUp({ commands: { state: () => ({ silent: true }) } });
    const first = client.state({ timeoutMs: 5000 });
    const controller = new AbortController();
    const queued = client.holdRelease({ signal: controller.signal });
    controller.abort();
    await assert.rejects(queued, ManagementAbortedError);
    await until(() => fake.received.length === 1);
    (await fake.connection()).send('1795345208,CONNECTED,SUCCESS,,,,,', 'END');
    await first;
    assert.deepEqual(fake.received, ['state']);
  });

  it('unknown command → ERROR reason kept verbatim', async () => {
    const { client } = await setUp();
    await assert.rejects(client.session.command('bogus', 'single'), (err: unknown) => {
      assert.ok(err instanceof ManagementCommandFailedError);
      assert.equal(err.reason, "unknown command [bogus], enter 'help' for more options");
      assert.equal(err.kind, 'unavailable');
      return true;
    });
  });

  it('when openvpn goes away: pending calls reject, subscriptions end, closed says why', async () => {
    const { client } = await setUp({ commands: { 'status 3': () => ({ hangUp: true }) } });
    const logs = client.logs();
    const drained = take(logs, 10);
    await assert.rejects(client.status(), ManagementTransportError);
    assert.deepEqual(await drained, []);
    assert.ok((await client.session.closed) instanceof ManagementTransportError);
    await assert.rejects(client.state(), ManagementTransportError);
    // A subscription made after the end ends at once.
    assert.deepEqual(await take(client.states(), 5), []);
  });

  it('a reply line with nothing pending desynchronises the stream: the session closes', async () => {
    const { fake, client } = await setUp();
    (await fake.connection()).send('SUCCESS: out of nowhere');
    assert.ok((await client.session.closed) instanceof ManagementParseError);
  });

  it('close() by us: subscriptions end, closed resolves undefined', async () => {
    const { client } = await setUp();
    const states = client.states();
    client.session.close();
    assert.deepEqual(await take(states, 1), []);
    assert.equal(await client.session.closed, undefined);
  });

  it('a subscription ends when its signal aborts; a slow one is cut off', async () => {
    const { fake, client } = await setUp();
    const controller = new AbortController();
    const states = client.states({ signal: controller.signal });
    controller.abort();
    assert.deepEqual(await take(states, 1), [], 'aborted');
    const slow = client.logs({ maxQueued: 2 });
    (await fake.connection()).send('>LOG:1,,a', '>LOG:1,,b', '>LOG:1,,c');
    await client.holdRelease(); // its reply comes after the three lines: they are all read by now
    await assert.rejects(take(slow, 5), /fell 2 notifications behind/);
  });
});
