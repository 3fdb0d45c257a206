// Property tests with a fixed seed: random messages survive encode → decode, and random, truncated or
// mutated bytes never make the decoders fail with anything but ViciParseError.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom } from '../testing/seeded-random.js';
import { ViciParseError } from './vici.errors.js';
import { decodeMessage, decodeMessageRaw, encodeMessage, type ViciSection } from './vici.message.js';
import { decodePacket, encodePacket, type ViciPacket } from './vici.packet.js';
import { encodeFrame, FrameDecoder } from './vici.transport.js';

const SEED = 0x5eed_1c1;
const ROUNDS = 500;
const CHARS = ['a', 'z', '-', '_', '.', '0', '9', ' ', '=', 'é', '中', '😀', '\n', '\0', '"'];

function randomText(rng: SeededRandom, max: number): string {
  let s = '';
  const n = rng.int(0, max);
  for (let i = 0; i < n; i++) s += rng.pick(CHARS);
  return s;
}

/** A section with unique, non-integer-like keys (JS would reorder those), nested up to `depth`. */
function randomSection(rng: SeededRandom, depth: number): ViciSection {
  const section: ViciSection = {};
  const count = rng.int(0, 6);
  for (let i = 0; i < count; i++) {
    const key = `k${i}${randomText(rng, 8)}`;
    const kind = rng.int(0, depth > 0 ? 2 : 1);
    if (kind === 0) section[key] = randomText(rng, rng.bool(0.05) ? 3000 : 20);
    else if (kind === 1) section[key] = Array.from({ length: rng.int(0, 4) }, () => randomText(rng, 12));
    else section[key] = randomSection(rng, depth - 1);
  }
  return section;
}

function expectOnlyParseErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ViciParseError)) throw err;
  }
}

describe(`VICI codec properties (seed ${SEED})`, () => {
  it('decode(encode(m)) equals m, and re-encoding gives the same bytes', () => {
    const rng = new SeededRandom(SEED);
    for (let i = 0; i < ROUNDS; i++) {
      const message = randomSection(rng, 4);
      const bytes = encodeMessage(message);
      const decoded = decodeMessage(bytes);
      assert.deepEqual(decoded, message);
      assert.deepEqual(encodeMessage(decoded), bytes);
      assert.deepEqual(encodeMessage(decodeMessageRaw(bytes) as never), bytes);
    }
  });

  it('packets survive encode → frame → arbitrary chunking → decode', () => {
    const rng = new SeededRandom(SEED + 1);
    const packets: ViciPacket[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const message = encodeMessage(randomSection(rng, 2));
      const name = randomText(rng, 30);
      packets.push(
        rng.pick<ViciPacket>([
          { type: 'cmd-request', name, message },
          { type: 'cmd-response', message },
          { type: 'cmd-unknown' },
          { type: 'event-register', name },
          { type: 'event-unregister', name },
          { type: 'event-confirm' },
          { type: 'event-unknown' },
          { type: 'event', name, message },
        ]),
      );
    }
    const stream = Buffer.concat(packets.map((p) => encodeFrame(encodePacket(p))));
    const decoder = new FrameDecoder();
    const out: ViciPacket[] = [];
    for (let pos = 0; pos < stream.length;) {
      const len = rng.int(1, 300);
      for (const frame of decoder.push(stream.subarray(pos, pos + len))) out.push(decodePacket(frame));
      pos += len;
    }
    assert.deepEqual(out, packets);
  });

  it('random bytes fail with ViciParseError only', () => {
    const rng = new SeededRandom(SEED + 2);
    for (let i = 0; i < ROUNDS * 4; i++) {
      const bytes = rng.bytes(rng.int(0, 64));
      // Bias towards plausible element types so the decoder gets past the first byte.
      for (let j = 0; j < bytes.length; j += rng.int(1, 6)) bytes[j] = rng.int(0, 7);
      expectOnlyParseErrors(() => decodeMessage(bytes));
      expectOnlyParseErrors(() => decodeMessageRaw(bytes));
      expectOnlyParseErrors(() => decodePacket(bytes));
      expectOnlyParseErrors(() => new FrameDecoder(1024).push(bytes));
    }
  });

  it('every truncation and single-byte mutation of valid messages fails with ViciParseError only', () => {
    const rng = new SeededRandom(SEED + 3);
    for (let i = 0; i < ROUNDS / 5; i++) {
      const bytes = encodeMessage(randomSection(rng, 3));
      for (let cut = 0; cut < bytes.length; cut++) {
        expectOnlyParseErrors(() => decodeMessage(bytes.subarray(0, cut)));
      }
      for (let m = 0; m < 20 && bytes.length > 0; m++) {
        const mutated = Buffer.from(bytes);
        mutated[rng.int(0, mutated.length - 1)] = rng.int(0, 255);
        expectOnlyParseErrors(() => decodeMessage(mutated));
        expectOnlyParseErrors(() => decodePacket(Buffer.concat([Buffer.of(7, 1, 0x78), mutated])));
      }
    }
  });
});
