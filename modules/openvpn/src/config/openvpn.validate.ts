// Every value the renderer writes into a config file passes through one of these first. openvpn reads its
// config line by line, splits at blanks, takes quotes and backslashes as escapes and `#`/`;` as comments:
// a value with any of them could end an option early or smuggle in a second one (`up /bin/sh`). So the
// accepted alphabets are small, and anything else is refused with a message naming the field.
import { InvalidArgumentError, parseIp, parsePrefix, type IpFamily } from '@weft/core';

/** Path characters accepted: no blanks, quotes, backslashes, `#`, `;`, and no `..` segment. */
const SAFE_PATH = /^\/[A-Za-z0-9._/@+-]*$/;
/** `sun_path` holds 108 bytes with its NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;

export function checkPath(path: string, what: string): string {
  if (!SAFE_PATH.test(path) || path.split('/').includes('..') || path.length > 512) {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(path)} is not an absolute path of letters, digits and ._/@+- without '..'`,
    );
  }
  return path;
}

export function checkSocketPath(path: string, what: string): string {
  checkPath(path, what);
  if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) {
    throw new InvalidArgumentError(
      `${what}: ${path} is longer than ${MAX_UNIX_SOCKET_PATH} bytes, too long for a UNIX socket: use a shorter runtime dir`,
    );
  }
  return path;
}

export function checkInstanceName(name: string, what = 'name'): string {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/.test(name)) {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(name)} must be 1–40 lowercase letters, digits and '-' (not at either end)`,
    );
  }
  return name;
}

/** A Linux interface name: ≤ 15 bytes, no '/', blanks or ':'; not '.' or '..'. */
export function checkDevice(name: string, what = 'device'): string {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(name) || name === '.' || name === '..') {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(name)} is not an interface name (1–15 of letters, digits and _.-)`,
    );
  }
  return name;
}

export function checkInteger(value: number, min: number, max: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(`${what}: ${value} is not a whole number from ${min} to ${max}`);
  }
  return value;
}

export function checkPort(port: number, what: string): number {
  return checkInteger(port, 1, 65535, what);
}

export function checkAddress(text: string, what: string, family?: IpFamily): string {
  let parsed;
  try {
    parsed = parseIp(text);
  } catch {
    throw new InvalidArgumentError(`${what}: ${JSON.stringify(text)} is not an IP address`);
  }
  if (family && parsed.family !== family) {
    throw new InvalidArgumentError(
      `${what}: ${text} is not an ${family === 'inet' ? 'IPv4' : 'IPv6'} address`,
    );
  }
  return text;
}

/** An IP literal, or a DNS name (letters, digits, '-', dots; labels ≤ 63, name ≤ 253). */
export function checkHost(text: string, what: string): string {
  try {
    parseIp(text);
    return text;
  } catch {
    // not an IP literal: a name?
  }
  const label = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253 || !name.split('.').every((l) => label.test(l))) {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(text)} is neither an IP address nor a DNS name`,
    );
  }
  return text;
}

/** An IPv4 prefix without host bits, as `{ network, netmask }` for openvpn's `route`/`iroute`. */
export function ipv4Prefix(text: string, what: string): { network: string; netmask: string; length: number } {
  let prefix;
  try {
    prefix = parsePrefix(text);
  } catch (cause) {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(text)} is not a prefix without host bits (${(cause as Error).message})`,
      { cause },
    );
  }
  if (prefix.family !== 'inet') {
    throw new InvalidArgumentError(
      `${what}: ${text} is not an IPv4 prefix (IPv6 tunnels are not rendered yet)`,
    );
  }
  return {
    network: [...prefix.bytes].join('.'),
    netmask: netmaskOf(prefix.prefixLength),
    length: prefix.prefixLength,
  };
}

export function netmaskOf(length: number): string {
  const bits = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

/** Whether IPv4 `address` lies in `prefix` (network/length). */
export function ipv4Contains(prefix: { network: string; length: number }, address: string): boolean {
  const toInt = (a: string): number => a.split('.').reduce((n, o) => ((n << 8) | Number(o)) >>> 0, 0);
  const mask = prefix.length === 0 ? 0 : (0xffffffff << (32 - prefix.length)) >>> 0;
  return (toInt(address) & mask) >>> 0 === (toInt(prefix.network) & mask) >>> 0;
}

/**
 * A certificate common name as `verify-x509-name <cn> name` and the ccd file name take it: no blanks,
 * quotes, slashes or commas (openvpn would need escapes, and a ccd file name must not climb directories).
 */
export function checkCommonName(cn: string, what: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/.test(cn)) {
    throw new InvalidArgumentError(
      `${what}: ${JSON.stringify(cn)} must be 1–64 of letters, digits and ._@- (starting with a letter or digit)`,
    );
  }
  return cn;
}

const PEM_BLOCK = (label: string): RegExp =>
  new RegExp(`-----BEGIN ${label}-----\\r?\\n[A-Za-z0-9+/=\\r\\n]+-----END ${label}-----`, 'g');

/** PEM text holding only `label` blocks (at least one) and blank lines. */
export function checkPem(text: string, labels: readonly string[], what: string): string {
  let rest = text;
  let blocks = 0;
  for (const label of labels) {
    rest = rest.replace(PEM_BLOCK(label), () => {
      blocks++;
      return '';
    });
  }
  if (blocks === 0 || rest.trim() !== '') {
    throw new InvalidArgumentError(
      `${what} is not PEM text of ${labels.join(' / ')} blocks: paste the whole block, from -----BEGIN to -----END-----`,
    );
  }
  return text;
}
