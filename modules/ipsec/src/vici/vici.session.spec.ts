// The session and the typed commands against FakeViciServer on a temporary UNIX socket, and against a
// scripted transport where the exact order of sends and answers matters.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeViciServer, type FakeViciServerOptions } from '../testing/fake-vici-server.js';
import { ViciClient } from './vici.commands.js';
import {
  ViciAbortedError,
  ViciCommandFailedError,
  ViciCommandUnknownError,
  ViciEventError,
  ViciParseError,
  ViciTimeoutError,
  ViciTransportError,
} from './vici.errors.js';
import { encodeMessage } from './vici.message.js';
import { decodePacket, encodePacket, type ViciPacket } from './vici.packet.js';
import { ViciSession, type ViciEvent } from './vici.session.js';
import type { ViciTransport, ViciTransportHandlers } from './vici.transport.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-vici-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
let server: FakeViciServer | undefined;
let session: ViciSession | undefined;

async function start(
  options: FakeViciServerOptions = {},
): Promise<{ fake: FakeViciServer; client: ViciClient }> {
  server = await FakeViciServer.listen(join(dir, `s${n++}.vici`), options);
  session = await ViciSession.connect(server.path, { timeoutMs: 2000 });
  return { fake: server, client: new ViciClient(session) };
}

afterEach(async () => {
  session?.close();
  await server?.close();
  session = server = undefined;
});

