// OpenVPN p2p links end to end, through the APIs alone. Two sites on the fake internet:
//
//   LAN a ── gw a (appliance, openvpn client) ══ OpenVPN UDP 1194, tls-crypt ══ gw b (appliance, openvpn server) ── LAN b
//
// A makes the link with B's CA (GET /appliance) and B's endpoint; B imports A's bundle as-is (it carries
// A's CA, the tls-crypt key and the opposite TLS role). Then: LAN traffic crosses the tunnel and only
// UDP 1194 shows on the underlay; kill -9 of B's openvpn comes back by itself; the doctor names a key
// mismatch and a cipher mismatch made on B's side; deleting the link removes the process and routes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  captureUnderlay,
  importPeerConfig,
  Lab,
  waitFor,
  type Site,
  ping,
  linkStatus,
  caOf,
  diagnosisOf,
  type Json,
} from '../../lib/index.js';

/** The PID of the openvpn process of `link` on `site`, from the appliance's pid file. */
async function openvpnPid(site: Site, link: string): Promise<number> {
  const text = await readFile(join(site.dataDir, 'openvpn', link, 'openvpn.pid'), 'utf8').catch(() => '0');
  return Number(text.trim());
}

/** A well-formed tls-crypt key that is not the one the other side has. */
function otherTlsCryptKey(): string {
  const lines = Array.from({ length: 16 }, (_, i) => i.toString(16).padStart(2, '0').repeat(16));
  return ['-----BEGIN OpenVPN Static key V1-----', ...lines, '-----END OpenVPN Static key V1-----', ''].join(
    '\n',
  );
}

