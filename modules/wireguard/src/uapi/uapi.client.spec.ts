import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceNotFoundError, UapiErrnoError, UapiProtocolError, UapiTimeoutError } from '../errors.js';
import { generateKeyPair, generatePresharedKey } from '../keys.js';
import { createServer } from 'node:net';
import { FakeUapiServer, type FakeReply } from '../testing/fake-uapi-server.js';
import { UapiClient } from './uapi.client.js';

void describe('UapiClient against a fake UAPI server on a UNIX socket', () => {
  let dir: string;
  let client: UapiClient;
  const servers: FakeUapiServer[] = [];
  const serve = async (name: string, respond?: (request: string) => FakeReply): Promise<FakeUapiServer> => {
    const server = await FakeUapiServer.listen(join(dir, `${name}.sock`), respond ? { respond } : {});
    servers.push(server);
    return server;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-uapi-'));
    client = new UapiClient({ socketDir: dir, timeoutMs: 500 });
  });
  after(async () => {
    for (const s of servers) await s.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  void it('sets and gets a device, keys converted both ways', async () => {
    const server = await serve('wg0');
    const me = generateKeyPair();
    const peer = generateKeyPair();
    const psk = generatePresharedKey();
    await client.set('wg0', {
      privateKey: me.privateKey,
      listenPort: 51820,
      peers: [
        {
          publicKey: peer.publicKey,
          presharedKey: psk,
          endpoint: '192.0.2.1:51820',
          allowedIps: ['10.0.0.0/8'],
        },
      ],
    });
    assert.equal(server.listenPort, 51820);
    const state = await client.get('wg0');
    assert.equal(state.privateKey, me.privateKey);
    assert.equal(state.listenPort, 51820);
    assert.equal(state.peers.length, 1);
    assert.equal(state.peers[0]?.publicKey, peer.publicKey);
    assert.equal(state.peers[0]?.presharedKey, psk);
    assert.deepEqual(state.peers[0]?.allowedIps, ['10.0.0.0/8']);
    assert.equal(server.requests[0]?.startsWith('set=1\nprivate_key='), true);
    assert.equal(server.requests[1], 'get=1\n\n');
  });

  void it('turns errno=N into UapiErrnoError naming the errno', async () => {
    await serve('wgerr', () => 'errno=-22\n\n');
    await assert.rejects(
      client.set('wgerr', { listenPort: 1 }),
      (err: Error) =>
        err instanceof UapiErrnoError &&
        err.code === 'EINVAL' &&
        err.errno === -22 &&
        /EINVAL/.test(err.message),
    );
    await assert.rejects(client.get('wgerr'), UapiErrnoError);
  });

  void it('raises UapiProtocolError on truncated and garbage replies', async () => {
    await serve('wgcut', (req) =>
      req.startsWith('get') ? { hangUp: true, reply: 'listen_port=1\nerr' } : { hangUp: true },
    );
    await assert.rejects(
      client.get('wgcut'),
      (err: Error) => err instanceof UapiProtocolError && /middle of a reply/.test(err.message),
    );
    await assert.rejects(
      client.set('wgcut', {}),
      (err: Error) => err instanceof UapiProtocolError && /without a reply/.test(err.message),
    );
    await serve('wgjunk', () => '\u0000\u00ff garbage\n\n');
    await assert.rejects(client.get('wgjunk'), UapiProtocolError);
    await serve('wgmore', () => 'errno=0\n\nerrno=0\n\n');
    await assert.rejects(client.set('wgmore', {}), UapiProtocolError);
  });

  void it('times out on a server that keeps a truncated reply open, or never answers', async () => {
    await serve('wghalf', () => 'listen_port=1\n');
    await assert.rejects(client.get('wghalf', { timeoutMs: 50 }), UapiTimeoutError);
  });

  void it('times out on a server that never answers, and honours an AbortSignal', async () => {
    await serve('wgmute', () => '');
    await assert.rejects(client.get('wgmute', { timeoutMs: 50 }), UapiTimeoutError);
    const abort = new AbortController();
    const pending = client.get('wgmute', { signal: abort.signal, timeoutMs: 5000 });
    abort.abort();
    await assert.rejects(
      pending,
      (err: Error) => err instanceof UapiTimeoutError && /aborted/.test(err.message),
    );
  });

  void it('reports DeviceNotFoundError when no socket is there, or nobody listens on it', async () => {
    await assert.rejects(client.get('nosuch'), DeviceNotFoundError);
    const stale = await serve('wgstale');
    await stale.close({ leaveSocketFile: true });
    await assert.rejects(client.get('wgstale'), DeviceNotFoundError);
  });

  void it('gets a reply that arrives one byte at a time', async () => {
    const reply = 'listen_port=7\nerrno=0\n\n';
    const path = join(dir, 'wgdrip.sock');
    const drip = createServer((socket) => {
      socket.once('data', () => {
        let i = 0;
        const timer = setInterval(() => {
          socket.write(reply.slice(i, i + 1));
          if (++i === reply.length) clearInterval(timer);
        }, 1);
      });
    });
    await new Promise<void>((resolve) => drip.listen(path, resolve));
    try {
      assert.equal((await client.get('wgdrip')).listenPort, 7);
    } finally {
      await new Promise<void>((resolve) => drip.close(() => resolve()));
    }
  });
});
