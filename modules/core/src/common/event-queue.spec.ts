import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventQueue } from './event-queue.js';

const make = (limit = 10, onReturn?: () => void): EventQueue<string> =>
  new EventQueue<string>({ limit, overflow: () => 'OVERRUN', ...(onReturn ? { onReturn } : {}) });

void describe('EventQueue', () => {
  void it('delivers pushed items in order, to a waiting consumer too', async () => {
    const q = make();
    const pending = q.next();
    q.push('a');
    q.push('b');
    assert.deepEqual(await pending, { value: 'a', done: false });
    assert.deepEqual(await q.next(), { value: 'b', done: false });
  });

  void it('replaces the backlog of a slow consumer with one overflow marker', async () => {
    const q = make(2);
    for (const s of ['a', 'b', 'c', 'd']) q.push(s);
    assert.deepEqual(await q.next(), { value: 'OVERRUN', done: false });
    assert.deepEqual(await q.next(), { value: 'd', done: false });
  });

  void it('ends a for-await loop, after the queued items', async () => {
    const q = make();
    q.push('a');
    q.end();
    const seen: string[] = [];
    for await (const s of q) seen.push(s);
    assert.deepEqual(seen, ['a']);
  });

  void it('wakes a waiting consumer when ended, and throws an ending error once', async () => {
    const q = make();
    const pending = q.next();
    q.end(new Error('socket died'));
    await assert.rejects(pending, /socket died/);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
  });

  void it('calls onReturn once when the consumer breaks out, and drops later pushes', async () => {
    let returned = 0;
    const q = make(10, () => returned++);
    q.push('a');
    q.push('b');
    for await (const s of q) {
      assert.equal(s, 'a');
      break;
    }
    await q.return();
    q.push('c');
    assert.equal(returned, 1);
    assert.deepEqual(await q.next(), { value: undefined, done: true });
  });
});
