// An OpenVPN hub with two spokes, through the APIs alone:
//
//   LAN b ── gw b (spoke) ══╗
//                           ╠══ UDP 1194 ══ gw a (hub: one openvpn server, ovpn-hub) ── LAN a
//   LAN c ── gw c (spoke) ══╝
//
// A makes one hub link per spoke (the spoke's CA and certificate name); each spoke imports its link's
// bundle as-is. LAN b reaches LAN c through A (up into A's kernel, back down to C's iroute), and A's
// status shows each spoke with its real address. Removing spoke C changes only C: A's one openvpn keeps
// running (same PID) and B's session is not disturbed (a continuous ping from LAN b loses nothing).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applySiteSettings, importPeerConfig, Lab, waitFor, type Site } from '../../lib/index.js';

type Json = Record<string, unknown>;

async function ping(from: Site, address: string): Promise<boolean> {
  try {
    await from.lanExec(['ping', '-n', '-q', '-c', '1', '-W', '1', address]);
    return true;
  } catch {
    return false;
  }
}

async function caOf(site: Site): Promise<string> {
  const ca = (await site.api.get<{ ca_certificate?: string }>('/appliance')).body.ca_certificate;
  if (!ca) throw new Error(`site ${site.name}: GET /appliance has no ca_certificate`);
  return ca;
}

describe('OpenVPN hub and spokes', { timeout: 240_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let c: Site;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b', 'c'], name: 'ovpn-hub' });
    [a, b, c] = [lab.site('a'), lab.site('b'), lab.site('c')];
    for (const s of [a, b, c]) await applySiteSettings(s);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('B and C are spokes of hub A; LAN b pings LAN c through A, and both reach LAN a', async () => {
    for (const spoke of [b, c]) {
      const made = await a.api.post('/links', {
        name: `to-${spoke.name}`,
        type: 'openvpn',
        remote_subnets: [spoke.lanPrefix],
        openvpn: { topology: 'hub', remote_ca: await caOf(spoke), remote_name: spoke.wanAddress },
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    const shown = (await a.api.get<{ openvpn: Json }>('/links/to-c')).body.openvpn;
    assert.equal(shown.tunnel_address, '169.254.128.3');
    assert.equal(shown.tls_crypt_key_set, true);
    const bundle = (await a.api.get<Json>('/links/to-b/peer-config?format=weft')).body;
    assert.deepEqual(bundle.remote_subnets, [a.lanPrefix, c.lanPrefix]);
    assert.equal(await importPeerConfig(a, b, 'to-b'), 'site-a');
    assert.equal(await importPeerConfig(a, c, 'to-c'), 'site-a');

    await waitFor(() => ping(b, c.lanHost), { what: 'LAN b pings LAN c through hub a', timeoutMs: 30_000 });
    assert.ok(await ping(c, b.lanHost), 'and back');
    assert.ok(await ping(b, a.lanHost), 'LAN b reaches LAN a');
    assert.ok(await ping(c, a.lanHost), 'LAN c reaches LAN a');

    const devices = await a.exec(['ip', '-o', 'link', 'show']);
    assert.equal((devices.stdout.match(/ovpn-/g) ?? []).length, 1, 'one device for both spokes');
    for (const spoke of [b, c]) {
      const status = await waitFor(() => a.api.get<Json>(`/links/to-${spoke.name}/status`), {
        what: `spoke ${spoke.name} up on the hub`,
        until: (r) => r.body.state === 'up',
        timeoutMs: 10_000,
      });
      assert.equal(status.body.interface, 'ovpn-hub');
      assert.match(String(status.body.endpoint), new RegExp(`^${spoke.wanAddress.replace(/\./g, '\\.')}:`));
      assert.ok(Number(status.body.rx_bytes) > 0, JSON.stringify(status.body));
    }
  });

  it('removing spoke C from the hub cuts C off; A keeps its openvpn (same PID), B loses no ping', async () => {
    const pidFile = join(a.dataDir, 'openvpn', 'hub', 'openvpn.pid');
    const pidBefore = (await readFile(pidFile, 'utf8')).trim();
    // A continuous ping from LAN b to LAN a through the hub, line-buffered so replies count while it runs.
    const pinger = spawn(
      'ip',
      ['netns', 'exec', b.lanNetns, 'stdbuf', '-oL', 'ping', '-n', '-i', '0.2', a.lanHost],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    pinger.stdout.setEncoding('utf8');
    pinger.stdout.on('data', (chunk: string) => (out += chunk));
    const replies = (): number[] => [...out.matchAll(/icmp_seq=(\d+) /g)].map((m) => Number(m[1]));
    const exited = once(pinger, 'exit');
    try {
      await waitFor(() => replies().length >= 5, { what: 'LAN b pinging LAN a', timeoutMs: 10_000 });
      assert.equal((await a.api.delete('/links/to-c')).status, 200);
      await waitFor(async () => !(await ping(c, a.lanHost)), { what: 'C cut off', timeoutMs: 30_000 });
      const seen = replies().length;
      await waitFor(() => replies().length >= seen + 10, { what: 'B pings on', timeoutMs: 10_000 });
    } finally {
      pinger.kill('SIGINT');
      await exited;
    }
    const seqs = replies();
    const summary = /(\d+) packets transmitted, (\d+) received/.exec(out);
    assert.ok(summary, out);
    const [sent, received] = [Number(summary[1]), Number(summary[2])];
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 1),
      `a reply missing: ${out}`,
    );
    assert.ok(sent - received <= 1, `only the echo in flight at the stop may be unanswered: ${out}`);
    assert.equal((await readFile(pidFile, 'utf8')).trim(), pidBefore, "A's hub openvpn was not restarted");
    const status = await a.api.get<Json>('/links/to-b/status');
    assert.equal(status.body.state, 'up', JSON.stringify(status.body));
  });
});
