// Golden byte vectors for the message layer, derived by hand from the format in strongSwan's
// src/libcharon/plugins/vici/README.md ("Message format", "Encoding example").
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ViciEncodeError, ViciParseError } from './vici.errors.js';
import { decodeMessage, decodeMessageRaw, encodeMessage } from './vici.message.js';

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

// The README's example: key1 = value1, section1 = { sub-section = { key2 = value2 }, list1 = [item1, item2] }
const README_EXAMPLE = Buffer.from([
  3, 4, ...ascii('key1'), 0, 6, ...ascii('value1'),
  1, 8, ...ascii('section1'),
  1, 11, ...ascii('sub-section'),
  3, 4, ...ascii('key2'), 0, 6, ...ascii('value2'),
  2,
  4, 5, ...ascii('list1'),
  5, 0, 5, ...ascii('item1'),
  5, 0, 5, ...ascii('item2'),
  6,
  2,
]); // prettier-ignore

describe('VICI message encoding', () => {
  it("encodes the README's example byte for byte", () => {
    const bytes = encodeMessage({
      key1: 'value1',
      section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] },
    });
    assert.deepEqual([...bytes], [...README_EXAMPLE]);
  });

  it('encodes an empty message as no bytes', () => {
    assert.equal(encodeMessage({}).length, 0);
  });

  it('writes numbers as decimal text, booleans as yes/no, bytes as they are, and skips undefined', () => {
    const bytes = encodeMessage({ a: 500, b: true, c: false, d: undefined, e: Uint8Array.of(0, 0xff) });
    assert.deepEqual(
      [...bytes],
      [
        3, 1, ...ascii('a'), 0, 3, ...ascii('500'),
        3, 1, ...ascii('b'), 0, 3, ...ascii('yes'),
        3, 1, ...ascii('c'), 0, 2, ...ascii('no'),
        3, 1, ...ascii('e'), 0, 2, 0x00, 0xff,
      ],
    ); // prettier-ignore
  });

  it('encodes empty lists, empty sections and three levels of nesting', () => {
    const bytes = encodeMessage({ l: [], s: {}, x: { y: { z: { k: 'v' } } } });
    assert.deepEqual(
      [...bytes],
      [
        4, 1, ...ascii('l'), 6,
        1, 1, ...ascii('s'), 2,
        1, 1, ...ascii('x'), 1, 1, ...ascii('y'), 1, 1, ...ascii('z'),
        3, 1, ...ascii('k'), 0, 1, ...ascii('v'),
        2, 2, 2,
      ],
    ); // prettier-ignore
  });

  it('writes 16-bit big-endian value lengths (a 300-byte value: 0x01 0x2c)', () => {
    const bytes = encodeMessage({ k: 'x'.repeat(300) });
    assert.deepEqual([...bytes.subarray(0, 5)], [3, 1, 0x6b, 0x01, 0x2c]);
    assert.equal(bytes.length, 5 + 300);
  });

  it('encodes UTF-8 names and values by their byte length', () => {
    assert.deepEqual([...encodeMessage({ é: 'ü' })], [3, 2, 0xc3, 0xa9, 0, 2, 0xc3, 0xbc]);
  });

  it('refuses a name over 255 bytes and a value over 65535 bytes, without quoting the value', () => {
    assert.throws(() => encodeMessage({ ['n'.repeat(256)]: 'v' }), ViciEncodeError);
    assert.doesNotThrow(() => encodeMessage({ ['n'.repeat(255)]: 'v'.repeat(65535) }));
    const secret = 'S3cr3t-'.repeat(10_000);
    assert.throws(
      () => encodeMessage({ data: secret }),
      (err: Error) =>
        err instanceof ViciEncodeError && !err.message.includes('S3cr3t') && /data/.test(err.message),
    );
    assert.throws(() => encodeMessage({ list: ['a', 'b'.repeat(65536)] }), /list\[1\]/);
  });

  it('refuses values that are neither scalars, lists nor sections', () => {
    assert.throws(() => encodeMessage({ f: (() => 1) as unknown as string }), ViciEncodeError);
    assert.throws(() => encodeMessage({ n: Number.NaN }), ViciEncodeError);
  });
});

describe('VICI message decoding', () => {
  it("decodes the README's example", () => {
    assert.deepEqual(decodeMessage(README_EXAMPLE), {
      key1: 'value1',
      section1: { 'sub-section': { key2: 'value2' }, list1: ['item1', 'item2'] },
    });
  });

  it('keeps the wire order of keys', () => {
    const m = decodeMessage(encodeMessage({ zeta: 'a', alpha: 'b', mid: { y: '1', b: '2' } }));
    assert.deepEqual(Object.keys(m), ['zeta', 'alpha', 'mid']);
    assert.deepEqual(Object.keys(m['mid'] as object), ['y', 'b']);
  });

  it('gives raw Buffers with decodeMessageRaw, also for bytes that are not UTF-8', () => {
    const bytes = Buffer.from([3, 1, ...ascii('d'), 0, 2, 0xff, 0xfe, 4, 1, ...ascii('l'), 5, 0, 1, 0x80, 6]);
    const raw = decodeMessageRaw(bytes);
    assert.deepEqual(raw['d'], Buffer.from([0xff, 0xfe]));
    assert.deepEqual(raw['l'], [Buffer.from([0x80])]);
  });

  it('takes a key named __proto__ as data', () => {
    const m = decodeMessage(Buffer.from([3, 9, ...ascii('__proto__'), 0, 1, ...ascii('x')]));
    assert.equal(Object.getPrototypeOf(m), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(m, '__proto__')?.value, 'x');
  });

  const malformed: Array<[string, number[]]> = [
    ['a truncated name', [3, 4, ...ascii('ke')]],
    ['a missing value length', [3, 1, ...ascii('k'), 0]],
    ['a truncated value', [3, 1, ...ascii('k'), 0, 5, ...ascii('abc')]],
    ['an unknown element type', [7]],
    ['element type 0', [0]],
    ['a section end at the top level', [2]],
    ['an unclosed section', [1, 1, ...ascii('s')]],
    ['an unclosed list', [4, 1, ...ascii('l'), 5, 0, 0]],
    ['a list item outside a list', [5, 0, 0]],
    ['a list end without a list', [6]],
    ['a key/value inside a list', [4, 1, ...ascii('l'), 3, 1, ...ascii('k'), 0, 0, 6]],
    ['a section inside a list', [4, 1, ...ascii('l'), 1, 1, ...ascii('s'), 2, 6]],
    ['a list inside a list', [4, 1, ...ascii('l'), 4, 1, ...ascii('m'), 6, 6]],
    ['a section end inside a list', [1, 1, ...ascii('s'), 4, 1, ...ascii('l'), 2]],
    ['a duplicate key', [3, 1, ...ascii('k'), 0, 0, 4, 1, ...ascii('k'), 6]],
  ];
  for (const [what, bytes] of malformed) {
    it(`rejects ${what} with ViciParseError`, () => {
      assert.throws(() => decodeMessage(Buffer.from(bytes)), ViciParseError);
    });
  }
});
