// IPsec links with X.509 certificates, through the APIs alone. Two sites on the fake internet:
//
//   LAN a ── gw a (appliance, charon, CA a) ══ IPsec, auth pubkey ══ gw b (appliance, charon, CA b) ── LAN b
//
// Each appliance made its own CA on first start and shows it in GET /appliance. A's link trusts B's CA
// (remote_ca); B imports A's bundle, which carries A's CA. Then a wrong CA on B's side: the link status
// names the authentication failure.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  importPeerConfig,
  Lab,
  waitFor,
  type Site,
  ping,
  linkStatus,
  caOf,
  type Json,
} from '../../lib/index.js';

describe('IPsec links with certificates', { timeout: 240_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b'], name: 'ipsec-cert' });
    [a, b] = [lab.site('a'), lab.site('b')];
    await applySiteSettings(a);
    await applySiteSettings(b);
  });
  after(async () => {
    await lab?.destroy();
  });

  it('each appliance shows its own CA; A trusts B’s, B imports A’s bundle; LAN a pings LAN b', async () => {
    const [caA, caB] = [await caOf(a), await caOf(b)];
    assert.match(caA, /^-----BEGIN CERTIFICATE-----/);
    assert.notEqual(caA, caB);
    assert.doesNotMatch(JSON.stringify((await a.api.get('/appliance')).body), /PRIVATE KEY/);

    const made = await a.api.post('/links', {
      name: 'to-b',
      type: 'ipsec',
      remote_endpoint: `${b.wanAddress}:500`,
      remote_subnets: [b.lanPrefix],
      ipsec: { auth: 'certificate', remote_ca: caB },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const bundle = (await a.api.get<Json>('/links/to-b/peer-config?format=weft')).body;
    assert.equal((bundle.ipsec as Json).remote_ca, caA);
    assert.equal((bundle.ipsec as Json).preshared_key, undefined);
    assert.equal(await importPeerConfig(a, b, 'to-b'), 'site-a');

    await waitFor(() => ping(a, b.lanHost), { what: 'LAN a pings LAN b through IPsec', timeoutMs: 30_000 });
    assert.ok(await ping(b, a.lanHost), 'and back');
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'to-b up',
      until: (s) => s.state === 'up',
      timeoutMs: 10_000,
    });
    assert.equal((status.ipsec as Json).ike_state, 'ESTABLISHED');
    assert.equal(status.diagnosis, null);
  });

  it('a remote_ca that did not issue the peer’s certificate: "authentication failed" in the status', async () => {
    // B now trusts B's own CA for A: A's certificate (from CA a) no longer chains to it.
    const current = (await b.api.get<Json>('/links/site-a')).body;
    const wrong = { ...current, ipsec: { ...(current.ipsec as Json), remote_ca: await caOf(b) } };
    delete (wrong.ipsec as Json).preshared_key_set;
    const put = await b.api.put('/links/site-a', wrong);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const status = await waitFor(() => linkStatus(a, 'to-b'), {
      what: 'link to-b names the authentication failure',
      until: (s) => (s.diagnosis as Json | null)?.code === 'authentication-failed',
      timeoutMs: 45_000,
      intervalMs: 500,
    });
    assert.equal(status.state, 'down');
    assert.match(String((status.diagnosis as Json).message), /authentication failed/);
    assert.match(String((status.diagnosis as Json).fix), /remote_ca/);
  });
});
