import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateTlsCryptKey, tlsCryptKeyProblem } from './tls-crypt.key.js';

const counting = (n: number): Uint8Array => new Uint8Array(n).map((_, i) => i);

void describe('tls-crypt key', () => {
  void it('renders 256 bytes as openvpn --genkey secret does (golden)', () => {
    const key = generateTlsCryptKey(counting);
    const lines = key.split('\n');
    assert.deepEqual(lines.slice(0, 4), [
      '#',
      '# 2048 bit OpenVPN static key',
      '#',
      '-----BEGIN OpenVPN Static key V1-----',
    ]);
    assert.equal(lines[4], '000102030405060708090a0b0c0d0e0f');
    assert.equal(lines[19], 'f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    assert.equal(lines[20], '-----END OpenVPN Static key V1-----');
    assert.equal(lines.length, 22);
    assert.equal(key.at(-1), '\n');
    assert.equal(tlsCryptKeyProblem(key), undefined);
  });

  void it('the same bytes give the same key; a short random source is refused', () => {
    assert.equal(generateTlsCryptKey(counting), generateTlsCryptKey(counting));
    assert.throws(() => generateTlsCryptKey(() => new Uint8Array(16)), /16 bytes, not 256/);
  });

  void it('names what is wrong with a key', () => {
    const key = generateTlsCryptKey(counting);
    assert.match(tlsCryptKeyProblem('hello') ?? '', /is not an OpenVPN static key/);
    assert.match(tlsCryptKeyProblem(key.replace('000102', 'zz0102')) ?? '', /other than hex/);
    assert.match(tlsCryptKeyProblem(key.replace(/^f0f1.*\n/m, '')) ?? '', /240 bytes, not 256/);
    assert.equal(tlsCryptKeyProblem(key.replace(/\n/g, '\r\n')), undefined);
  });
});
