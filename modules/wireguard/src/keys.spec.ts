import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@weft/core';
import {
  generateKeyPair,
  generatePresharedKey,
  generatePrivateKey,
  isValidKey,
  keyBytes,
  publicKeyOf,
} from './keys.js';

/** `wg pubkey` with the private key on stdin (never argv). */
function wgPubkey(privateKey: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('wg', ['pubkey'], (err, stdout) =>
      err ? reject(new Error('wg pubkey failed', { cause: err })) : resolve(stdout.trim()),
    );
    child.stdin?.end(`${privateKey}\n`);
  });
}

void describe('keys', () => {
  void it('derives the public key `wg pubkey` derives, for generated and fixed keys', async () => {
    const keys = [
      generatePrivateKey(),
      generatePrivateKey(),
      Buffer.alloc(32, 7).toString('base64'), // unclamped: both clamp it the same way
    ];
    for (const key of keys) assert.equal(publicKeyOf(key), await wgPubkey(key));
  });

  void it('matches a known vector (RFC 7748 §6.1, Alice)', () => {
    const alice = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
    assert.equal(
      Buffer.from(publicKeyOf(alice.toString('base64')), 'base64').toString('hex'),
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
  });

  void it('generates clamped 32-byte keys, pairs that match, and random PSKs', () => {
    const { privateKey, publicKey } = generateKeyPair();
    const bytes = keyBytes(privateKey);
    assert.equal(bytes.length, 32);
    assert.equal((bytes[0] ?? 0) & 7, 0);
    assert.equal((bytes[31] ?? 0) & 0xc0, 0x40);
    assert.equal(publicKeyOf(privateKey), publicKey);
    const psk = generatePresharedKey();
    assert.ok(isValidKey(psk));
    assert.notEqual(psk, generatePresharedKey());
  });

  void it('accepts exactly the base64 of 32 bytes and never quotes a key in errors', () => {
    const good = generatePrivateKey();
    assert.ok(isValidKey(good));
    const bad = [
      '',
      good.slice(0, -1),
      `${good}=`,
      `${good.slice(0, 42)}B=`,
      'A'.repeat(42) + '==',
      ' '.repeat(44),
    ];
    for (const key of bad) assert.equal(isValidKey(key), false, JSON.stringify(key));
    assert.equal(isValidKey(Buffer.alloc(31).toString('base64')), false);
    assert.equal(isValidKey(Buffer.alloc(33).toString('base64')), false);
    assert.throws(
      () => publicKeyOf(good.slice(1)),
      (err: Error) => err instanceof InvalidArgumentError && !err.message.includes(good.slice(1)),
    );
  });
});
