import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { giveUp, waitFor, WaitTimeoutError } from './wait-for.js';

describe('waitFor', () => {
  it('returns the first value that satisfies the condition', async () => {
    let n = 0;
    const value = await waitFor(() => ++n, { what: 'n to reach 3', until: (v) => v >= 3, intervalMs: 1 });
    assert.equal(value, 3);
  });

  it('treats a throwing probe as not yet, and reports its last error', async () => {
    let n = 0;
    assert.equal(
      await waitFor(
        () => {
          if (++n < 3) throw new Error('connection refused');
          return 'up';
        },
        { what: 'the server', intervalMs: 1 },
      ),
      'up',
    );
    const err = await waitFor(
      () => {
        throw new Error('connection refused');
      },
      { what: 'the server to answer', timeoutMs: 30, intervalMs: 5 },
    ).catch((e: unknown) => e);
    assert.ok(err instanceof WaitTimeoutError);
    assert.match(err.message, /waiting for the server to answer; last error: connection refused/);
  });

  it('reports the last observed value on timeout', async () => {
    await assert.rejects(
      waitFor(() => ({ state: 'connecting' }), {
        what: 'the link to come up',
        until: (v) => v.state === 'up',
        timeoutMs: 30,
        intervalMs: 5,
      }),
      /waiting for the link to come up; last observed: \{"state":"connecting"\}/,
    );
  });

  it('stops at once when the probe gives up', async () => {
    const started = Date.now();
    await assert.rejects(
      waitFor(() => giveUp('the process exited'), { what: 'health', timeoutMs: 10_000 }),
      /gave up waiting for health: the process exited/,
    );
    assert.ok(Date.now() - started < 1_000);
  });

  it('honours an abort signal', async () => {
    const controller = new AbortController();
    const wait = waitFor(() => false, { what: 'never', signal: controller.signal, intervalMs: 5 });
    controller.abort(new Error('cancelled'));
    await assert.rejects(wait, /cancelled/);
  });
});
