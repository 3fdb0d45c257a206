// WireGuard keys: Curve25519 (x25519) keys of exactly 32 bytes, written as standard base64 the way
// `wg genkey` / `wg pubkey` / `wg genpsk` write them. Generated in-process, never through a command,
// so a private key never appears in argv, a pipe or a log.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@weft/core';

export const WG_KEY_LENGTH = 32;

/** 43 base64 characters then one of the 16 characters a 32-byte value can end with, then `=`. */
const KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/**
 * The fixed DER head of a PKCS#8 X25519 private key (RFC 8410): SEQUENCE, version 0, AlgorithmIdentifier
 * 1.3.101.110, OCTET STRING { OCTET STRING (32) }. A private JWK would need the public `x` we want to
 * compute.
 */
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface WgKeyPair {
  privateKey: string;
  publicKey: string;
}

/** True when `text` is the canonical base64 of exactly 32 bytes. */
export function isValidKey(text: string): boolean {
  return KEY_PATTERN.test(text);
}

/**
 * The 32 bytes of a base64 key. `what` names the field in the error (`peers[3].publicKey`); the value
 * itself is never quoted, since it may be a secret.
 */
export function keyBytes(text: string, what = 'key'): Buffer {
  if (typeof text !== 'string' || !isValidKey(text)) {
    throw new InvalidArgumentError(`${what} is not a WireGuard key (base64 of exactly 32 bytes)`);
  }
  return Buffer.from(text, 'base64');
}

/** Clamps as `wg genkey` does (RFC 7748 §5), so reading the key back from a device gives the same text. */
function clamp(key: Buffer): Buffer {
  const out = Buffer.from(key);
  out[0] = (out[0] ?? 0) & 248;
  out[31] = ((out[31] ?? 0) & 127) | 64;
  return out;
}

export function generatePrivateKey(): string {
  const { privateKey } = generateKeyPairSync('x25519');
  const d = privateKey.export({ format: 'jwk' }).d;
  if (d === undefined) throw new Error('node:crypto exported an x25519 key without "d"');
  return clamp(Buffer.from(d, 'base64url')).toString('base64');
}

export function generateKeyPair(): WgKeyPair {
  const privateKey = generatePrivateKey();
  return { privateKey, publicKey: publicKeyOf(privateKey) };
}

/** The public key of a base64 private key, as `wg pubkey` computes it. */
export function publicKeyOf(privateKey: string): string {
  const der = Buffer.concat([PKCS8_X25519_PREFIX, keyBytes(privateKey, 'privateKey')]);
  const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (x === undefined) throw new Error('node:crypto exported an x25519 public key without "x"');
  return Buffer.from(x, 'base64url').toString('base64');
}

/** 32 random bytes, as `wg genpsk` gives. */
export function generatePresharedKey(): string {
  return randomBytes(WG_KEY_LENGTH).toString('base64');
}
