import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  ApplyFailedError,
  ConflictError,
  PreconditionFailedError,
  VerifyFailedError,
} from '../common/errors.js';
import { EventBus } from '../events/event-bus.js';
import { Reconciler } from '../reconciler/reconciler.js';
import { FakeClock, FakeRoutesDriver, silentLogger, tempStore } from '../testing/doubles.js';
import { ConfigService } from './config.service.js';
import type { DesiredStateStore } from './desired-state.store.js';
import type { ConfigDocument } from './document.js';

function docWith(...routes: string[]): ConfigDocument {
  return {
    appliance: { name: 'site-a', local_subnets: ['10.1.0.0/24'] },
    routes: routes.map((name, i) => ({ name, destination: `10.${50 + i}.0.0/24`, gateway: '10.1.0.254' })),
  };
}

describe('ConfigService', () => {
  let store: DesiredStateStore;
  let dispose: () => void;
  let driver: FakeRoutesDriver;
  let clock: FakeClock;
  let events: EventBus;
  let svc: ConfigService;

  beforeEach(() => {
    ({ store, dispose } = tempStore());
    driver = new FakeRoutesDriver();
    clock = new FakeClock();
    events = new EventBus(clock);
    const reconciler = new Reconciler([driver], clock, silentLogger());
    svc = new ConfigService(store, reconciler, events, clock, silentLogger());
  });
  afterEach(() => dispose());

  it('commits revision 1, applies it, and serves it with its ETag', async () => {
    const out = await svc.commit(docWith('r1'), { author: 'admin' });
    assert.equal(out.revision, 1);
    assert.equal(out.state, 'applied');
    assert.deepEqual(out.plan.changes, [
      { kind: 'appliance', name: 'site-a', op: 'create' },
      { kind: 'route', name: 'r1', op: 'create' },
    ]);
    assert.deepEqual([...driver.installed], ['r1']);
    assert.equal(svc.active().etag, '"rev-1"');
    assert.equal(svc.active().revision?.author, 'admin');
  });

  it('rejects a stale If-Match with 412 semantics and changes nothing', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    await svc.commit(docWith('r1', 'r2'), { author: 'admin', ifMatch: '"rev-1"' });
    await assert.rejects(
      svc.commit(docWith('r3'), { author: 'admin', ifMatch: '"rev-1"' }),
      PreconditionFailedError,
    );
    assert.equal(svc.active().revision?.number, 2);
    assert.deepEqual([...driver.installed].sort(), ['r1', 'r2']);
  });

  it('dry run returns the plan and changes nothing', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    const out = await svc.commit(docWith('r2'), { author: 'admin', dryRun: true });
    assert.equal(out.dryRun, true);
    assert.equal(out.revision, undefined);
    assert.deepEqual(
      out.plan.actions.map((a) => `${a.op} ${a.target}`),
      ['create r2', 'delete r1'],
    );
    assert.equal(store.list(10).length, 1);
    assert.deepEqual([...driver.installed], ['r1']);
  });

  it('refuses a document that does not verify, before committing anything', async () => {
    const bad: ConfigDocument = {
      appliance: { name: 'a' },
      routes: [{ name: 'r', destination: '10.9.0.0/24', link: 'ghost' }],
    };
    const err = await svc.commit(bad, { author: 'admin' }).catch((e: unknown) => e);
    assert.ok(err instanceof VerifyFailedError);
    assert.equal(err.problems[0]?.pointer, '/routes/0/link');
    assert.equal(store.list(10).length, 0);
  });

  it('rolls back to the previous revision when an apply fails, naming the step', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    driver.failOn = 'r2';
    const err = await svc.commit(docWith('r1', 'r2'), { author: 'admin' }).catch((e: unknown) => e);
    assert.ok(err instanceof ApplyFailedError, String(err));
    assert.equal(err.failedStep, 'fake: create r2');
    assert.equal(err.rolledBackTo, 1);
    assert.equal(store.get(2)?.state, 'failed');
    assert.match(store.get(2)?.error ?? '', /EEXIST/);
    assert.equal(svc.active().revision?.number, 1);
    assert.deepEqual([...driver.installed], ['r1']);
    const types = events.recent().map((e) => e.type);
    assert.ok(types.includes('apply.failed') && types.includes('rollback.performed'));
  });

  it('rolls back to an earlier revision as a new revision', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    await svc.commit(docWith('r2'), { author: 'admin' });
    const out = await svc.rollback(1, { author: 'admin' });
    assert.equal(out.revision, 3);
    assert.deepEqual([...driver.installed], ['r1']);
    assert.deepEqual(
      svc.active().document.routes.map((r) => r.name),
      ['r1'],
    );
    assert.equal(store.get(3)?.message, 'rollback to revision 1');
  });

  it('rolls an unconfirmed commit back when its timeout passes, and keeps a confirmed one', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    const out = await svc.commit(docWith('r2'), { author: 'admin', confirmTimeout: 60 });
    assert.equal(out.state, 'pending-confirm');
    await assert.rejects(svc.commit(docWith('r3'), { author: 'admin' }), ConflictError);
    clock.advance(59_000);
    assert.equal(svc.active().revision?.number, 2);
    clock.advance(2_000);
    await svc.correctDrift('test'); // waits for the queued rollback
    assert.equal(store.get(2)?.state, 'rolled-back');
    assert.equal(svc.active().revision?.number, 1);
    assert.deepEqual([...driver.installed], ['r1']);

    await svc.commit(docWith('r4'), { author: 'admin', confirmTimeout: 60 });
    await svc.confirm('admin');
    clock.advance(120_000);
    await svc.correctDrift('test');
    assert.equal(svc.active().revision?.number, 3);
    assert.equal(store.get(3)?.state, 'applied');
  });

  it('resume() rolls back a pending revision whose deadline passed while down, and re-applies', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    await svc.commit(docWith('r2'), { author: 'admin', confirmTimeout: 30 });
    driver.installed.clear(); // as after a reboot
    const later = new FakeClock();
    later.advance(3_600_000);
    const reconciler = new Reconciler([driver], later, silentLogger());
    const fresh = new ConfigService(store, reconciler, new EventBus(later), later, silentLogger());
    await fresh.resume();
    assert.equal(fresh.active().revision?.number, 1);
    assert.deepEqual([...driver.installed], ['r1']);
  });

  it('corrects drift: a removed object comes back, a stray one goes', async () => {
    await svc.commit(docWith('r1'), { author: 'admin' });
    driver.installed.delete('r1');
    driver.installed.add('stray');
    await svc.correctDrift('test');
    assert.deepEqual([...driver.installed], ['r1']);
    assert.ok(events.recent().some((e) => e.type === 'drift.corrected'));
  });

  it('keeps a write-only preshared key when a later document leaves it out', async () => {
    const key = 'hSDKNBtoKaEvJ1i2Nn3l0TgjQYsITr0XC0eNyjk3X24=';
    const link = { name: 'to-b', type: 'wireguard' as const, remote_subnets: ['10.2.0.0/24'] };
    await svc.commit(
      {
        appliance: { name: 'a' },
        links: [{ ...link, wireguard: { peer_public_key: key, preshared_key: key } }],
      },
      { author: 'admin' },
    );
    await svc.commit(
      { appliance: { name: 'a' }, links: [{ ...link, wireguard: { peer_public_key: key } }] },
      { author: 'admin' },
    );
    const stored = svc.active().document.links[0];
    assert.ok(stored?.type === 'wireguard');
    assert.equal(stored.wireguard.preshared_key, key);
  });
});
