// IPsec links end to end, through the APIs alone. Three sites on the fake internet (../../README.md):
//
//   LAN a ── gw a (appliance, charon) ══ IPsec ══ gw b (appliance, charon) ── LAN b
//                 ╚═══════════ IPsec ═══════════ gw c (stock charon + swanctl, a third-party device) ── LAN c
//
// First the doctor: a wrong pre-shared key, then proposals with nothing in common, each named in the
// link status; then the repaired link carries LAN traffic, survives kill -9 of charon, and a
// third-party strongSwan loaded from the exported swanctl.conf links to site a.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applySiteSettings, captureUnderlay, Lab, linkIpsec, waitFor, type Site } from '../../lib/index.js';

type Json = Record<string, unknown>;
const PSK = 'weft-e2e-shared-secret-0001';

async function ping(from: Site, address: string): Promise<boolean> {
  try {
    await from.lanExec(['ping', '-n', '-q', '-c', '1', '-W', '1', address]);
    return true;
  } catch {
    return false;
  }
}

async function linkStatus(site: Site, name: string): Promise<Json> {
  return (await site.api.get<Json>(`/links/${name}/status`)).body;
}

function diagnosisOf(status: Json): { code?: string; message?: string; fix?: string } {
  return status.diagnosis ?? {};
}

