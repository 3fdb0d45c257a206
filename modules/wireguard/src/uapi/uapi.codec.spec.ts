import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { UapiProtocolError } from '../errors.js';
import {
  decodeGetReply,
  decodeSetReply,
  encodeGetRequest,
  encodeSetRequest,
  errnoName,
  hexToKey,
  keyToHex,
  splitReply,
} from './uapi.codec.js';

const HEX1 = '01'.repeat(32);
const KEY1 = Buffer.from(HEX1, 'hex').toString('base64');
const HEX2 = 'ab'.repeat(32);
const KEY2 = Buffer.from(HEX2, 'hex').toString('base64');
const HEX3 = '0c'.repeat(32);
const KEY3 = Buffer.from(HEX3, 'hex').toString('base64');

/** A reply as wireguard-go 0.0.20220316 wrote it in the lab (keys replaced). */
const GET_REPLY =
  `private_key=${HEX1}\nlisten_port=51001\nfwmark=7\n` +
  `public_key=${HEX2}\npreshared_key=${'0'.repeat(64)}\nprotocol_version=1\nendpoint=127.0.0.1:51002\n` +
  'last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=250000000\ntx_bytes=18446744073709551615\n' +
  'rx_bytes=92\npersistent_keepalive_interval=25\nallowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n' +
  `public_key=${HEX3}\npreshared_key=${HEX1}\nprotocol_version=1\nendpoint=[::1]:5000\n` +
  'last_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\nrx_bytes=0\n' +
  'persistent_keepalive_interval=0\nerrno=0\n\n';

