// The appliance spine, end to end: two appliances in their own namespaces, driven through their APIs,
// checked against the kernel of their gateway namespace. Topology: ../../README.md (two sites).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Lab, waitFor, type Site } from '../../lib/index.js';

const TABLE = '7373';

interface KernelRoute {
  dst: string;
  type?: string;
  gateway?: string;
  protocol?: string | number;
  metric?: number;
}

async function ownedRoutes(site: Site): Promise<KernelRoute[]> {
  const { stdout } = await site.exec(['ip', '-json', 'route', 'show', 'table', TABLE]);
  return stdout.trim() ? (JSON.parse(stdout) as KernelRoute[]) : [];
}

async function hasRoute(site: Site, dst: string, type = 'unicast'): Promise<boolean> {
  return (await ownedRoutes(site)).some((r) => r.dst === dst && (r.type ?? 'unicast') === type);
}

function doc(
  name: string,
  lan: string,
  routes: { name: string; destination: string }[],
): Record<string, unknown> {
  return {
    appliance: { name, underlay_interface: 'wan0', local_subnets: [lan] },
    links: [],
    routes: routes.map((r) => ({ ...r, gateway: lan.replace(/\.0\/24$/, '.254') })),
  };
}

describe('appliance spine', () => {
  let lab: Lab;
  let a: Site;
  let b: Site;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b'] });
    a = lab.site('a');
    b = lab.site('b');
  });
  after(async () => {
    await lab?.destroy();
  });

  it('two appliances answer health without a token, and everything else only with one', async () => {
    for (const site of [a, b]) {
      const health = await site.api.get('/health', { token: null });
      assert.equal(health.status, 200);
      const anon = await site.api.get('/config', { token: null });
      assert.equal(anon.status, 401);
      assert.match(String(anon.headers['content-type']), /application\/problem\+json/);
      const bad = await site.api.get('/config', { token: 'weft_not-a-real-token' });
      assert.equal(bad.status, 401);
      const ok = await site.api.get('/config');
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.etag, '"rev-0"');
    }
    // Each appliance has its own store and its own admin token.
    assert.notEqual(await a.adminToken(), await b.adminToken());
    assert.equal((await a.api.get('/config', { token: await b.adminToken() })).status, 401);
  });

  it('a viewer token reads but cannot change anything', async () => {
    const made = await a.api.post('/tokens', { name: 'ro', role: 'viewer' });
    assert.equal(made.status, 201);
    const token = (made.body as { token: string }).token;
    assert.equal((await a.api.get('/status', { token })).status, 200);
    const put = await a.api.put('/config', doc('site-a', '10.1.0.0/24', []), { token });
    assert.equal(put.status, 403);
    assert.equal((await a.api.get('/tokens', { token })).status, 403);
  });

  it('a bad payload gets problem+json naming each field; a cross-field problem names both sides', async () => {
    const res = await a.api.put('/config', {
      appliance: { name: 'Site A', local_subnets: ['10.1.0/24'] },
      links: [{ name: 'to-b', type: 'wireguard', remote_subnets: ['10.2.0.0/24'], wireguard: {} }],
      bogus: true,
    });
    assert.equal(res.status, 400);
    assert.match(String(res.headers['content-type']), /application\/problem\+json/);
    const pointers = (res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer).sort();
    assert.deepEqual(pointers, [
      '/appliance/local_subnets/0',
      '/appliance/name',
      '/bogus',
      '/links/0/wireguard/peer_public_key',
    ]);

    const overlap = await a.api.put('/config', {
      appliance: { name: 'site-a', local_subnets: ['10.1.0.0/24'] },
      routes: [
        { name: 'r1', destination: '10.50.0.0/24', gateway: '10.1.0.254' },
        { name: 'r1', destination: '10.51.0.0/24', link: 'nope' },
      ],
    });
    assert.equal(overlap.status, 422);
    const errors = (overlap.body as { errors: { pointer: string; related?: string }[] }).errors;
    assert.deepEqual(
      errors.map((e) => [e.pointer, e.related]),
      [
        ['/routes/1/name', '/routes/0/name'],
        ['/routes/1/link', undefined],
      ],
    );
    assert.equal((await a.api.get('/config')).headers.etag, '"rev-0"', 'nothing was committed');
  });

  it('commits revision 1; a stale If-Match gets 412; a dry run changes nothing; rollback restores', async () => {
    const first = await a.api.put(
      '/config',
      doc('site-a', '10.1.0.0/24', [{ name: 'r1', destination: '10.50.0.0/24' }]),
      {
        headers: { 'if-match': '"rev-0"' },
      },
    );
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal((first.body as { revision: number }).revision, 1);
    assert.equal(first.headers.etag, '"rev-1"');
    assert.ok(await hasRoute(a, '10.50.0.0/24'));

    const stale = await a.api.put('/config', doc('site-a', '10.1.0.0/24', []), {
      headers: { 'if-match': '"rev-0"' },
    });
    assert.equal(stale.status, 412);

    const dry = await a.api.put(
      '/config?dry_run=true',
      doc('site-a', '10.1.0.0/24', [{ name: 'r2', destination: '10.51.0.0/24' }]),
    );
    assert.equal(dry.status, 200);
    const plan = (dry.body as { dry_run: boolean; plan: { actions: { op: string; target: string }[] } }).plan;
    assert.ok(plan.actions.some((x) => x.op === 'create' && x.target.includes('10.51.0.0/24')));
    assert.ok(plan.actions.some((x) => x.op === 'delete' && x.target.includes('10.50.0.0/24')));
    assert.equal((await a.api.get('/config')).headers.etag, '"rev-1"');
    assert.ok(await hasRoute(a, '10.50.0.0/24'));
    assert.equal(await hasRoute(a, '10.51.0.0/24'), false);

    const second = await a.api.put(
      '/config',
      doc('site-a', '10.1.0.0/24', [{ name: 'r2', destination: '10.51.0.0/24' }]),
      {
        headers: { 'if-match': '"rev-1"' },
      },
    );
    assert.equal((second.body as { revision: number }).revision, 2);
    assert.ok(await hasRoute(a, '10.51.0.0/24'));
    assert.equal(await hasRoute(a, '10.50.0.0/24'), false);

    const back = await a.api.post('/config/rollback', { revision: 1 });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal((back.body as { revision: number }).revision, 3);
    assert.ok(await hasRoute(a, '10.50.0.0/24'));
    assert.equal(await hasRoute(a, '10.51.0.0/24'), false);
    const revs = (await a.api.get('/config/revisions')).body as {
      items: { number: number; state: string }[];
    };
    assert.deepEqual(
      revs.items.map((r) => [r.number, r.state]),
      [
        [3, 'applied'],
        [2, 'superseded'],
        [1, 'superseded'],
      ],
    );
    // Site b is untouched by all of this.
    assert.equal((await b.api.get('/config')).headers.etag, '"rev-0"');
  });

  it('a commit with confirm_timeout that is not confirmed rolls back by itself', async () => {
    const res = await a.api.put(
      '/config?confirm_timeout=5',
      doc('site-a', '10.1.0.0/24', [
        { name: 'r1', destination: '10.50.0.0/24' },
        { name: 'r3', destination: '10.52.0.0/24' },
      ]),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const rev = (res.body as { revision: number; state: string }).revision;
    assert.equal((res.body as { state: string }).state, 'pending-confirm');
    assert.ok(await hasRoute(a, '10.52.0.0/24'));
    await waitFor(
      async () =>
        ((await a.api.get(`/config/revisions/${rev}`)).body as { state: string }).state === 'rolled-back',
      { timeoutMs: 20_000, what: `revision ${rev} rolled back after its confirm timeout` },
    );
    assert.equal(await hasRoute(a, '10.52.0.0/24'), false);
    assert.ok(await hasRoute(a, '10.50.0.0/24'));
  });

  it('a static route appears in the owned table and disappears when deleted', async () => {
    const made = await a.api.post('/routes', {
      name: 'lab',
      destination: '10.60.0.0/24',
      gateway: '10.1.0.254',
      metric: 50,
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const route = (await ownedRoutes(a)).find((r) => r.dst === '10.60.0.0/24');
    assert.ok(route, 'route in table weft');
    assert.equal(route.gateway, '10.1.0.254');
    assert.equal(route.metric, 50);
    assert.ok(
      route.protocol === 87 || route.protocol === '87' || route.protocol === 'weft',
      `protocol ${route.protocol}`,
    );
    assert.equal((await a.api.delete('/routes/lab')).status, 200);
    assert.equal(await hasRoute(a, '10.60.0.0/24'), false);
    assert.equal((await a.api.get('/routes/lab')).status, 404);
  });

  it('a route someone deletes behind our back comes back by itself', async () => {
    await a.exec(['ip', 'route', 'del', '10.50.0.0/24', 'table', TABLE, 'metric', '100']);
    await waitFor(() => hasRoute(a, '10.50.0.0/24'), {
      timeoutMs: 10_000,
      what: 'drift correction re-adds 10.50.0.0/24',
    });
    const status = (await a.api.get('/status')).body as { reconciler: { drift_corrections: number } };
    assert.ok(status.reconciler.drift_corrections >= 1);
  });

  it('kill -9 and restart: the last revision is still there and re-applied; stale owned routes are gone', async () => {
    const before = (await a.api.get('/config')).headers.etag;
    await a.kill9();
    // While it is down: its route vanishes, and a route it no longer wants is left in its table.
    await a.exec(['ip', 'route', 'del', '10.50.0.0/24', 'table', TABLE, 'metric', '100']);
    await a.exec(['ip', 'route', 'add', '10.99.0.0/24', 'via', '10.1.0.254', 'table', TABLE, 'proto', '87']);
    await a.start();
    await waitFor(async () => (await a.api.get('/ready', { token: null })).status === 200, {
      timeoutMs: 20_000,
      what: 'appliance a ready again',
    });
    assert.equal((await a.api.get('/config')).headers.etag, before);
    assert.ok(await hasRoute(a, '10.50.0.0/24'), 're-applied');
    assert.equal(await hasRoute(a, '10.99.0.0/24'), false, 'stale route removed');
  });
});