describe('OpenVPN p2p links', { timeout: 300_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let bundle: Json;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b'], name: 'openvpn' });
    [a, b] = [lab.site('a'), lab.site('b')];
    await applySiteSettings(a);
    await applySiteSettings(b);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('A links to B through the two APIs; LAN a pings LAN b; the underlay carries only UDP 1194', async () => {
    const made = await a.api.post('/links', {
      name: 'to-b',
      type: 'openvpn',
      remote_endpoint: `${b.wanAddress}:1194`,
      remote_subnets: [b.lanPrefix],
      // A short keepalive: a peer whose far end restarted notices within 10 s (ping-restart), not 60.
      openvpn: { remote_ca: await caOf(b), keepalive_interval: 2, keepalive_timeout: 10 },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const shown = (await a.api.get<Json>('/links/to-b')).body.openvpn as Json;
    assert.equal(shown.tls_crypt_key, undefined, 'the tls-crypt key is never shown');
    assert.equal(shown.tls_crypt_key_set, true, 'the appliance made one');

    bundle = (await a.api.get<Json>('/links/to-b/peer-config?format=weft')).body;
    const theirs = bundle.openvpn as Json;
    assert.equal(theirs.role, 'server');
    assert.equal(theirs.listen_port, 1194);
    assert.equal(theirs.remote_ca, await caOf(a));
    assert.match(String(theirs.tls_crypt_key), /BEGIN OpenVPN Static key V1/);
    assert.equal(await importPeerConfig(a, b, 'to-b'), 'site-a');

    await waitFor(() => ping(a, b.lanHost), { what: 'LAN a pings LAN b through OpenVPN', timeoutMs: 30_000 });
    assert.ok(await ping(b, a.lanHost), 'and back');

    const lines = await captureUnderlay(a, 8, () =>
      a.lanExec(['ping', '-n', '-q', '-c', '6', '-i', '0.2', '-s', '200', b.lanHost]),
    );
    assert.ok(lines.length >= 8, lines.join('\n'));
    for (const line of lines) {
      assert.match(line, /\.1194[ :]/, line);
      assert.match(line, /UDP/, line);
      assert.doesNotMatch(line, /ICMP/, line);
    }

    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'to-b up',
      until: (s) => s.state === 'up',
      timeoutMs: 15_000,
    });
    assert.equal(status.type, 'openvpn');
    assert.equal(status.endpoint, `${b.wanAddress}:1194`);
    assert.ok(Number(status.rx_bytes) > 0 && Number(status.tx_bytes) > 0, JSON.stringify(status));
    assert.equal(status.diagnosis, null);
    const onB = await waitFor(() => linkStatus(b, 'site-a'), {
      what: 'site-a up on b',
      until: (s) => s.state === 'up',
      timeoutMs: 15_000,
    });
    assert.match(String(onB.endpoint), new RegExp(`^${a.wanAddress.replace(/\./g, '\\.')}:`));
  });

  it('kill -9 of the remote openvpn: traffic is back without intervention', async () => {
    const etag = (await b.api.get('/config')).headers.etag;
    const pid = await openvpnPid(b, 'site-a');
    assert.ok(pid > 1, 'openvpn runs on b');
    process.kill(pid, 'SIGKILL');
    await waitFor(
      async () => (await openvpnPid(b, 'site-a')) !== pid && (await openvpnPid(b, 'site-a')) > 1,
      {
        what: 'a new openvpn on b',
        timeoutMs: 20_000,
        intervalMs: 250,
      },
    );
    await waitFor(() => ping(a, b.lanHost), {
      what: 'traffic back after the restart',
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    assert.equal((await b.api.get('/config')).headers.etag, etag, 'no config change');
  });

  it('a tls-crypt key that differs on B: the link status names the key mismatch', async () => {
    const wrong = { ...bundle, openvpn: { ...(bundle.openvpn as Json), tls_crypt_key: otherTlsCryptKey() } };
    const put = await b.api.put('/links/site-a', wrong);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    // B receives A's packets and sees them fail the check; A only sees no answer, which tls-crypt makes
    // look like a blocked port, so A's cause says both.
    const onB = await waitFor(() => linkStatus(b, 'site-a'), {
      what: 'link site-a on b names the tls-crypt key mismatch',
      until: (s) => diagnosisOf(s).code === 'tls-key-mismatch',
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    assert.equal(onB.state, 'down');
    assert.match(diagnosisOf(onB).fix ?? '', /tls_crypt_key/);
    const onA = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'link to-b names no answer, with the key as a possible cause',
      until: (s) => diagnosisOf(s).code === 'peer-unreachable',
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    assert.notEqual(onA.state, 'up');
    assert.match(diagnosisOf(onA).message ?? '', /tls-crypt/);
    assert.match(diagnosisOf(onA).fix ?? '', /tls_crypt_key/);
  });

  it('data ciphers with nothing in common: the link status names the cipher mismatch', async () => {
    const legacy = { ...bundle, openvpn: { ...(bundle.openvpn as Json), data_ciphers: ['AES-128-GCM'] } };
    const put = await b.api.put('/links/site-a', legacy);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'link to-b names the cipher mismatch',
      until: (s) => diagnosisOf(s).code === 'cipher-mismatch',
      timeoutMs: 60_000,
      intervalMs: 500,
    });
    assert.notEqual(status.state, 'up');
    assert.match(diagnosisOf(status).fix ?? '', /data_ciphers/);
  });

  it('repaired, then deleted: the tunnel works again, and deleting stops openvpn and its routes', async () => {
    assert.equal((await b.api.put('/links/site-a', bundle)).status, 200);
    await waitFor(() => ping(a, b.lanHost), { what: 'repaired', timeoutMs: 45_000, intervalMs: 500 });
    const pid = await openvpnPid(a, 'to-b');
    assert.ok(pid > 1);
    assert.equal((await a.api.delete('/links/to-b')).status, 200);
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { what: "a's openvpn ended", timeoutMs: 10_000 },
    );
    const routes = await a.exec(['ip', '-4', 'route', 'show', 'table', 'all']);
    assert.doesNotMatch(
      routes.stdout,
      new RegExp(b.lanPrefix.replace(/\./g, '\\.').replace('/', '\\/') + '.*ovpn'),
    );
    assert.equal(await ping(a, b.lanHost), false);
  });
});
