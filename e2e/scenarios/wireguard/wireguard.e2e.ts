// WireGuard links end to end, through the APIs alone. Three sites on the fake internet (../../README.md):
//
//   LAN a ── gw a (appliance) ══ WireGuard ══ gw b (appliance) ── LAN b
//                 ╚════════ WireGuard ════════ gw c (stock wg-quick, a third-party device) ── LAN c
//
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  captureUnderlay,
  Lab,
  linkWireGuard,
  run,
  waitFor,
  wireguardPublicKey,
  type Site,
  ping,
  linkStatus,
  type Json,
} from '../../lib/index.js';

/** Reads the SSE stream (replayed from the start) until `pattern` matches; returns what was read. */
async function eventsUntil(site: Site, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(`${site.api.baseUrl}/events`, {
    headers: { authorization: `Bearer ${await site.adminToken()}`, 'last-event-id': '0' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const reader = res.body?.getReader();
  assert.ok(reader, 'an event stream');
  const decoder = new TextDecoder();
  let text = '';
  try {
    while (!pattern.test(text)) {
      const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

/** `wg show <dev> dump` peer lines: public key → transfer-tx. */
async function txByPeer(site: Site, dev: string): Promise<Map<string, number>> {
  const { stdout } = await site.applianceExec(['wg', 'show', dev, 'dump']);
  const out = new Map<string, number>();
  for (const line of stdout.trim().split('\n').slice(1)) {
    const f = line.split('\t');
    if (f[0]) out.set(f[0], Number(f[6]));
  }
  return out;
}

describe('WireGuard links', { timeout: 300_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let c: Site;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b', 'c'], name: 'wireguard' });
    [a, b, c] = [lab.site('a'), lab.site('b'), lab.site('c')];
    await applySiteSettings(a);
    await applySiteSettings(b);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('links A and B through the two APIs (B imports A’s bundle); LANs ping; the underlay carries only UDP to the port', async () => {
    const pair = await linkWireGuard(a, b);
    assert.deepEqual(pair, { onA: 'to-b', onB: 'site-a' });
    const bundle = await a.api.get<Json>('/links/to-b/peer-config?format=weft');
    assert.equal(bundle.body.remote_endpoint, `${a.wanAddress}:51820`);
    assert.equal((bundle.body.wireguard as Json).peer_public_key, await wireguardPublicKey(a));

    await waitFor(() => ping(b, a.lanHost), {
      what: 'LAN b pings LAN a through the tunnel',
      timeoutMs: 15_000,
    });
    assert.ok(await ping(a, b.lanHost), 'LAN a pings LAN b');

    // Capture a's underlay while LAN a pings LAN b: only UDP between the two WireGuard ports may show.
    const lines = await captureUnderlay(a, 8, () =>
      a.lanExec(['ping', '-n', '-q', '-c', '6', '-i', '0.2', '-s', '200', b.lanHost]),
    );
    assert.ok(lines.length >= 8, lines.join('\n'));
    for (const line of lines) {
      assert.match(
        line,
        new RegExp(
          `^\\S+ IP (${a.wanAddress}\\.51820 > ${b.wanAddress}\\.51820|${b.wanAddress}\\.51820 > ${a.wanAddress}\\.51820): UDP`,
        ),
        line,
      );
      assert.doesNotMatch(line, /ICMP/);
    }
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'link to-b up',
      until: (s) => s.state === 'up',
      timeoutMs: 10_000,
    });
    assert.ok(Number(status.rx_bytes) > 0 && Number(status.tx_bytes) > 0);
    assert.equal(status.endpoint, `${b.wanAddress}:51820`);
    // The state change was pushed as an event, not only readable.
    const events = await eventsUntil(
      a,
      /event: link\.state\n.*\ndata: \{[^\n]*"name":"to-b"[^\n]*"state":"up"/,
    );
    assert.match(events, /"name":"to-b"[^\n]*"state":"up"/);
  });

  it('follows B to a new underlay address within 10 s, without touching A’s config', async () => {
    const etag = (await a.api.get('/config')).headers.etag;
    const newAddress = '203.0.113.31';
    await b.exec(['ip', 'addr', 'del', `${b.wanAddress}/24`, 'dev', 'wan0']);
    await b.exec(['ip', 'addr', 'add', `${newAddress}/24`, 'dev', 'wan0']);
    await b.exec(['ip', 'route', 'replace', 'default', 'via', '203.0.113.1']);
    await waitFor(() => ping(b, a.lanHost), {
      what: 'traffic resumes after B moved',
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    assert.ok(await ping(a, b.lanHost));
    assert.equal((await linkStatus(a, 'to-b')).endpoint, `${newAddress}:51820`);
    assert.equal((await a.api.get('/config')).headers.etag, etag, 'A’s config untouched');
  });

  it('links a third-party device run by stock wg-quick from the exported file', async () => {
    const { stdout: key } = await c.applianceExec(['wg', 'genkey']);
    const { stdout: pub } = await c.applianceExec(['wg', 'pubkey'], { input: key });
    const made = await a.api.post('/links', {
      name: 'to-c',
      type: 'wireguard',
      remote_subnets: [c.lanPrefix],
      wireguard: { peer_public_key: pub.trim() },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const file = await a.api.get<string>('/links/to-c/peer-config?format=wg-quick');
    assert.equal(file.status, 200);
    assert.match(String(file.headers['content-type']), /text\/plain/);
    const conf = join(c.dir, 'wgc0.conf');
    await writeFile(conf, file.body.replace('REPLACE_WITH_THIS_DEVICE_PRIVATE_KEY', key.trim()), {
      mode: 0o600,
    });
    // Stock wg-quick, falling back to wireguard-go as it does where the kernel has no WireGuard. The
    // daemonized wireguard-go inherits wg-quick's output, so that goes to a file, not to our pipes.
    const up = ['wg-quick up "$1" >"$1.log" 2>&1 || { cat "$1.log" >&2; exit 1; }'];
    await c.applianceExec([
      'env',
      'WG_QUICK_USERSPACE_IMPLEMENTATION=wireguard-go',
      'sh',
      '-c',
      ...up,
      'sh',
      conf,
    ]);
    try {
      await waitFor(() => ping(c, a.lanHost), {
        what: 'LAN c pings LAN a through the third-party peer',
        timeoutMs: 15_000,
      });
      assert.ok(await ping(a, c.lanHost));
      const status = await waitFor(() => linkStatus(a, 'to-c'), {
        what: 'link to-c up',
        until: (s) => s.state === 'up',
        timeoutMs: 10_000,
      });
      assert.equal(
        status.endpoint,
        `${c.wanAddress}:${(await c.applianceExec(['wg', 'show', 'wgc0', 'listen-port'])).stdout.trim()}`,
      );
    } finally {
      // wg-quick down deletes the interface, and its wireguard-go exits with it.
      await c.applianceExec(['sh', '-c', 'wg-quick down "$1" >"$1.log" 2>&1', 'sh', conf]);
    }
  });

  it('deleting a link removes its peer, its routes and its interface', async () => {
    const res = await a.api.delete('/links/to-c');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await assert.rejects(a.applianceExec(['ip', 'link', 'show', 'wg-to-c']));
    const { stdout } = await a.exec(['ip', '-json', 'route', 'show', 'table', '7373']);
    assert.ok(!stdout.includes(c.lanPrefix), stdout);
    assert.equal(await ping(c, a.lanHost), false, 'no way through any more');
    assert.ok(await ping(a, b.lanHost), 'the other link is untouched');
  });

  it('changing one of 100 peers leaves the other 99 untouched', async () => {
    const keys: string[] = [];
    for (let i = 0; i < 100; i++) keys.push((await run(['wg', 'genkey'])).stdout.trim());
    const pubs: string[] = [];
    for (const k of keys) pubs.push((await run(['wg', 'pubkey'], { input: k })).stdout.trim());
    const current = (await a.api.get<Json & { links: Json[] }>('/config')).body;
    const hub = (changed: number | undefined): Json[] =>
      pubs.map((pk, i) => ({
        name: `spoke-${i}`,
        type: 'wireguard',
        // Nobody answers at 192.0.2.x: each peer keeps sending handshake initiations, so its tx counter
        // grows — and would restart from 0 if the peer were removed and added again.
        remote_endpoint: `192.0.2.${i + 1}:51820`,
        remote_subnets: [i === changed ? `10.201.${i}.0/24` : `10.200.${i}.0/24`],
        wireguard: { peer_public_key: pk, interface: 'wg-hub', persistent_keepalive: 1 },
      }));
    const put = await a.api.put('/config', { ...current, links: [...current.links, ...hub(undefined)] });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    // Two handshake initiations (148 bytes each) per peer at least: a re-created peer would be back at one.
    const before = await waitFor(() => txByPeer(a, 'wg-hub'), {
      what: 'all 100 hub peers past their second handshake initiation',
      until: (m) => m.size === 100 && [...m.values()].every((tx) => tx >= 296),
      timeoutMs: 30_000,
      intervalMs: 500,
    });
    const latest = (await a.api.get<Json & { links: Json[] }>('/config')).body;
    const change = await a.api.put('/config', {
      ...latest,
      links: [...latest.links.filter((l) => !String(l.name).startsWith('spoke-')), ...hub(7)],
    });
    assert.equal(change.status, 200, JSON.stringify(change.body));
    const actions = (change.body as { plan: { actions: { target: string }[] } }).plan.actions;
    assert.ok(actions.some((x) => x.target === 'peers of wg-hub'));
    assert.ok(!actions.some((x) => x.target === 'device wg-hub'), 'the device is not re-created');
    const after = await txByPeer(a, 'wg-hub');
    for (const [pk, tx] of before) {
      if (pk === pubs[7]) continue;
      assert.ok((after.get(pk) ?? 0) >= tx, `peer ${pk} kept its counters (${tx} → ${after.get(pk)})`);
    }
    const { stdout } = await a.applianceExec(['wg', 'show', 'wg-hub', 'allowed-ips']);
    assert.match(stdout, new RegExp(`${pubs[7]?.replace(/[+/]/g, '\\$&')}\\s+10\\.201\\.7\\.0/24`));

    // On a shared interface, deleting one link removes its peer only; deleting the last one the device.
    assert.equal((await a.api.delete('/links/spoke-3')).status, 200);
    const left = await txByPeer(a, 'wg-hub');
    assert.equal(left.size, 99);
    assert.ok(!left.has(pubs[3] ?? ''));
    const rest = (await a.api.get<Json & { links: Json[] }>('/config')).body;
    const cleared = await a.api.put('/config', {
      ...rest,
      links: rest.links.filter((l) => !String(l.name).startsWith('spoke-')),
    });
    assert.equal(cleared.status, 200, JSON.stringify(cleared.body));
    await assert.rejects(a.applianceExec(['ip', 'link', 'show', 'wg-hub']));
    assert.ok(await ping(a, b.lanHost), 'the link to b is untouched');
  });
});
