import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRandom } from '../testing/seeded-random.js';
import { ManagementParseError } from './management.errors.js';
import { encodeCommandLine, LineDecoder } from './management.transport.js';

describe('LineDecoder', () => {
  it('splits CRLF lines and keeps a partial line for the next read', () => {
    const d = new LineDecoder();
    assert.deepEqual(d.push(Buffer.from('>INFO:OpenVPN Management Interface Version 5 -- type')), []);
    assert.deepEqual(d.push(Buffer.from(" 'help' for more info\r\nSUCCESS: bytecount interval changed\r")), [
      ">INFO:OpenVPN Management Interface Version 5 -- type 'help' for more info",
    ]);
    assert.equal(d.buffered, 36);
    assert.deepEqual(d.push(Buffer.from('\n')), ['SUCCESS: bytecount interval changed']);
    assert.equal(d.buffered, 0);
  });

  it('accepts bare LF and keeps empty lines (status rows may be empty)', () => {
    assert.deepEqual(new LineDecoder().push(Buffer.from('a\n\r\nb\r\n')), ['a', '', 'b']);
  });

  it('reassembles a UTF-8 character split across reads', () => {
    const d = new LineDecoder();
    const bytes = Buffer.from('>LOG:1,,CN=Zürich\r\n');
    const cut = bytes.indexOf(0xc3) + 1;
    assert.deepEqual(d.push(bytes.subarray(0, cut)), []);
    assert.deepEqual(d.push(bytes.subarray(cut)), ['>LOG:1,,CN=Zürich']);
  });

  it('refuses a line longer than the limit', () => {
    const d = new LineDecoder(16);
    assert.throws(() => d.push(Buffer.from('x'.repeat(17))), ManagementParseError);
  });

  it('property: any chunking of a stream yields the same lines', () => {
    const rnd = new SeededRandom(0x0ba5e);
    for (let round = 0; round < 200; round++) {
      const lines = Array.from({ length: rnd.int(1, 20) }, () =>
        Array.from({ length: rnd.int(0, 40) }, () => rnd.pick([...'abc,:>\t é€'])).join(''),
      );
      const stream = Buffer.from(lines.map((l) => `${l}\r\n`).join(''));
      const d = new LineDecoder();
      const out: string[] = [];
      for (let pos = 0; pos < stream.length;) {
        const n = rnd.int(1, 9);
        out.push(...d.push(stream.subarray(pos, pos + n)));
        pos += n;
      }
      assert.deepEqual(out, lines);
      assert.equal(d.buffered, 0);
    }
  });
});

describe('encodeCommandLine', () => {
  it('adds CRLF', () => assert.equal(encodeCommandLine('state on'), 'state on\r\n'));
  it('refuses a line that would smuggle in a second command', () => {
    assert.throws(() => encodeCommandLine('kill x\r\nsignal SIGTERM'), ManagementParseError);
    assert.throws(() => encodeCommandLine('kill x\nsignal SIGTERM'), ManagementParseError);
  });
});