describe('IPsec links', { timeout: 300_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let c: Site;
  let bundle: Json;
  let handCharon: ChildProcess | undefined;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b', 'c'], name: 'ipsec' });
    [a, b, c] = [lab.site('a'), lab.site('b'), lab.site('c')];
    await applySiteSettings(a);
    await applySiteSettings(b);
  });
  after(async () => {
    if (handCharon?.pid !== undefined && handCharon.exitCode === null) {
      const exited = new Promise((r) => handCharon?.once('exit', r));
      handCharon.kill('SIGTERM');
      await exited;
    }
    await lab?.destroy();
  });

  it('a wrong pre-shared key: the link status says "authentication failed" within 30 s', async () => {
    const pair = await linkIpsec(a, b, PSK);
    assert.deepEqual(pair, { onA: 'to-b', onB: 'site-a' });
    bundle = (await a.api.get<Json>('/links/to-b/peer-config?format=weft')).body;
    const wrong = {
      ...bundle,
      ipsec: { ...(bundle.ipsec as Json), preshared_key: 'not-the-same-secret-at-all' },
    };
    assert.equal((await b.api.put('/links/site-a', wrong)).status, 200);
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'link to-b names the authentication failure',
      until: (s) => diagnosisOf(s).code === 'authentication-failed',
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    assert.equal(status.state, 'down');
    assert.match(diagnosisOf(status).message ?? '', /authentication failed/);
    assert.match(diagnosisOf(status).fix ?? '', /preshared_key/);
  });

  it('proposals with nothing in common: "no proposal chosen", with both lists', async () => {
    const legacy = {
      ...bundle,
      ipsec: { ...(bundle.ipsec as Json), ike_proposals: ['aes128-sha256-modp2048'] },
    };
    assert.equal((await b.api.put('/links/site-a', legacy)).status, 200);
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'link to-b names the proposal mismatch with both lists',
      until: (s) =>
        diagnosisOf(s).code === 'no-proposal-chosen' &&
        /AES_CBC_128/.test(diagnosisOf(s).message ?? '') &&
        /AES_GCM_16_256/.test(diagnosisOf(s).message ?? ''),
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    assert.match(diagnosisOf(status).fix ?? '', /ike_proposals/);
  });

  it('repaired, LAN a pings LAN b; the underlay carries ESP in UDP, never the ICMP in clear', async () => {
    assert.equal((await b.api.put('/links/site-a', bundle)).status, 200);
    await waitFor(() => ping(a, b.lanHost), { what: 'LAN a pings LAN b through IPsec', timeoutMs: 30_000 });
    assert.ok(await ping(b, a.lanHost), 'and back');

    const lines = await captureUnderlay(a, 8, () =>
      a.lanExec(['ping', '-n', '-q', '-c', '6', '-i', '0.2', '-s', '200', b.lanHost]),
    );
    assert.ok(lines.length >= 8, lines.join('\n'));
    for (const line of lines) {
      assert.match(line, /UDP-encap|ESP|\.4500[ :]|\.500[ :]/, line);
      assert.doesNotMatch(line, /ICMP/, line);
    }
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'to-b up',
      until: (s) => s.state === 'up',
      timeoutMs: 10_000,
    });
    const sa = status.ipsec as Json;
    assert.equal(sa.ike_state, 'ESTABLISHED');
    assert.equal(sa.child_state, 'INSTALLED');
    assert.equal(typeof sa.spi_in, 'string');
    assert.equal(status.diagnosis, null);
  });

  it('kill -9 of charon: the appliance restarts it and the tunnel comes back without a config change', async () => {
    const etag = (await a.api.get('/config')).headers.etag;
    const pid = Number((await readFile(join(a.dir, 'run', 'charon.pid'), 'utf8')).trim());
    assert.ok(pid > 1, 'charon runs');
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => {
        const now = Number(
          (await readFile(join(a.dir, 'run', 'charon.pid'), 'utf8').catch(() => '0')).trim(),
        );
        return now !== pid && now > 1;
      },
      { what: 'a new charon', timeoutMs: 20_000, intervalMs: 250 },
    );
    await waitFor(() => ping(a, b.lanHost), {
      what: 'traffic back after the restart',
      timeoutMs: 45_000,
      intervalMs: 500,
    });
    assert.equal((await a.api.get('/config')).headers.etag, etag, 'no config change');
  });

  it('IKEv1 main mode for a legacy peer: the same link, re-made with version ikev1, carries traffic', async () => {
    const current = (await a.api.get<Json>('/links/to-b')).body;
    const v1 = { ...current, ipsec: { ...(current.ipsec as Json), version: 'ikev1', preshared_key: PSK } };
    delete (v1.ipsec as Json).preshared_key_set;
    assert.equal((await a.api.put('/links/to-b', v1)).status, 200);
    const legacyBundle = (await a.api.get<Json>('/links/to-b/peer-config?format=weft')).body;
    assert.equal((legacyBundle.ipsec as Json).version, 'ikev1');
    assert.equal((await b.api.put('/links/site-a', legacyBundle)).status, 200);
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'to-b up over IKEv1',
      until: (s) => s.state === 'up' && (s.ipsec as Json | null)?.ike_version === 1,
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    assert.equal((status.ipsec as Json).child_state, 'INSTALLED');
    assert.ok(await ping(a, b.lanHost));
    // Aggressive mode is refused unless explicitly allowed (it leaks a crackable hash of the key).
    const aggressive = { ...v1, ipsec: { ...(v1.ipsec as Json), ikev1_mode: 'aggressive' } };
    const refused = await a.api.put('/links/to-b', aggressive);
    assert.equal(refused.status, 422, JSON.stringify(refused.body));
    assert.match(JSON.stringify(refused.body), /allow_aggressive_mode/);
  });

  it('a third-party strongSwan loaded from the exported swanctl.conf links to site a', async () => {
    const made = await a.api.post('/links', {
      name: 'to-c',
      type: 'ipsec',
      remote_subnets: [c.lanPrefix],
      ipsec: { preshared_key: PSK, remote_id: c.wanAddress },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const exported = await a.api.get<string>('/links/to-c/peer-config?format=swanctl');
    assert.equal(exported.status, 200, JSON.stringify(exported.body));
    assert.match(String(exported.headers['content-type']), /text\/plain/);
    // The device's own set-up, written by hand: its strongswan.conf (kernel-libipsec, as this kernel has
    // no ESP) and the exported file as its swanctl.conf.
    const dir = c.dir;
    const vici = join(dir, 'hand-charon.vici');
    await writeFile(
      join(dir, 'hand-strongswan.conf'),
      [
        'charon {',
        '  load = random nonce openssl kdf pem pkcs1 pkcs8 x509 pubkey curve25519 kernel-libipsec kernel-netlink socket-default vici',
        `  plugins { vici { socket = unix://${vici} } }`,
        `  filelog { hand { path = ${join(dir, 'hand-charon.log')}\n default = 1\n flush_line = yes } }`,
        '}',
        '',
      ].join('\n'),
    );
    const conf = join(dir, 'swanctl-from-weft.conf');
    await writeFile(conf, exported.body, { mode: 0o600 });
    const pid = c.pid;
    assert.ok(pid !== undefined);
    handCharon = spawn(
      'nsenter',
      [
        '-t',
        String(pid),
        '-m',
        '-n',
        '--',
        'env',
        `STRONGSWAN_CONF=${join(dir, 'hand-strongswan.conf')}`,
        '/usr/lib/ipsec/charon',
      ],
      { stdio: 'ignore', detached: true },
    );
    await waitFor(
      () =>
        c.applianceExec(['swanctl', '--stats', '--uri', `unix://${vici}`]).then(
          () => true,
          () => false,
        ),
      {
        what: 'the hand-run charon answers',
        timeoutMs: 10_000,
        intervalMs: 100,
      },
    );
    await c.applianceExec(['swanctl', '--load-all', '--noprompt', '--file', conf, '--uri', `unix://${vici}`]);
    await waitFor(() => ping(c, a.lanHost), {
      what: 'LAN c pings LAN a through the third-party strongSwan',
      timeoutMs: 30_000,
    });
    assert.ok(await ping(a, c.lanHost));
    const status = await waitFor(() => linkStatus(a, 'to-c'), {
      what: 'to-c up',
      until: (s) => s.state === 'up',
      timeoutMs: 10_000,
    });
    assert.equal(status.endpoint, `${c.wanAddress}:4500`);
  });

  it('deleting the links unloads them; with the last one charon stops', async () => {
    assert.equal((await a.api.delete('/links/to-c')).status, 200);
    assert.equal((await a.api.delete('/links/to-b')).status, 200);
    await waitFor(
      () =>
        readFile(join(a.dir, 'run', 'charon.pid'), 'utf8').then(
          () => false,
          () => true,
        ),
      {
        what: 'charon stopped',
        timeoutMs: 10_000,
      },
    );
    assert.equal(await ping(a, b.lanHost), false, 'no way through any more');
  });
});
