// The `OpenVPN Static key V1` format that `tls-crypt` (and `tls-auth`, `secret`) reads: 2048 bits as 16
// lines of 32 lowercase hex digits between BEGIN/END lines, as `openvpn --genkey secret` writes it.
// Pure: the caller hands in its random source (node:crypto's randomBytes in the appliance), so the key
// is testable and the same bytes always give the same text.
import { InvalidArgumentError } from '@weft/core';

export const STATIC_KEY_BYTES = 256;
const BEGIN = '-----BEGIN OpenVPN Static key V1-----';
const END = '-----END OpenVPN Static key V1-----';
const HEX_PER_LINE = 32;

/** A new tls-crypt key from `randomBytes` (must return `n` cryptographically random bytes). */
export function generateTlsCryptKey(randomBytes: (n: number) => Uint8Array): string {
  const bytes = randomBytes(STATIC_KEY_BYTES);
  if (bytes.length !== STATIC_KEY_BYTES) {
    throw new InvalidArgumentError(`the random source gave ${bytes.length} bytes, not ${STATIC_KEY_BYTES}`);
  }
  const hex = Buffer.from(bytes).toString('hex');
  const lines: string[] = [];
  for (let i = 0; i < hex.length; i += HEX_PER_LINE) lines.push(hex.slice(i, i + HEX_PER_LINE));
  return ['#', '# 2048 bit OpenVPN static key', '#', BEGIN, ...lines, END, ''].join('\n');
}

/**
 * Why `text` is not a 2048-bit static key openvpn accepts, or undefined when it is. Comment lines (`#`)
 * and blank lines around the block are fine; anything else is not.
 */
export function tlsCryptKeyProblem(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (lines[0] !== BEGIN || lines.at(-1) !== END) {
    return `is not an OpenVPN static key: it must run from ${BEGIN} to ${END}`;
  }
  const body = lines.slice(1, -1);
  if (!body.every((l) => /^[0-9a-fA-F]+$/.test(l))) return 'holds lines other than hex digits';
  const digits = body.join('').length;
  if (digits !== STATIC_KEY_BYTES * 2) {
    return `holds ${digits / 2} bytes, not ${STATIC_KEY_BYTES} (2048 bits): make it with openvpn --genkey secret`;
  }
  return undefined;
}
