// The VICI client against the real charon (strongSwan 5.9.8), inside the network namespace that
// tools/test.mjs gives this file. charon writes the compiled-in pid file /run/charon.pid, so it runs in
// a private mount namespace with a tmpfs on /run (charon/testing/private-run.sh), with its own
// strongswan.conf (STRONGSWAN_CONF) and VICI socket in a temporary directory. It is stopped by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertInsideThrowawayNetns } from '@weft/core/testing';
import { PRIVATE_RUN_LAUNCHER } from '../charon/testing/private-run.js';
import { ViciClient } from './vici.commands.js';
import { ViciCommandFailedError, ViciCommandUnknownError, ViciEventError } from './vici.errors.js';
import { ViciSession } from './vici.session.js';
import type { ViciLogLine } from './vici.types.js';

assertInsideThrowawayNetns();

const CHARON = '/usr/lib/ipsec/charon';
const PLUGINS =
  'random nonce aes sha1 sha2 hmac pem pkcs1 x509 pubkey gmp curve25519 kdf kernel-libipsec kernel-netlink socket-default vici';
const PSK = 'int-spec-psk-0123456789abcdef';

function strongswanConf(dir: string): string {
  return `charon {
  load = ${PLUGINS}
  install_routes = no
  plugins {
    vici {
      socket = unix://${join(dir, 'charon.vici')}
    }
  }
  filelog {
    charon {
      path = ${join(dir, 'charon.log')}
      default = 1
      flush_line = yes
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
}
`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ViciClient against charon 5.9.8', () => {
  let dir: string;
  let charon: ChildProcess | undefined;
  let client: ViciClient;
  const log: ViciLogLine[] = [];

  before(async () => {
    // A fresh namespace has lo down; charon's kernel-netlink wants an address to work with.
    await promisify(execFile)('ip', ['link', 'set', 'lo', 'up']);
    dir = await mkdtemp(join(tmpdir(), 'weft-vici-int-'));
    const conf = join(dir, 'strongswan.conf');
    await writeFile(conf, strongswanConf(dir), { mode: 0o600 });
    const [launcher = 'unshare', ...launcherArgs] = PRIVATE_RUN_LAUNCHER;
    charon = spawn(launcher, [...launcherArgs, CHARON], {
      env: { ...process.env, STRONGSWAN_CONF: conf },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    charon.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const socket = join(dir, 'charon.vici');
    await until(`charon's VICI socket (stderr: ${stderr})`, async () => {
      if (charon?.exitCode !== null) throw new Error(`charon exited ${charon?.exitCode}: ${stderr}`);
      return (await stat(socket).catch(() => undefined))?.isSocket() ? true : undefined;
    });
    client = new ViciClient(await ViciSession.connect(socket, { timeoutMs: 5000 }));
    const stream = await client.subscribeLog();
    void (async () => {
      for await (const line of stream) log.push(line);
    })();
  });

  after(async () => {
    client?.session.close();
    const pid = charon?.pid;
    if (charon && pid !== undefined && charon.exitCode === null) {
      const exited = new Promise((resolve) => charon?.once('exit', resolve));
      process.kill(pid, 'SIGTERM');
      await Promise.race([exited, sleep(5000, undefined, { ref: false })]);
      if (alive(pid)) {
        process.kill(pid, 'SIGKILL');
        await exited;
      }
    }
    if (pid !== undefined) assert.equal(alive(pid), false, 'charon is gone');
    await rm(dir, { recursive: true, force: true });
  });

  it('answers version and stats', async () => {
    const version = await client.version();
    assert.equal(version.daemon, 'charon');
    assert.equal(version.version, '5.9.8');
    const stats = await client.stats();
    assert.ok(stats.plugins.includes('vici'), stats.plugins.join(' '));
    assert.ok(stats.plugins.includes('kernel-libipsec'));
    assert.equal(stats.ikeSas.total, 0);
    assert.ok(stats.workers.total > 0);
  });

  it('answers an unknown command with CMD_UNKNOWN and an unknown event with EVENT_UNKNOWN', async () => {
    await assert.rejects(client.session.request('no-such-command'), ViciCommandUnknownError);
    await assert.rejects(client.session.subscribe('no-such-event'), ViciEventError);
    assert.equal((await client.version()).daemon, 'charon');
  });

  it('loads a PSK and a connection, lists it, and streams the log', async () => {
    await client.loadShared({ id: 'weft-int', type: 'IKE', data: PSK, owners: ['moon.weft', 'sun.weft'] });
    await client.loadConn('weft-int', {
      version: 2,
      local_addrs: ['192.0.2.1'],
      remote_addrs: ['192.0.2.2'],
      proposals: ['aes256gcm16-prfsha256-x25519'],
      local: { auth: 'psk', id: 'moon.weft' },
      remote: { auth: 'psk', id: 'sun.weft' },
      children: {
        net: { local_ts: ['10.1.0.0/16'], remote_ts: ['10.2.0.0/16'], esp_proposals: ['aes256gcm16-x25519'] },
      },
    });
    assert.deepEqual(await client.getConns(), ['weft-int']);
    const conns = await client.listConns();
    const conn = conns.find((c) => c.name === 'weft-int');
    assert.ok(conn, JSON.stringify(conns));
    assert.deepEqual(conn.localAddrs, ['192.0.2.1']);
    assert.deepEqual(conn.remoteAddrs, ['192.0.2.2']);
    assert.equal(conn.version, 'IKEv2');
    assert.deepEqual(
      conn.children.map((c) => [c.name, c.localTs, c.remoteTs]),
      [['net', ['10.1.0.0/16'], ['10.2.0.0/16']]],
    );
    const line = await until('a log event about the loaded connection', () =>
      Promise.resolve(log.find((l) => l.message.includes('added vici connection: weft-int'))),
    );
    assert.equal(line.group, 'CFG');
    const file = await readFile(join(dir, 'charon.log'), 'utf8');
    assert.ok(!file.includes(PSK), 'charon does not log the PSK');
  });

  it('lists no SAs while none is up', async () => {
    assert.deepEqual(await client.listSas(), []);
  });

  it('returns the control-log of a failed initiate with the error', async () => {
    // Nobody answers at 192.0.2.2 (no route in this namespace): charon gives up after `timeoutMs`.
    await assert.rejects(
      client.initiate({ child: 'net', ike: 'weft-int', timeoutMs: 1000 }, { timeoutMs: 5000 }),
      (err: Error) => {
        assert.ok(err instanceof ViciCommandFailedError, String(err));
        assert.ok(err.errmsg, 'charon says why');
        assert.ok(err.log.length > 0, 'control-log lines came with the failure');
        assert.ok(
          err.log.some((l) => l.message.includes('initiating IKE_SA weft-int')),
          err.log.map((l) => l.message).join('\n'),
        );
        return true;
      },
    );
    const sas = await client.listSas({ ike: 'weft-int' });
    assert.ok(sas.length > 0 && sas[0]?.state === 'CONNECTING', JSON.stringify(sas.map((sa) => sa.raw)));
    for (const sa of sas) await client.terminate({ ikeId: sa.uniqueId, force: true, timeoutMs: -1 });
    await until('no SA left', async () => ((await client.listSas()).length === 0 ? true : undefined));
  });

  it('unloads the connection and the PSK; a second unload fails with charon’s errmsg', async () => {
    await client.unloadConn('weft-int');
    assert.deepEqual(await client.getConns(), []);
    await assert.rejects(client.unloadConn('weft-int'), (err: Error) => {
      assert.ok(err instanceof ViciCommandFailedError);
      assert.ok(err.errmsg);
      return true;
    });
    await client.unloadShared('weft-int');
  });

  it('refuses a bad load-shared without the secret in the error', async () => {
    await assert.rejects(
      client.loadShared({ type: 'BOGUS' as 'IKE', data: PSK, owners: ['x'] }),
      (err: Error) => {
        assert.ok(err instanceof ViciCommandFailedError, String(err));
        assert.ok(!err.message.includes(PSK) && !(err.errmsg ?? '').includes(PSK));
        return true;
      },
    );
  });
});