void describe('UAPI codec', () => {
  void it('converts keys between base64 and lowercase hex', () => {
    assert.equal(keyToHex(KEY2), HEX2);
    assert.equal(hexToKey(HEX2), KEY2);
    assert.throws(() => keyToHex(KEY2.slice(0, -2)), UapiProtocolError);
    assert.throws(() => hexToKey(HEX2.toUpperCase()), UapiProtocolError);
    assert.throws(() => hexToKey(HEX2.slice(2)), UapiProtocolError);
  });

  void it('encodes get and set messages (golden strings)', () => {
    assert.equal(encodeGetRequest(), 'get=1\n\n');
    assert.equal(
      encodeSetRequest({ privateKey: KEY1, listenPort: 51820, fwmark: 0, replacePeers: true }),
      `set=1\nprivate_key=${HEX1}\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n\n`,
    );
    assert.equal(
      encodeSetRequest({
        peers: [
          { publicKey: KEY2, remove: true, endpoint: 'ignored:1' },
          {
            publicKey: KEY3,
            updateOnly: true,
            presharedKey: null,
            endpoint: '[2001:db8::1]:51820',
            persistentKeepalive: 0,
            replaceAllowedIps: true,
            allowedIps: ['10.0.0.0/8', '::/0'],
            protocolVersion: 1,
          },
          { publicKey: KEY1, presharedKey: KEY2 },
        ],
      }),
      `set=1\npublic_key=${HEX2}\nremove=true\n` +
        `public_key=${HEX3}\nupdate_only=true\npreshared_key=${'0'.repeat(64)}\nendpoint=[2001:db8::1]:51820\n` +
        'persistent_keepalive_interval=0\nreplace_allowed_ips=true\nallowed_ip=10.0.0.0/8\nallowed_ip=::/0\n' +
        `protocol_version=1\npublic_key=${HEX1}\npreshared_key=${HEX2}\n\n`,
    );
    assert.equal(encodeSetRequest({ privateKey: null }), `set=1\nprivate_key=${'0'.repeat(64)}\n\n`);
  });

  void it('refuses values that would break the line structure', () => {
    assert.throws(
      () => encodeSetRequest({ peers: [{ publicKey: KEY1, endpoint: '1.2.3.4:5\nremove=true' }] }),
      UapiProtocolError,
    );
    assert.throws(
      () => encodeSetRequest({ peers: [{ publicKey: KEY1, allowedIps: ['a=b'] }] }),
      UapiProtocolError,
    );
    assert.throws(() => encodeSetRequest({ listenPort: -1 }), UapiProtocolError);
  });

  void it('decodes a get reply (golden string)', () => {
    const { pairs, errno } = splitReply(GET_REPLY);
    assert.equal(errno, 0);
    const state = decodeGetReply(pairs);
    assert.equal(state.privateKey, KEY1);
    assert.equal(state.listenPort, 51001);
    assert.equal(state.fwmark, 7);
    assert.equal(state.peers.length, 2);
    const [p1, p2] = state.peers;
    assert.deepEqual(p1, {
      publicKey: KEY2,
      presharedKey: undefined,
      protocolVersion: 1,
      endpoint: '127.0.0.1:51002',
      lastHandshake: new Date(1_700_000_000_250),
      lastHandshakeTime: { sec: 1_700_000_000n, nsec: 250_000_000 },
      txBytes: 18446744073709551615n,
      rxBytes: 92n,
      persistentKeepalive: 25,
      allowedIps: ['10.0.0.0/24', 'fd00::/64'],
    });
    assert.equal(p2?.presharedKey, KEY1);
    assert.equal(p2?.endpoint, '[::1]:5000');
    assert.equal(p2?.lastHandshake, null);
    assert.deepEqual(p2?.allowedIps, []);
  });

  void it('decodes the reply of a fresh device, and skips keys it does not know', () => {
    const state = decodeGetReply(splitReply('listen_port=36251\nsome_future_key=x\nerrno=0\n\n').pairs);
    assert.deepEqual(state, { privateKey: undefined, listenPort: 36251, fwmark: 0, peers: [] });
  });

  void it('reads errno from set replies, negative as wireguard-go sends it', () => {
    assert.equal(decodeSetReply('errno=0\n\n'), 0);
    assert.equal(decodeSetReply('errno=-22\n\n'), -22);
    assert.equal(errnoName(-22), 'EINVAL');
    assert.equal(errnoName(71), 'EPROTO');
    assert.equal(errnoName(99999), 'E99999');
  });

  void it('raises UapiProtocolError on truncated or garbage replies', () => {
    const bad = [
      '',
      'errno=0\n',
      GET_REPLY.slice(0, 100),
      GET_REPLY.slice(0, -10) + '\n\n',
      'listen_port=1\n\n',
      'garbage\nerrno=0\n\n',
      '=x\nerrno=0\n\n',
      'errno=zero\n\n',
      'errno=0\nlisten_port=1\nerrno=0\n\n',
      '\n\n',
      '\u0000\u0001\n\n',
    ];
    for (const reply of bad) {
      assert.throws(() => decodeGetReply(splitReply(reply).pairs), UapiProtocolError, JSON.stringify(reply));
    }
    assert.throws(() => decodeSetReply('listen_port=1\nerrno=0\n\n'), UapiProtocolError);
    const values = [
      `listen_port=70000\nerrno=0\n\n`,
      `private_key=xyz\nerrno=0\n\n`,
      `public_key=${HEX1}\nrx_bytes=-1\nerrno=0\n\n`,
      `public_key=${HEX1}\nallowed_ip=everything\nerrno=0\n\n`,
      `public_key=${HEX1}\nlast_handshake_time_nsec=1000000000\nerrno=0\n\n`,
    ];
    for (const reply of values)
      assert.throws(() => decodeGetReply(splitReply(reply).pairs), UapiProtocolError, reply);
  });

  void it('never crashes on random bytes (fuzz)', () => {
    let seed = 42;
    const rand = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = 'abcdef0123456789=_\n-/:.[]xyz';
    for (let i = 0; i < 2000; i++) {
      const base = rand() < 0.5 ? GET_REPLY : '';
      const chars = [...base];
      const edits = 1 + Math.floor(rand() * 5);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (chars.length + 1));
        chars.splice(at, rand() < 0.5 ? 1 : 0, alphabet[Math.floor(rand() * alphabet.length)] ?? 'x');
      }
      const reply = chars.join('');
      try {
        const { pairs } = splitReply(reply);
        decodeGetReply(pairs);
      } catch (err) {
        assert.ok(
          err instanceof UapiProtocolError,
          `${String(err)} for ${JSON.stringify(reply.slice(0, 80))}`,
        );
      }
    }
  });
});
