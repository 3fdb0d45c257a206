// The whole appliance in-process against the real kernel (inside the namespace tools/test.mjs makes):
// the event stream, the served spec and reference page, tokens, and per-resource commits.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { addVeth, assertInsideThrowawayNetns, ip, ipJson } from '@weft/core/testing';
import { createApp } from './app.factory.js';

/** Whether this kernel has multicast routing (else the appliance forwards multicast with nftables). */
const hasMroute = existsSync('/proc/net/ip_mr_vif');

assertInsideThrowawayNetns();

describe('appliance (in-process, real kernel)', () => {
  let app: NestFastifyApplication;
  let base: string;
  let token: string;
  let dataDir: string;

  const call = async (method: string, path: string, body?: unknown, auth = token) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(auth ? { authorization: `Bearer ${auth}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown = text;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, body: json as Record<string, unknown> };
  };

  before(async () => {
    await ip('link', 'set', 'lo', 'up');
    await addVeth('lan0', 'lan0p', { up: true });
    await ip('addr', 'add', '10.1.0.1/24', 'dev', 'lan0');
    dataDir = mkdtempSync(join(tmpdir(), 'weft-app-'));
    app = await createApp({
      dataDir,
      listenHost: '127.0.0.1',
      listenPort: 0,
      logLevel: 'silent',
      driftIntervalSeconds: 30,
      configFile: undefined,
      wireguardImplementation: 'auto',
      ipsecDataplane: 'auto',
      multicastEngine: 'auto',
    });
    await app.listen(0, '127.0.0.1');
    base = `${await app.getUrl()}/api/v1`.replace('[::1]', '127.0.0.1');
    token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  });

  after(async () => {
    await call('DELETE', '/links/to-b').catch(() => undefined); // never leave a wireguard-go behind
    await app?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes the first admin token 0600 into the data directory', () => {
    assert.match(token, /^weft_[A-Za-z0-9_-]{40,}$/);
    assert.equal(statSync(join(dataDir, 'admin-token')).mode & 0o777, 0o600);
  });

  it('serves its own spec and a reference page without a token', async () => {
    const spec = await call('GET', '/openapi.json', undefined, '');
    assert.equal(spec.status, 200);
    assert.equal(spec.body.openapi, '3.1.0');
    const docs = await fetch(`${base}/docs`);
    assert.equal(docs.status, 200);
    const html = await docs.text();
    assert.match(html, /putConfig/);
    assert.match(html, /<html/i);
  });

  it('streams typed events over SSE, and replays after Last-Event-ID', async () => {
    const ac = new AbortController();
    const res = await fetch(`${base}/events`, {
      headers: { authorization: `Bearer ${token}` },
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = res.body?.getReader();
    assert.ok(reader);
    const commit = await call('POST', '/routes', {
      name: 'r1',
      destination: '10.50.0.0/24',
      gateway: '10.1.0.254',
    });
    assert.equal(commit.status, 201, JSON.stringify(commit.body));
    let text = '';
    const decoder = new TextDecoder();
    while (!/event: apply\.succeeded/.test(text)) {
      const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (done) break;
      text += decoder.decode(value);
    }
    ac.abort();
    assert.match(text, /event: revision\.committed\nid: \d+\ndata: \{.*"revision":1/);
    assert.match(text, /event: apply\.succeeded/);
    const firstId = Number(/id: (\d+)/.exec(text)?.[1]);

    const replay = new AbortController();
    const again = await fetch(`${base}/events`, {
      headers: { authorization: `Bearer ${token}`, 'last-event-id': String(firstId - 1) },
      signal: replay.signal,
    });
    const chunk = decoder.decode((await again.body?.getReader().read())?.value as Uint8Array | undefined);
    replay.abort();
    assert.match(chunk, new RegExp(`id: ${firstId}\\n`));
  });

  it('commits per-resource changes, routes them into table weft and refuses duplicates', async () => {
    const routes = await ipJson<{ dst: string; gateway?: string }[]>('route', 'show', 'table', '7373');
    assert.ok(routes.some((r) => r.dst === '10.50.0.0/24' && r.gateway === '10.1.0.254'));
    const dup = await call('POST', '/routes', {
      name: 'r1',
      destination: '10.51.0.0/24',
      gateway: '10.1.0.254',
    });
    assert.equal(dup.status, 409);
    const mismatch = await call('PUT', '/routes/r2', {
      name: 'r3',
      destination: '10.51.0.0/24',
      gateway: '10.1.0.254',
    });
    assert.equal(mismatch.status, 400);
    assert.deepEqual(
      (mismatch.body.errors as { pointer: string }[]).map((e) => e.pointer),
      ['/name'],
    );
    const link = await call('POST', '/links', {
      name: 'to-b',
      type: 'wireguard',
      remote_subnets: ['10.2.0.0/24'],
      wireguard: {
        peer_public_key: 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=',
        preshared_key: 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=',
      },
    });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    const shown = await call('GET', '/links/to-b');
    const wg = shown.body.wireguard as Record<string, unknown>;
    assert.equal(wg.preshared_key, undefined, 'a write-only key is never shown');
    assert.equal(wg.preshared_key_set, true);
    const table = await ipJson<{ dst: string; type?: string }[]>('route', 'show', 'table', '7373');
    assert.ok(
      table.some((r) => r.dst === '10.2.0.0/24' && r.type === 'unreachable'),
      'fail-closed fallback',
    );
    const status = await call('GET', '/links/to-b/status');
    assert.equal(status.body.state, 'connecting', JSON.stringify(status.body));
    assert.equal(status.body.interface, 'wg-to-b');
    const wrongFormat = await call('GET', '/links/to-b/peer-config?format=swanctl');
    assert.equal(wrongFormat.status, 409, JSON.stringify(wrongFormat.body));
    assert.match(String(wrongFormat.body.detail), /use weft or wg-quick/);
    // The device is real (wireguard-go here); deleting the link stops it and removes the interface.
    const links = await ipJson<{ ifname: string }[]>('link', 'show');
    assert.ok(links.some((l) => l.ifname === 'wg-to-b'));
    assert.equal((await call('DELETE', '/links/to-b')).status, 200);
    const after = await ipJson<{ ifname: string }[]>('link', 'show');
    assert.ok(!after.some((l) => l.ifname === 'wg-to-b'));
  });

  it('routes a multicast group from the LAN into a link: the forwarder holds it, status and metrics show it', async () => {
    const current = await call('GET', '/config');
    const doc = current.body as Record<string, unknown> & { links?: unknown[] };
    const withGroup = {
      ...doc,
      appliance: { ...(doc.appliance as object), local_subnets: ['10.1.0.0/24'] },
      links: [
        ...(doc.links ?? []),
        {
          name: 'to-m',
          type: 'wireguard',
          remote_subnets: ['10.7.0.0/24'],
          wireguard: { peer_public_key: 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=' },
        },
      ],
      multicast: { groups: [{ name: 'g1', group: '239.1.1.1', from: 'lan', to: ['to-m'] }] },
    };
    const bad = await call('PUT', '/config', {
      ...withGroup,
      multicast: { groups: [{ name: 'g1', group: '224.0.0.251', from: 'lan', to: ['to-x'] }] },
    });
    assert.equal(bad.status, 422, JSON.stringify(bad.body));
    assert.deepEqual(
      (bad.body.errors as { pointer: string }[]).map((e) => e.pointer),
      ['/multicast/groups/0/group', '/multicast/groups/0/to/0'],
    );
    const put = await call('PUT', '/config', withGroup);
    assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    try {
      // lan0 holds 10.1.0.1/24, inside local_subnets: it is the LAN; wg-to-m is the link's device.
      if (hasMroute) {
        const pid = readFileSync(join(dataDir, 'multicast', 'smcroute.pid'), 'utf8').trim();
        assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /smcrouted/);
        const conf = readFileSync(join(dataDir, 'multicast', 'smcroute.conf'), 'utf8');
        assert.match(conf, /^mroute from lan0 group 239\.1\.1\.1 to wg-to-m$/m);
        const vifs = readFileSync('/proc/net/ip_mr_vif', 'utf8');
        assert.match(vifs, / lan0 /);
        assert.match(vifs, / wg-to-m /);
      } else {
        // No multicast routing in this kernel: the nftables forwarder holds the route.
        const chain = execFileSync('nft', ['list', 'chain', 'ip', 'weft_mcast', 'prerouting'], {
          encoding: 'utf8',
        });
        assert.match(
          chain,
          /iifname "lan0" ip daddr 239\.1\.1\.1 ip ttl > 1 .* dup to ip daddr device "wg-to-m" accept/,
        );
      }
      const status = await call('GET', '/status');
      const groups = status.body.multicast as { name: string; state: string }[];
      assert.deepEqual(
        groups.map((g) => [g.name, g.state]),
        [['g1', 'forwarding']],
      );
      const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.match(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      assert.match(text, /\nweft_multicast_packets_total\{name="g1",group="239\.1\.1\.1"\} 0\n/);
      assert.match(text, /\nweft_link_state\{link="to-m",type="wireguard",state="connecting"\} 1\n/);
    } finally {
      const back = await call('PUT', '/config', { ...doc, multicast: { groups: [] } });
      assert.ok(back.status === 200 || back.status === 201, JSON.stringify(back.body));
    }
    if (hasMroute) assert.doesNotMatch(readFileSync('/proc/net/ip_mr_vif', 'utf8'), /lan0/);
    else assert.doesNotMatch(execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }), /weft_mcast/);
  });

  it('keeps the last admin token', async () => {
    const res = await call('DELETE', '/tokens/admin');
    assert.equal(res.status, 409);
    const viewer = await call('POST', '/tokens', { name: 'ci', role: 'viewer' });
    assert.equal(viewer.status, 201);
    assert.equal((await call('DELETE', '/tokens/ci')).status, 204);
    assert.equal((await call('GET', '/config', undefined, viewer.body.token as string)).status, 401);
  });
});
