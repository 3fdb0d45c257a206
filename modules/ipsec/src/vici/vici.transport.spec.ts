import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ViciEncodeError, ViciParseError } from './vici.errors.js';
import { encodeFrame, FrameDecoder } from './vici.transport.js';

describe('VICI framing', () => {
  it('prefixes a 32-bit big-endian length', () => {
    assert.deepEqual([...encodeFrame(Buffer.from([5]))], [0, 0, 0, 1, 5]);
    assert.deepEqual([...encodeFrame(Buffer.alloc(0))], [0, 0, 0, 0]);
    assert.deepEqual([...encodeFrame(Buffer.alloc(0x10203)).subarray(0, 4)], [0, 1, 2, 3]);
  });

  it('refuses to send a frame over the maximum', () => {
    assert.throws(() => encodeFrame(Buffer.alloc(11), 10), ViciEncodeError);
  });

  it('reassembles a frame delivered one byte at a time', () => {
    const decoder = new FrameDecoder();
    const bytes = encodeFrame(Buffer.from('hello'));
    const out: Buffer[] = [];
    for (const b of bytes) out.push(...decoder.push(Buffer.of(b)));
    assert.deepEqual(out, [Buffer.from('hello')]);
    assert.equal(decoder.buffered, 0);
  });

  it('splits a chunk holding several frames, an empty one and the start of the next', () => {
    const decoder = new FrameDecoder();
    const chunk = Buffer.concat([
      encodeFrame(Buffer.from('a')),
      encodeFrame(Buffer.alloc(0)),
      encodeFrame(Buffer.from('bc')),
      encodeFrame(Buffer.from('def')).subarray(0, 5),
    ]);
    assert.deepEqual(decoder.push(chunk), [Buffer.from('a'), Buffer.alloc(0), Buffer.from('bc')]);
    assert.equal(decoder.buffered, 5);
    assert.deepEqual(decoder.push(Buffer.from('ef')), [Buffer.from('def')]);
  });

  it('rejects a frame announced over the maximum before it arrives', () => {
    const decoder = new FrameDecoder(1024);
    assert.throws(() => decoder.push(Buffer.from([0, 0, 4, 1])), ViciParseError);
  });
});
