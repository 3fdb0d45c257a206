// An IPsec link where site A proves itself with a certificate from a company PKI, through the APIs:
//
//   corporate PKI (test fixture, pki):  Corp Root CA ── Corp Issuing CA ── gw-a.corp (RSA 2048)
//
//   LAN a ── gw a (appliance, charon) ══ IPsec, auth pubkey ══ gw b (appliance, charon, CA b) ── LAN b
//            local_certificate = gw-a.corp + issuing CA      remote_ca = Corp Root CA (from A's bundle)
//            local_ca = Corp Root CA, remote_ca = CA b       its own certificate from CA b
//
// B trusts only the corporate root: the link comes up only if A's charon sends the issuing CA along with
// its certificate. A’s link never shows its key; a PUT without it keeps the key and the tunnel; after
// kill -9 of A’s charon, the new one gets certificate, chain and key again.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
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
import { CorporatePki, type GatewayCertificate } from './corporate-pki.js';

/** A line of the key's PEM body: what must never show up outside the appliance's store and charon. */
function keyMark(pem: string): string {
  const line = pem.split('\n')[3];
  if (!line || line.length < 40) throw new Error('unexpected key PEM');
  return line;
}

describe('IPsec link with an imported (corporate) certificate', { timeout: 240_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let pki: CorporatePki;
  let gw: GatewayCertificate;

  before(async () => {
    pki = await CorporatePki.create();
    lab = await Lab.create({ sites: ['a', 'b'], name: 'ipsec-import' });
    [a, b] = [lab.site('a'), lab.site('b')];
    await applySiteSettings(a);
    await applySiteSettings(b);
    gw = await pki.gateway('gw-a.corp', ['gw-a.corp', a.wanAddress]);
  });
  after(async () => {
    await lab?.destroy();
    await pki?.destroy();
  });

  const linkToB = (ipsec: Json): Json => ({
    name: 'to-b',
    type: 'ipsec',
    remote_endpoint: `${b.wanAddress}:500`,
    remote_subnets: [b.lanPrefix],
    ipsec: { auth: 'certificate', ...ipsec },
  });

  it('a key that is not the certificate’s is refused (422) on its field, without echoing it', async () => {
    const other = await pki.gateway('gw-x.corp', ['gw-x.corp']);
    const res = await a.api.post(
      '/links?dry_run=true',
      linkToB({
        remote_ca: await caOf(b),
        local_certificate: gw.certificate,
        local_private_key: other.privateKey,
        local_ca: pki.rootCa,
      }),
    );
    assert.equal(res.status, 422, JSON.stringify(res.body));
    const errors = (res.body as { errors: { pointer: string; message: string }[] }).errors;
    assert.deepEqual(
      errors.map((e) => e.pointer),
      ['/ipsec/local_private_key'],
    );
    assert.match(
      errors[0]?.message ?? '',
      /does not belong to the certificate \(C=CH, O=Corp, OU=Gateways, CN=gw-a\.corp\)/,
    );
    assert.ok(!JSON.stringify(res.body).includes(keyMark(other.privateKey)));
  });

  it('A’s link uses the corporate certificate, B imports A’s bundle; LAN a pings LAN b', async () => {
    const made = await a.api.post(
      '/links',
      linkToB({
        remote_ca: await caOf(b),
        local_certificate: gw.certificate,
        local_private_key: gw.privateKey,
        local_ca: pki.rootCa,
      }),
    );
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const bundle = (await a.api.get<Json>('/links/to-b/peer-config?format=weft')).body;
    const theirs = bundle.ipsec as Json;
    assert.equal(theirs.remote_ca, pki.rootCa, 'B is to trust the corporate root');
    assert.equal(theirs.remote_id, gw.subject);
    assert.ok(!JSON.stringify(bundle).includes(keyMark(gw.privateKey)));
    assert.equal(await importPeerConfig(a, b, 'to-b'), 'site-a');

    await waitFor(() => ping(a, b.lanHost), { what: 'LAN a pings LAN b through IPsec', timeoutMs: 30_000 });
    assert.ok(await ping(b, a.lanHost), 'and back');
    const status = await waitFor(() => linkStatus(b, 'site-a'), {
      what: 'site-a up on B',
      until: (s) => s.state === 'up',
      timeoutMs: 10_000,
    });
    assert.equal((status.ipsec as Json).ike_state, 'ESTABLISHED');
    // B trusts the root only: A's charon sent the issuing CA with its certificate.
    const charonLog = await readFile(join(a.dataDir, 'ipsec', 'charon.log'), 'utf8');
    assert.match(charonLog, /sending issuer cert "C=CH, O=Corp, CN=Corp Issuing CA"/);
    assert.match(
      charonLog,
      /authentication of 'C=CH, O=Corp, OU=Gateways, CN=gw-a\.corp' \(myself\) with RSA/,
    );
  });

  it('GET never shows the key, only local_private_key_set; a PUT without it keeps key and tunnel', async () => {
    const mark = keyMark(gw.privateKey);
    const got = await a.api.get<Json>('/links/to-b');
    const ipsec = got.body.ipsec as Json;
    assert.equal(ipsec.local_private_key, undefined);
    assert.equal(ipsec.local_private_key_set, true);
    assert.equal(ipsec.local_certificate, gw.certificate);
    for (const path of ['/links/to-b', '/config', '/config/revisions?limit=10']) {
      const body = JSON.stringify((await a.api.get(path)).body);
      assert.ok(!body.includes(mark) && !body.includes('PRIVATE KEY'), `${path} shows no key`);
    }

    const edited: Json = { ...got.body, description: 'corporate certificate' };
    delete (edited.ipsec as Json).local_private_key_set;
    delete (edited.ipsec as Json).preshared_key_set;
    const put = await a.api.put<{ plan: { actions: { module: string }[] } }>('/links/to-b', edited);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(
      put.body.plan.actions.filter((x) => x.module === 'ipsec'),
      [],
      'same certificate and key: the connection is not reloaded',
    );
    const after = await a.api.get<Json>('/links/to-b');
    assert.equal(after.body.description, 'corporate certificate');
    assert.equal((after.body.ipsec as Json).local_private_key_set, true);
    const latest = (await a.api.get<{ items: { number: number }[] }>('/config/revisions?limit=1')).body;
    const n = latest.items[0]?.number;
    const revision = JSON.stringify((await a.api.get(`/config/revisions/${n}`)).body);
    assert.ok(!revision.includes(mark) && !revision.includes('PRIVATE KEY'), 'the revision shows no key');
    await waitFor(() => ping(a, b.lanHost), { what: 'LAN a still pings LAN b', timeoutMs: 15_000 });
    assert.ok(!(await a.readLog()).includes(mark), "the key is in no line of A's log");
  });

  it('kill -9 of A’s charon: the new one gets the certificate, chain and key again; traffic comes back', async () => {
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
      { what: 'a new charon on A', timeoutMs: 20_000, intervalMs: 250 },
    );
    await waitFor(() => ping(a, b.lanHost), {
      what: 'traffic back after the restart',
      timeoutMs: 45_000,
      intervalMs: 500,
    });
  });
});