async function until(what: string, condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const ikeSa = (state: string, extra: Record<string, unknown> = {}) => ({
  uniqueid: '1',
  version: '2',
  state,
  'local-host': '192.0.2.1',
  'remote-host': '192.0.2.2',
  initiator: 'yes',
  ...extra,
});

describe('ViciSession against a fake charon', () => {
  it('runs version', async () => {
    const { client } = await start();
    assert.deepEqual(await client.version(), {
      daemon: 'charon',
      version: '5.9.8',
      sysname: 'Linux',
      release: '6.18.0',
      machine: 'x86_64',
    });
  });

  it('gives raw bytes with requestRaw, and still throws on success=no', async () => {
    const { client } = await start({
      commands: {
        cert: () => ({ data: Uint8Array.of(0x30, 0x82, 0xff) }),
        bad: () => ({ success: 'no', errmsg: 'bad' }),
      },
    });
    assert.deepEqual((await client.session.requestRaw('cert'))['data'], Buffer.from([0x30, 0x82, 0xff]));
    await assert.rejects(client.session.requestRaw('bad'), ViciCommandFailedError);
  });

  it('answers concurrent commands each with its own response', async () => {
    const { fake, client } = await start({
      commands: {
        echo: async (req) => {
          await sleep(Number(req['delay']));
          return { said: req['say'] ?? '' };
        },
      },
    });
    const s = client.session;
    const replies = await Promise.all(
      [30, 0, 10, 0].map((delay, i) => s.request('echo', { say: `r${i}`, delay })),
    );
    assert.deepEqual(
      replies.map((r) => r['said']),
      ['r0', 'r1', 'r2', 'r3'],
    );
    assert.deepEqual(
      fake.receivedOf('cmd-request', 'echo').map((r) => r.message?.['say']),
      ['r0', 'r1', 'r2', 'r3'],
    );
  });

  it('throws ViciCommandUnknownError on a bare CMD_UNKNOWN', async () => {
    const { client } = await start();
    await assert.rejects(client.session.request('no-such-command'), (err: Error) => {
      assert.ok(err instanceof ViciCommandUnknownError);
      assert.equal(err.command, 'no-such-command');
      assert.equal(err.kind, 'unavailable');
      return true;
    });
    assert.equal((await client.version()).daemon, 'charon'); // still usable
  });

  it('throws ViciCommandFailedError with errmsg on success=no', async () => {
    const { client } = await start({
      commands: {
        'unload-conn': (req) => ({
          success: 'no',
          errmsg: `unload: connection '${req['name'] as string}' not found`,
        }),
      },
    });
    await assert.rejects(client.unloadConn('gone'), (err: Error) => {
      assert.ok(err instanceof ViciCommandFailedError);
      assert.equal(err.errmsg, "unload: connection 'gone' not found");
      assert.equal(err.kind, 'not-found');
      return true;
    });
  });

  it('loads a connection wrapped in its name', async () => {
    const { fake, client } = await start({ commands: { 'load-conn': () => ({ success: 'yes' }) } });
    await client.loadConn('site-b', {
      version: 2,
      local_addrs: ['192.0.2.1'],
      children: { net: { mode: 'tunnel' } },
    });
    assert.deepEqual(fake.receivedOf('cmd-request', 'load-conn')[0]?.message, {
      'site-b': { version: '2', local_addrs: ['192.0.2.1'], children: { net: { mode: 'tunnel' } } },
    });
  });

  it('never puts a PSK or private key into an error', async () => {
    const psk = 'correct-horse-battery-staple';
    const key = '-----BEGIN PRIVATE KEY-----\nMIIsecretsecret\n-----END PRIVATE KEY-----';
    const { fake, client } = await start({
      commands: {
        'load-shared': () => ({ success: 'no', errmsg: 'invalid shared key type' }),
        'load-key': () => ({ success: 'no', errmsg: 'parsing ANY private key failed' }),
      },
    });
    const errors: unknown[] = [];
    await client
      .loadShared({ id: 'k', type: 'IKE', data: psk, owners: ['a', 'b'] })
      .catch((e: unknown) => errors.push(e));
    await client.loadKey({ type: 'any', data: key }).catch((e: unknown) => errors.push(e));
    await client
      .loadShared({ type: 'IKE', data: psk.repeat(3000), owners: [] })
      .catch((e: unknown) => errors.push(e)); // too long to encode
    assert.equal(errors.length, 3);
    for (const err of errors) {
      const e = err as Error;
      const all = `${e.message} ${e.stack ?? ''} ${JSON.stringify(e)} ${String(e.cause)} ${Object.values(e).join(' ')}`;
      assert.ok(!all.includes(psk) && !all.includes('secretsecret'), `leaked in: ${all}`);
    }
    assert.equal(fake.receivedOf('cmd-request', 'load-shared')[0]?.message?.['data'], psk); // it did go over VICI
  });

  it('throws ViciEventError when charon does not know an event', async () => {
    const { client } = await start();
    await assert.rejects(client.session.subscribe('no-such-event'), ViciEventError);
    await assert.rejects(client.session.subscribe(['log', 'no-such-event']), ViciEventError);
    assert.equal((await client.version()).daemon, 'charon');
  });

  it('fans events out to every subscriber and registers each name once', async () => {
    const { fake, client } = await start();
    const a = await client.session.subscribe('log');
    const b = await client.session.subscribe(['log', 'ike-updown']);
    assert.equal(fake.receivedOf('event-register', 'log').length, 1);
    fake.emit('log', { group: 'IKE', level: '1', thread: '7', msg: 'one' });
    fake.emit('ike-updown', { up: 'yes', conn: ikeSa('ESTABLISHED') });
    fake.emit('log', { group: 'IKE', level: '1', thread: '7', msg: 'two' });
    const take = async (sub: AsyncIterable<ViciEvent>, count: number): Promise<string[]> => {
      const out: string[] = [];
      for await (const ev of sub) {
        out.push(`${ev.name}:${(ev.message['msg'] ?? ev.message['up']) as string}`);
        if (out.length === count) break;
      }
      return out;
    };
    assert.deepEqual(await take(a, 2), ['log:one', 'log:two']);
    assert.deepEqual(await take(b, 3), ['log:one', 'ike-updown:yes', 'log:two']);
    // `break` closed both; the last holder of each name unregisters it.
    await until('unregisters', () => fake.receivedOf('event-unregister').length === 2);
    assert.deepEqual(
      fake
        .receivedOf('event-unregister')
        .map((r) => r.name)
        .sort(),
      ['ike-updown', 'log'],
    );
  });

  it('keeps a registration while another subscriber holds it', async () => {
    const { fake, client } = await start();
    const a = await client.session.subscribe('log');
    const b = await client.session.subscribe('log');
    await a.close();
    assert.equal(fake.receivedOf('event-unregister').length, 0);
    fake.emit('log', { msg: 'still' });
    const it = b[Symbol.asyncIterator]();
    const next: IteratorResult<ViciEvent> = await it.next();
    assert.equal(next.done ? undefined : next.value.message['msg'], 'still');
    await b.close();
    assert.equal(fake.receivedOf('event-unregister', 'log').length, 1);
  });

  it('types ike-updown, child-updown, rekeys and log events', async () => {
    const { fake, client } = await start();
    const ike = await client.subscribeIkeUpdown();
    const child = await client.subscribeChildUpdown();
    const ikeRekey = await client.subscribeIkeRekey();
    const childRekey = await client.subscribeChildRekey();
    const log = await client.subscribeLog();
    const childSa = {
      name: 'net',
      uniqueid: '3',
      reqid: '1',
      state: 'INSTALLED',
      'local-ts': ['10.1.0.0/16'],
    };
    fake.emit('ike-updown', { conn: ikeSa('DELETING') }); // down: charon sends no `up` at all
    fake.emit('child-updown', {
      up: 'yes',
      conn: ikeSa('ESTABLISHED', { 'child-sas': { 'net-3': childSa } }),
    });
    fake.emit('ike-rekey', { conn: { old: ikeSa('REKEYED'), new: ikeSa('ESTABLISHED', { uniqueid: '2' }) } });
    fake.emit('child-rekey', {
      conn: {
        ...ikeSa('ESTABLISHED'),
        'child-sas': { net: { old: childSa, new: { ...childSa, uniqueid: '4' } } },
      },
    });
    fake.emit('log', {
      group: 'CFG',
      level: '1',
      thread: '12',
      'ikesa-name': 'conn',
      'ikesa-uniqueid': '1',
      msg: 'hi',
    });
    const first = async <T>(s: AsyncIterable<T>): Promise<T> => {
      for await (const v of s) return v;
      throw new Error('ended');
    };
    const down = await first(ike);
    assert.equal(down.up, false);
    assert.equal(down.ikeSa.name, 'conn');
    assert.equal(down.ikeSa.state, 'DELETING');
    const up = await first(child);
    assert.equal(up.up, true);
    assert.equal(up.childSa?.name, 'net');
    assert.deepEqual(up.childSa?.localTs, ['10.1.0.0/16']);
    const rk = await first(ikeRekey);
    assert.equal(rk.new.uniqueId, 2);
    const crk = await first(childRekey);
    assert.equal(crk.old.uniqueId, 3);
    assert.equal(crk.new.uniqueId, 4);
    assert.deepEqual(await first(log), {
      group: 'CFG',
      level: 1,
      thread: 12,
      ikeSaName: 'conn',
      ikeSaUniqueId: 1,
      message: 'hi',
    });
  });

  it('collects list-sa events until the list-sas response, then unregisters', async () => {
    const { fake, client } = await start({
      commands: {
        'list-sas': (_req, conn) => {
          conn.emit('list-sa', {
            a: ikeSa('ESTABLISHED', {
              'child-sas': { 'net-1': { name: 'net', state: 'INSTALLED', 'bytes-in': '42' } },
            }),
          });
          conn.emit('list-sa', { b: ikeSa('CONNECTING', { uniqueid: '2' }) });
          return {};
        },
      },
    });
    const sas = await client.listSas();
    assert.deepEqual(
      sas.map((sa) => [sa.name, sa.state, sa.uniqueId]),
      [
        ['a', 'ESTABLISHED', 1],
        ['b', 'CONNECTING', 2],
      ],
    );
    assert.equal(sas[0]?.childSas[0]?.bytesIn, 42);
    await until('unregister', () => fake.receivedOf('event-unregister', 'list-sa').length === 1);
    assert.deepEqual(
      fake.received.map((r) => `${r.type} ${r.name ?? ''}`),
      ['event-register list-sa', 'cmd-request list-sas', 'event-unregister list-sa'],
    );
  });

  it('lists connections from list-conn events', async () => {
    const { client } = await start({
      commands: {
        'list-conns': (_req, conn) => {
          conn.emit('list-conn', {
            'site-b': {
              local_addrs: ['192.0.2.1'],
              remote_addrs: ['192.0.2.2'],
              version: 'IKEv2',
              children: {
                net: { mode: 'TUNNEL', 'local-ts': ['10.1.0.0/16'], 'remote-ts': ['10.2.0.0/16'] },
              },
            },
          });
          return {};
        },
      },
    });
    const conns = await client.listConns();
    assert.equal(conns.length, 1);
    assert.equal(conns[0]?.name, 'site-b');
    assert.deepEqual(conns[0]?.children, [
      { name: 'net', mode: 'TUNNEL', localTs: ['10.1.0.0/16'], remoteTs: ['10.2.0.0/16'] },
    ]);
  });

  it('unregisters after a streamed command times out, and the late answer is not taken for the next', async () => {
    const { fake, client } = await start({
      commands: {
        'list-sas': async (_req, conn) => {
          conn.emit('list-sa', { late: ikeSa('ESTABLISHED') });
          await sleep(150);
          return { late: 'yes' };
        },
      },
    });
    const t0 = Date.now();
    await assert.rejects(client.listSas({}, { timeoutMs: 30 }), ViciTimeoutError);
    assert.ok(Date.now() - t0 < 140, 'the caller got its timeout without waiting for charon');
    const v = await client.session.request('version');
    assert.equal(v['late'], undefined);
    assert.equal(v['daemon'], 'charon');
    await until('unregister', () => fake.receivedOf('event-unregister', 'list-sa').length === 1);
  });

  it('unregisters after a streamed command is aborted', async () => {
    const { fake, client } = await start({
      commands: { 'list-sas': () => sleep(50).then(() => ({})) },
    });
    const controller = new AbortController();
    const pending = client.listSas({}, { signal: controller.signal });
    await until('the request', () => fake.receivedOf('cmd-request', 'list-sas').length === 1);
    controller.abort();
    await assert.rejects(pending, ViciAbortedError);
    await until('unregister', () => fake.receivedOf('event-unregister', 'list-sa').length === 1);
  });

  it('unregisters after a streamed command fails (CMD_UNKNOWN, success=no)', async () => {
    const { fake, client } = await start({
      commands: {
        'list-sas': () => ({ unknown: true }),
        'list-conns': () => ({ success: 'no', errmsg: 'nope' }),
      },
    });
    await assert.rejects(client.listSas(), ViciCommandUnknownError);
    await assert.rejects(client.listConns(), ViciCommandFailedError);
    await until('unregisters', () => fake.receivedOf('event-unregister').length === 2);
    assert.deepEqual(
      fake.receivedOf('event-unregister').map((r) => r.name),
      ['list-sa', 'list-conn'],
    );
  });

  it('returns the control-log of initiate, and carries it on failure', async () => {
    let succeed = true;
    const { fake, client } = await start({
      commands: {
        initiate: (req, conn) => {
          conn.emit('control-log', {
            group: 'IKE',
            level: '1',
            'ikesa-name': req['ike'],
            'ikesa-uniqueid': '5',
            msg: 'initiating IKE_SA',
          });
          if (succeed) return { success: 'yes' };
          conn.emit('control-log', {
            group: 'IKE',
            level: '1',
            msg: 'received AUTHENTICATION_FAILED notify error',
          });
          return { success: 'no', errmsg: 'establishing CHILD_SA failed' };
        },
      },
    });
    const ok = await client.initiate({ child: 'net', ike: 'site-b', timeoutMs: 5000 });
    assert.deepEqual(ok.log, [
      { group: 'IKE', level: 1, ikeSaName: 'site-b', ikeSaUniqueId: 5, message: 'initiating IKE_SA' },
    ]);
    assert.deepEqual(fake.receivedOf('cmd-request', 'initiate')[0]?.message, {
      child: 'net',
      ike: 'site-b',
      timeout: '5000',
    });
    succeed = false;
    await assert.rejects(client.initiate({ child: 'net', ike: 'site-b' }), (err: Error) => {
      assert.ok(err instanceof ViciCommandFailedError);
      assert.equal(err.kind, 'unavailable');
      assert.equal(err.errmsg, 'establishing CHILD_SA failed');
      assert.deepEqual(
        err.log.map((l) => l.message),
        ['initiating IKE_SA', 'received AUTHENTICATION_FAILED notify error'],
      );
      return true;
    });
    await until('unregisters', () => fake.receivedOf('event-unregister', 'control-log').length === 2);
  });

  it('sends the selector names charon reads (ike-id, child-id) and noblock only when asked', async () => {
    const { fake, client } = await start({
      commands: { terminate: () => ({ success: 'yes' }), 'list-sas': () => ({}) },
    });
    await client.terminate({ ikeId: 3, childId: 4, force: true, timeoutMs: -1 });
    await client.listSas({ ikeId: 3, noblock: false });
    await client.listSas({ noblock: true });
    assert.deepEqual(fake.receivedOf('cmd-request', 'terminate')[0]?.message, {
      'child-id': '4',
      'ike-id': '3',
      force: 'yes',
      timeout: '-1',
    });
    assert.deepEqual(
      fake.receivedOf('cmd-request', 'list-sas').map((r) => r.message),
      [{ 'ike-id': '3' }, { noblock: 'yes' }],
    );
  });

  it('does not hand control-log events to a streamed command that is not the one running', async () => {
    const { fake, client } = await start({
      commands: {
        terminate: () => sleep(20).then(() => ({ success: 'yes' })),
        initiate: (_req, conn) => {
          conn.emit('control-log', { msg: 'mine' });
          return { success: 'yes' };
        },
      },
    });
    const [t, i] = await Promise.all([client.terminate({ ike: 'x' }), client.initiate({ child: 'y' })]);
    assert.deepEqual(t.log, []);
    assert.deepEqual(
      i.log.map((l) => l.message),
      ['mine'],
    );
    assert.equal(fake.receivedOf('event-register', 'control-log').length >= 1, true);
  });

  it('ends every subscription and rejects pending calls when charon hangs up', async () => {
    const { fake, client } = await start({ commands: { hang: () => ({ hangUp: true }) } });
    const sub = await client.session.subscribe('log');
    fake.emit('log', { msg: 'before' });
    const seen: string[] = [];
    const loop = (async () => {
      for await (const ev of sub) seen.push(ev.message['msg'] as string);
    })();
    await assert.rejects(client.session.request('hang'), ViciTransportError);
    await loop; // ended, not hung
    assert.deepEqual(seen, ['before']);
    assert.ok((await client.session.closed) instanceof ViciTransportError);
    await assert.rejects(client.version(), ViciTransportError);
  });

  it('close() ends subscriptions and rejects queued calls', async () => {
    const { client } = await start({ commands: { slow: () => sleep(200).then(() => ({})) } });
    const sub = await client.session.subscribe('log');
    const calls = [client.session.request('slow'), client.session.request('version')];
    client.session.close();
    for (const call of calls) await assert.rejects(call, ViciTransportError);
    const it = sub[Symbol.asyncIterator]();
    assert.deepEqual(await it.next(), { value: undefined, done: true });
    assert.equal(await client.session.closed, undefined);
  });

  it('ends a subscription when its signal aborts', async () => {
    const { fake, client } = await start();
    const controller = new AbortController();
    const sub = await client.session.subscribe('log', { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    for await (const _ of sub) assert.fail('no events were sent');
    await until('unregister', () => fake.receivedOf('event-unregister', 'log').length === 1);
  });

  it('cuts off a subscriber that falls too far behind, with a ViciEventError', async () => {
    const { fake, client } = await start();
    const sub = await client.session.subscribe('log', { maxQueued: 2 });
    for (let i = 0; i < 5; i++) fake.emit('log', { msg: `m${i}` });
    await client.version(); // everything emitted has been read by the session
    const seen: string[] = [];
    await assert.rejects(async () => {
      for await (const ev of sub) seen.push(ev.message['msg'] as string);
    }, ViciEventError);
    assert.deepEqual(seen, ['m0', 'm1']);
  });

  it('times out a command charon does not answer, and a call waiting behind it', async () => {
    const { client } = await start({ commands: { stuck: () => sleep(300).then(() => ({})) } });
    const stuck = client.session.request('stuck', {}, { timeoutMs: 30 });
    const queued = client.session.request('version', {}, { timeoutMs: 60 });
    await assert.rejects(stuck, ViciTimeoutError);
    await assert.rejects(queued, ViciTimeoutError);
    assert.equal((await client.version({ timeoutMs: 1000 })).daemon, 'charon');
  });

  it('closes the session on a malformed packet from charon', async () => {
    const { fake, client } = await start({
      commands: {
        garbage: (_req, conn) => {
          conn.sendRaw(Buffer.from([0, 0, 0, 1, 42])); // packet type 42
          return new Promise(() => undefined);
        },
      },
    });
    await assert.rejects(client.session.request('garbage'), ViciTransportError);
    assert.ok((await client.session.closed) instanceof ViciParseError);
    assert.ok(fake.connections.length === 1);
  });

  it('reports an unreachable socket as ViciTransportError', async () => {
    await assert.rejects(ViciSession.connect(join(dir, 'nobody.vici')), (err: Error) => {
      assert.ok(err instanceof ViciTransportError);
      assert.match(err.message, /ENOENT/);
      return true;
    });
  });
});

/** A transport that records what the session sends and lets the test answer by hand. */
class ScriptedTransport implements ViciTransport {
  readonly sent: ViciPacket[] = [];
  handlers!: ViciTransportHandlers;
  start(handlers: ViciTransportHandlers): void {
    this.handlers = handlers;
  }
  send(payload: Buffer): void {
    this.sent.push(decodePacket(payload));
  }
  close(): void {
    this.handlers.closed(undefined);
  }
  answer(packet: ViciPacket): void {
    this.handlers.frame(encodePacket(packet));
  }
}

describe('ViciSession exchange order', () => {
  let transport: ScriptedTransport;
  let s: ViciSession;
  beforeEach(() => {
    transport = new ScriptedTransport();
    s = new ViciSession(transport, { timeoutMs: 1000 });
  });
  afterEach(() => s.close());

  it('keeps one exchange in flight: the next is sent only after the answer', async () => {
    const a = s.request('a');
    const b = s.request('b');
    const sub = s.subscribe('log');
    await sleep(5);
    assert.deepEqual(
      transport.sent.map((p) => p.type),
      ['cmd-request'],
    );
    transport.answer({ type: 'cmd-response', message: encodeMessage({ r: 'a' }) });
    assert.equal((await a)['r'], 'a');
    assert.equal(transport.sent.length, 2);
    transport.answer({ type: 'cmd-response', message: encodeMessage({ r: 'b' }) });
    assert.equal((await b)['r'], 'b');
    assert.deepEqual(transport.sent[2], { type: 'event-register', name: 'log' });
    transport.answer({ type: 'event-confirm' });
    await sub;
  });

  it('treats an answer of the wrong kind as a protocol error', async () => {
    const a = s.request('a');
    transport.answer({ type: 'event-confirm' });
    await assert.rejects(a, ViciTransportError);
    assert.ok((await s.closed) instanceof ViciParseError);
  });

  it('treats an answer nobody asked for as a protocol error', async () => {
    transport.answer({ type: 'cmd-response', message: Buffer.alloc(0) });
    assert.ok((await s.closed) instanceof ViciParseError);
  });

  it('reports a malformed response body to its caller and stays open', async () => {
    const a = s.request('a');
    transport.answer({ type: 'cmd-response', message: Buffer.from([9]) });
    await assert.rejects(a, ViciParseError);
    assert.equal(s.isClosed, false);
  });

  it('sends unregister after register when a subscriber gives up while registering', async () => {
    const controller = new AbortController();
    const sub = s.subscribe('log', { signal: controller.signal });
    await sleep(1);
    controller.abort();
    await assert.rejects(sub, ViciAbortedError);
    transport.answer({ type: 'event-confirm' });
    await sleep(1);
    assert.deepEqual(transport.sent, [
      { type: 'event-register', name: 'log' },
      { type: 'event-unregister', name: 'log' },
    ]);
  });
});
