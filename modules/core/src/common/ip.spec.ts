import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalPrefix, formatIp, parseIp, parsePrefix } from './ip.js';
import { InvalidArgumentError } from '../errors.js';

void describe('ip', () => {
  void it('round-trips IPv4 and IPv6 text through bytes', () => {
    for (const text of [
      '0.0.0.0',
      '10.1.2.3',
      '255.255.255.255',
      '::',
      '::1',
      '2001:db8::1',
      'fe80::1:0:0:1',
    ]) {
      assert.equal(formatIp(parseIp(text).bytes), text);
    }
  });

  void it('formats IPv6 per RFC 5952', () => {
    assert.equal(formatIp(parseIp('2001:DB8:0:0:0:0:0:1').bytes), '2001:db8::1');
    assert.equal(formatIp(parseIp('2001:db8:0:1:0:0:0:1').bytes), '2001:db8:0:1::1');
    assert.equal(formatIp(parseIp('2001:0:0:1:0:0:0:1').bytes), '2001:0:0:1::1');
    assert.equal(formatIp(parseIp('2001:db8:1:1:1:1:0:1').bytes), '2001:db8:1:1:1:1:0:1');
    assert.equal(formatIp(parseIp('::ffff:192.0.2.1').bytes), '::ffff:c000:201');
  });

  void it('parses prefixes and bare addresses', () => {
    assert.deepEqual(parsePrefix('10.1.0.0/16'), {
      family: 'inet',
      bytes: Buffer.from([10, 1, 0, 0]),
      prefixLength: 16,
    });
    assert.equal(parsePrefix('192.0.2.7').prefixLength, 32);
    assert.equal(parsePrefix('2001:db8::1').prefixLength, 128);
    assert.equal(canonicalPrefix('2001:DB8:0::/32'), '2001:db8::/32');
    assert.equal(canonicalPrefix('0.0.0.0/0'), '0.0.0.0/0');
  });

  void it('refuses host bits unless asked, naming the network', () => {
    assert.throws(() => parsePrefix('10.1.0.5/16'), /network is 10\.1\.0\.0\/16/);
    assert.equal(parsePrefix('10.1.0.5/16', { allowHostBits: true }).prefixLength, 16);
    assert.throws(() => parsePrefix('2001:db8::1/32'), /network is 2001:db8::\/32/);
  });

  void it('refuses garbage with InvalidArgumentError', () => {
    for (const bad of [
      '',
      '10.1.0.0/33',
      '10.1.0/8',
      'fe80::1%eth0',
      '::/129',
      '10.0.0.0/-1',
      '10.0.0.0/1a',
    ]) {
      assert.throws(() => parsePrefix(bad), InvalidArgumentError, bad);
    }
  });
});
