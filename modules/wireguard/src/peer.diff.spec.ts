import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '@weft/core';
import { generatePresharedKey, generatePrivateKey, publicKeyOf } from './keys.js';
import { diffPeers, peersDiffer, summarizeOperations, type ObservedPeer } from './peer.diff.js';
import type { WgPeerConfig } from './wireguard.types.js';

const A = publicKeyOf(generatePrivateKey());
const B = publicKeyOf(generatePrivateKey());
const C = publicKeyOf(generatePrivateKey());
const PSK = generatePresharedKey();

function observed(peer: WgPeerConfig, extra: Partial<ObservedPeer> = {}): ObservedPeer {
  const o: ObservedPeer = {
    publicKey: peer.publicKey,
    allowedIps: peer.allowedIps,
    persistentKeepalive: peer.persistentKeepalive ?? 0,
    hasPresharedKey: peer.presharedKey !== undefined,
    ...extra,
  };
  if (peer.endpoint !== undefined && !('endpoint' in extra)) o.endpoint = peer.endpoint;
  if (peer.presharedKey !== undefined && !('presharedKey' in extra)) o.presharedKey = peer.presharedKey;
  return o;
}

const a: WgPeerConfig = {
  publicKey: A,
  endpoint: '192.0.2.1:51820',
  allowedIps: ['10.1.0.0/16'],
  persistentKeepalive: 25,
};
const b: WgPeerConfig = { publicKey: B, allowedIps: ['10.2.0.0/16', 'fd00:2::/64'], presharedKey: PSK };

void describe('diffPeers', () => {
  void it('nothing changed → no operations', () => {
    assert.deepEqual(diffPeers([a, b], [observed(a), observed(b)]), []);
    assert.equal(peersDiffer([a, b], [observed(b), observed(a)]), false);
  });

  void it('treats equal spellings as equal (allowed IP order and case, IPv6 endpoints, keepalive 0)', () => {
    const v6: WgPeerConfig = {
      publicKey: C,
      endpoint: '[2001:DB8:0::1]:51820',
      allowedIps: ['FD00:3::/64', '10.3.0.0/16', '10.3.0.0/16'],
      persistentKeepalive: 0,
    };
    const seen = observed({
      publicKey: C,
      endpoint: '[2001:db8::1]:51820',
      allowedIps: ['10.3.0.0/16', 'fd00:3::/64'],
    });
    assert.deepEqual(diffPeers([v6], [seen]), []);
  });

  void it('endpoint change only: one update carrying only the endpoint', () => {
    const ops = diffPeers([{ ...a, endpoint: '192.0.2.9:51820' }, b], [observed(a), observed(b)]);
    assert.deepEqual(ops, [{ op: 'update', publicKey: A, changes: { endpoint: '192.0.2.9:51820' } }]);
  });

  void it('a desired peer without an endpoint keeps the one the device learned', () => {
    assert.deepEqual(diffPeers([b], [observed(b, { endpoint: '198.51.100.7:4000' })]), []);
  });

  void it('allowed-ips change only: the complete new list, for that peer only', () => {
    const ops = diffPeers(
      [{ ...a, allowedIps: ['10.1.0.0/16', '10.9.0.0/24'] }, b],
      [observed(a), observed(b)],
    );
    assert.deepEqual(ops, [
      { op: 'update', publicKey: A, changes: { allowedIps: ['10.1.0.0/16', '10.9.0.0/24'] } },
    ]);
  });

  void it('PSK added, removed and rotated', () => {
    const added = diffPeers([{ ...a, presharedKey: PSK }], [observed(a)]);
    assert.deepEqual(added, [{ op: 'update', publicKey: A, changes: { presharedKey: PSK } }]);
    const { presharedKey: _psk, ...bWithout } = b;
    const removed = diffPeers([bWithout], [observed(b)]);
    assert.deepEqual(removed, [{ op: 'update', publicKey: B, changes: { presharedKey: null } }]);
    const other = generatePresharedKey();
    const rotated = diffPeers([{ ...b, presharedKey: other }], [observed(b)]);
    assert.deepEqual(rotated, [{ op: 'update', publicKey: B, changes: { presharedKey: other } }]);
    // Without the observed key (WgPeerState only says whether there is one) a rotation is invisible.
    assert.deepEqual(
      diffPeers([{ ...b, presharedKey: other }], [observed(b, { presharedKey: undefined })]),
      [],
    );
  });

  void it('keepalive change, and keepalive removed', () => {
    assert.deepEqual(diffPeers([{ ...a, persistentKeepalive: 10 }], [observed(a)]), [
      { op: 'update', publicKey: A, changes: { persistentKeepalive: 10 } },
    ]);
    const { persistentKeepalive: _k, ...aWithout } = a;
    assert.deepEqual(diffPeers([aWithout], [observed(a)]), [
      { op: 'update', publicKey: A, changes: { persistentKeepalive: 0 } },
    ]);
  });

  void it('removes first, then updates, then adds; summarized by key', () => {
    const c: WgPeerConfig = { publicKey: C, allowedIps: ['10.1.0.0/16'] };
    const ops = diffPeers([{ ...b, persistentKeepalive: 5 }, c], [observed(a), observed(b)]);
    assert.deepEqual(
      ops.map((o) => o.op),
      ['remove', 'update', 'add'],
    );
    assert.deepEqual(summarizeOperations(ops), { added: [C], updated: [B], removed: [A] });
    assert.deepEqual(diffPeers([], [observed(a)]), [{ op: 'remove', publicKey: A }]);
  });

  void it('refuses invalid desired peers, naming the field', () => {
    const cases: Array<[WgPeerConfig[], RegExp]> = [
      [[{ ...a, publicKey: 'nope' }], /peers\[0\]\.publicKey/],
      [[a, { ...a }], /appears twice/],
      [[{ ...a, allowedIps: ['10.1.0.1/16'] }], /peers\[0\]\.allowedIps\[0\].*host bits/],
      [[{ ...a, endpoint: 'vpn.example.com:51820' }], /peers\[0\]: endpoint/],
      [[{ ...a, endpoint: '[192.0.2.1]:1' }], /brackets/],
      [[{ ...a, persistentKeepalive: 70000 }], /persistentKeepalive/],
      [[{ ...a, presharedKey: 'short' }], /presharedKey/],
    ];
    for (const [peers, message] of cases) {
      assert.throws(
        () => diffPeers(peers, []),
        (err: Error) => err instanceof InvalidArgumentError && message.test(err.message),
      );
    }
  });
});
