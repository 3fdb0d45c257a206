// Encoding and decoding of UAPI messages: pure functions from data to text and back. A message is
// `key=value` lines ended by an empty line; every reply ends with `errno=N`. Nothing here touches a
// socket, so every case is tested with golden strings.
import { constants } from 'node:os';
import { UapiProtocolError } from '../errors.js';
import type { UapiDeviceState, UapiPeerSet, UapiPeerState, UapiSetRequest } from './uapi.types.js';

const ZERO_KEY_HEX = '0'.repeat(64);
const HEX_KEY = /^[0-9a-f]{64}$/;
const UNSIGNED = /^\d{1,20}$/;

/** base64 (as `wg` prints keys) → the lowercase hex UAPI carries. Throws on anything but 32 bytes. */
export function keyToHex(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== 32 || bytes.toString('base64') !== base64) {
    throw new UapiProtocolError('a key must be the base64 of exactly 32 bytes');
  }
  return bytes.toString('hex');
}

export function hexToKey(hex: string): string {
  if (!HEX_KEY.test(hex))
    throw new UapiProtocolError('a key in a UAPI reply must be 64 lowercase hex digits');
  return Buffer.from(hex, 'hex').toString('base64');
}

export function encodeGetRequest(): string {
  return 'get=1\n\n';
}

export function encodeSetRequest(request: UapiSetRequest): string {
  const lines = ['set=1'];
  if (request.privateKey !== undefined) {
    lines.push(`private_key=${request.privateKey === null ? ZERO_KEY_HEX : keyToHex(request.privateKey)}`);
  }
  if (request.listenPort !== undefined) lines.push(`listen_port=${uint(request.listenPort, 'listen_port')}`);
  if (request.fwmark !== undefined) lines.push(`fwmark=${uint(request.fwmark, 'fwmark')}`);
  if (request.replacePeers) lines.push('replace_peers=true');
  for (const peer of request.peers ?? []) lines.push(...encodePeer(peer));
  return `${lines.join('\n')}\n\n`;
}

function encodePeer(peer: UapiPeerSet): string[] {
  const lines = [`public_key=${keyToHex(peer.publicKey)}`];
  if (peer.remove) {
    lines.push('remove=true');
    return lines;
  }
  if (peer.updateOnly) lines.push('update_only=true');
  if (peer.presharedKey !== undefined) {
    lines.push(`preshared_key=${peer.presharedKey === null ? ZERO_KEY_HEX : keyToHex(peer.presharedKey)}`);
  }
  if (peer.endpoint !== undefined) lines.push(`endpoint=${value(peer.endpoint, 'endpoint')}`);
  if (peer.persistentKeepalive !== undefined) {
    lines.push(
      `persistent_keepalive_interval=${uint(peer.persistentKeepalive, 'persistent_keepalive_interval')}`,
    );
  }
  if (peer.replaceAllowedIps) lines.push('replace_allowed_ips=true');
  for (const ip of peer.allowedIps ?? []) lines.push(`allowed_ip=${value(ip, 'allowed_ip')}`);
  if (peer.protocolVersion !== undefined) {
    lines.push(`protocol_version=${uint(peer.protocolVersion, 'protocol_version')}`);
  }
  return lines;
}

function uint(n: number, key: string): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new UapiProtocolError(`${key}=${n} is not an unsigned 32-bit integer`);
  }
  return String(n);
}

/** A value may not carry the line structure with it. */
function value(text: string, key: string): string {
  if (/[\n=\0]/.test(text) || text === '')
    throw new UapiProtocolError(`${key} has a value UAPI cannot carry`);
  return text;
}

/** Splits a reply into its lines and its errno; any deviation from the grammar is a UapiProtocolError. */
export function splitReply(reply: string): { pairs: Array<[string, string]>; errno: number } {
  if (!reply.endsWith('\n\n')) throw new UapiProtocolError('the reply does not end with an empty line');
  const lines = reply.slice(0, -2).split('\n');
  const pairs: Array<[string, string]> = [];
  for (const line of lines) {
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    if (eq <= 0 || !/^[a-z_]+$/.test(key)) {
      throw new UapiProtocolError(
        `the reply has a line that is not key=value: ${JSON.stringify(line.slice(0, 40))}`,
      );
    }
    pairs.push([key, line.slice(eq + 1)]);
  }
  const last = pairs.pop();
  if (last === undefined || last[0] !== 'errno' || !/^-?\d{1,10}$/.test(last[1])) {
    throw new UapiProtocolError('the reply does not end with errno=N');
  }
  if (pairs.some(([k]) => k === 'errno')) throw new UapiProtocolError('the reply has errno= before its end');
  return { pairs, errno: Number(last[1]) };
}

