import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstHostOf, hasHostBits, networkOf, overlaps, parseIp, parsePrefix } from './cidr.js';

const p = (s: string) => {
  const x = parsePrefix(s);
  assert.ok(x, `parse ${s}`);
  return x;
};

describe('cidr', () => {
  it('parses IPv4 and IPv6 prefixes and rejects malformed ones', () => {
    assert.equal(p('10.1.0.0/24').len, 24);
    assert.equal(p('fd00:1::/64').family, 6);
    assert.equal(p('::ffff:192.0.2.0/120').family, 6);
    for (const bad of [
      '10.1.0.0',
      '10.1.0.256/24',
      '10.1.0.0/33',
      'fd00::1::2/64',
      'fd00::/129',
      'x/8',
      '1.2.3/8',
    ]) {
      assert.equal(parsePrefix(bad), undefined, bad);
    }
  });

  it('names the first host of a prefix as a host prefix', () => {
    assert.equal(firstHostOf(p('10.11.0.0/24')), '10.11.0.1/32');
    assert.equal(firstHostOf(p('10.11.0.0/31')), '10.11.0.0/32');
    assert.equal(firstHostOf(p('10.11.0.9/32')), '10.11.0.9/32');
    assert.equal(firstHostOf(p('fd00:11::/64')), 'fd00:11::1/128');
  });

  it('finds host bits and names the network', () => {
    assert.equal(hasHostBits(p('10.1.0.1/24')), true);
    assert.equal(networkOf(p('10.1.0.1/24')), '10.1.0.0/24');
    assert.equal(hasHostBits(p('10.1.0.0/24')), false);
    assert.equal(networkOf(p('fd00:1::5/64')), 'fd00:1::/64');
    assert.equal(hasHostBits(p('0.0.0.0/0')), false);
  });

  it('decides overlap by the shorter prefix, never across families', () => {
    assert.equal(overlaps(p('10.1.0.0/16'), p('10.1.5.0/24')), true);
    assert.equal(overlaps(p('10.1.0.0/24'), p('10.2.0.0/24')), false);
    assert.equal(overlaps(p('0.0.0.0/0'), p('192.0.2.0/24')), true);
    assert.equal(overlaps(p('fd00::/8'), p('fd12:3456::/32')), true);
    assert.equal(overlaps(p('10.0.0.0/8'), p('::/0')), false);
  });

  it('parses addresses', () => {
    assert.deepEqual(parseIp('192.0.2.1'), { family: 4, addr: 0xc0000201n });
    assert.equal(parseIp('::1')?.addr, 1n);
    assert.equal(parseIp('2001:db8::1')?.family, 6);
    assert.equal(parseIp('300.1.1.1'), undefined);
  });
});
