import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempStore } from '../testing/doubles.js';
import { DesiredStateStore } from './desired-state.store.js';
import { emptyDocument } from './document.js';

const plan = { changes: [], actions: [] };

describe('DesiredStateStore', () => {
  it('migrates a new database to the latest schema, once', () => {
    const { store, dir, dispose } = tempStore();
    try {
      assert.equal(store.schemaVersion(), 2);
      store.close();
      const again = DesiredStateStore.open(join(dir, 'weft.db'));
      assert.equal(again.schemaVersion(), 2);
      again.close();
    } finally {
      try {
        dispose();
      } catch {
        /* already closed */
      }
    }
  });

  it('numbers revisions, supersedes the previous one and survives a reopen', () => {
    const { store, dir, dispose } = tempStore();
    const a = store.commit({
      author: 'x',
      message: 'one',
      document: emptyDocument('a'),
      plan,
      state: 'applied',
      confirmDeadline: null,
    });
    const b = store.commit({
      author: 'y',
      message: 'two',
      document: emptyDocument('b'),
      plan,
      state: 'applied',
      confirmDeadline: null,
    });
    assert.deepEqual([a.number, b.number, b.parent], [1, 2, 1]);
    assert.equal(store.get(1)?.state, 'superseded');
    store.close();
    const reopened = DesiredStateStore.open(join(dir, 'weft.db'));
    assert.equal(reopened.active()?.number, 2);
    assert.equal(reopened.active()?.document.appliance.name, 'b');
    assert.deepEqual(
      reopened.list(10).map((r) => r.number),
      [2, 1],
    );
    reopened.close();
    try {
      dispose();
    } catch {
      /* closed */
    }
  });

  it('reverting a revision puts its parent back in force', () => {
    const { store, dispose } = tempStore();
    store.commit({
      author: 'x',
      message: '',
      document: emptyDocument('a'),
      plan,
      state: 'applied',
      confirmDeadline: null,
    });
    store.commit({
      author: 'x',
      message: '',
      document: emptyDocument('b'),
      plan,
      state: 'applied',
      confirmDeadline: null,
    });
    const restored = store.revert(2, 'failed', 'boom', 1);
    assert.equal(restored?.number, 1);
    assert.equal(store.active()?.number, 1);
    assert.equal(store.get(2)?.error, 'boom');
    dispose();
  });

  it('keeps module state per module', () => {
    const { store, dispose } = tempStore();
    const wg = store.moduleState('wireguard');
    wg.set('port:wg-b', '51820');
    wg.set('port:wg-b', '51821');
    store.moduleState('other').set('port:wg-b', 'x');
    assert.equal(wg.get('port:wg-b'), '51821');
    assert.deepEqual(wg.entries(), [['port:wg-b', '51821']]);
    wg.delete('port:wg-b');
    assert.equal(wg.get('port:wg-b'), undefined);
    wg.update({ a: '1', b: '2' });
    wg.update({ c: '3' }, ['a']);
    assert.deepEqual(wg.entries(), [
      ['b', '2'],
      ['c', '3'],
    ]);
    dispose();
  });

  it('stores tokens by hash only', () => {
    const { store, dispose } = tempStore();
    store.insertToken('admin', 'admin', 'abc');
    assert.equal(store.tokenByHash('abc')?.name, 'admin');
    assert.equal(store.tokenByHash('abd'), undefined);
    assert.equal(store.countTokens('admin'), 1);
    dispose();
  });
});