/** The errno of a `set=1` reply, which carries nothing else. */
export function decodeSetReply(reply: string): number {
  const { pairs, errno } = splitReply(reply);
  if (pairs.length > 0) throw new UapiProtocolError('a set reply carries only errno=N');
  return errno;
}

/**
 * A `get=1` reply. Keys this version does not know are skipped, so a newer wireguard-go still parses;
 * a malformed value of a known key is a UapiProtocolError.
 */
export function decodeGetReply(pairs: ReadonlyArray<readonly [string, string]>): UapiDeviceState {
  const device: UapiDeviceState = { privateKey: undefined, listenPort: 0, fwmark: 0, peers: [] };
  let peer: UapiPeerState | undefined;
  for (const [key, text] of pairs) {
    if (key === 'public_key') {
      peer = {
        publicKey: hexToKey(text),
        presharedKey: undefined,
        protocolVersion: 1,
        endpoint: undefined,
        lastHandshake: null,
        lastHandshakeTime: { sec: 0n, nsec: 0 },
        txBytes: 0n,
        rxBytes: 0n,
        persistentKeepalive: 0,
        allowedIps: [],
      };
      device.peers.push(peer);
      continue;
    }
    if (peer === undefined) {
      switch (key) {
        case 'private_key':
          device.privateKey = text === ZERO_KEY_HEX ? undefined : hexToKey(text);
          break;
        case 'listen_port':
          device.listenPort = smallUint(text, key, 0xffff);
          break;
        case 'fwmark':
          device.fwmark = smallUint(text, key, 0xffffffff);
          break;
        default:
          break;
      }
      continue;
    }
    switch (key) {
      case 'preshared_key':
        peer.presharedKey = text === ZERO_KEY_HEX ? undefined : hexToKey(text);
        break;
      case 'protocol_version':
        peer.protocolVersion = smallUint(text, key, 0xffffffff);
        break;
      case 'endpoint':
        if (text === '' || /\s/.test(text)) throw new UapiProtocolError('endpoint= has no usable value');
        peer.endpoint = text;
        break;
      case 'last_handshake_time_sec':
        peer.lastHandshakeTime.sec = bigUint(text, key);
        break;
      case 'last_handshake_time_nsec':
        peer.lastHandshakeTime.nsec = smallUint(text, key, 999_999_999);
        break;
      case 'tx_bytes':
        peer.txBytes = bigUint(text, key);
        break;
      case 'rx_bytes':
        peer.rxBytes = bigUint(text, key);
        break;
      case 'persistent_keepalive_interval':
        peer.persistentKeepalive = smallUint(text, key, 0xffff);
        break;
      case 'allowed_ip':
        if (!/^[0-9a-fA-F:.]+\/\d{1,3}$/.test(text)) {
          throw new UapiProtocolError(`allowed_ip=${text.slice(0, 50)} is not a prefix`);
        }
        peer.allowedIps.push(text);
        break;
      default:
        break;
    }
  }
  for (const p of device.peers) {
    const { sec, nsec } = p.lastHandshakeTime;
    p.lastHandshake = sec === 0n && nsec === 0 ? null : new Date(Number(sec) * 1000 + Math.floor(nsec / 1e6));
  }
  return device;
}

function smallUint(text: string, key: string, max: number): number {
  const n = UNSIGNED.test(text) ? Number(text) : NaN;
  if (!(n <= max)) throw new UapiProtocolError(`${key}=${text.slice(0, 24)} is not an integer 0–${max}`);
  return n;
}

function bigUint(text: string, key: string): bigint {
  if (!UNSIGNED.test(text))
    throw new UapiProtocolError(`${key}=${text.slice(0, 24)} is not an unsigned integer`);
  return BigInt(text);
}

/** `EINVAL` for 22 or -22 (wireguard-go sends negative numbers); `E<n>` when the number is unknown. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  for (const [name, value] of Object.entries(constants.errno)) if (value === n) return name;
  return `E${n}`;
}
