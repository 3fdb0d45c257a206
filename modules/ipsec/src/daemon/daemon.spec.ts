import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectDataplane, type DataplaneProbe } from './dataplane.detect.js';
import { pluginsFor, renderStrongswanConf } from './strongswan-conf.js';

const probe = (esp: boolean, tun = true): DataplaneProbe => ({
  kernelEsp: () =>
    Promise.resolve(
      esp
        ? { ok: true, why: 'the kernel holds ESP states with AES-GCM' }
        : { ok: false, why: 'the kernel refuses an ESP state with AES-GCM (x)' },
    ),
  tun: () => Promise.resolve(tun),
});

describe('strongswan.conf', () => {
  it('lists its plugins, kernel-libipsec before kernel-netlink, and routes nothing itself', () => {
    const text = renderStrongswanConf({
      viciSocket: '/var/lib/weft/ipsec/charon.vici',
      dataplane: 'libipsec',
      logFile: '/var/lib/weft/ipsec/charon.log',
    });
    assert.match(
      text,
      /load = random nonce openssl kdf pem pkcs1 pkcs8 x509 revocation constraints pubkey curve25519 kernel-libipsec kernel-netlink socket-default vici\n/,
    );
    assert.match(text, /install_routes = no\n/);
    assert.match(text, /vici \{ socket = unix:\/\/\/var\/lib\/weft\/ipsec\/charon\.vici \}/);
    assert.match(text, /path = \/var\/lib\/weft\/ipsec\/charon\.log\n[\s\S]*flush_line = yes/);
    assert.match(text, /retransmit_tries = 3\n {2}retransmit_timeout = 2\n {2}retransmit_base = 1\.4/);
    assert.ok(!pluginsFor('kernel').includes('kernel-libipsec'));
  });

  it('refuses paths and numbers that would break the file', () => {
    assert.throws(
      () => renderStrongswanConf({ viciSocket: 'rel/path', dataplane: 'kernel', logFile: '/x.log' }),
      /absolute path/,
    );
    assert.throws(
      () => renderStrongswanConf({ viciSocket: '/a b', dataplane: 'kernel', logFile: '/x.log' }),
      /without spaces/,
    );
    assert.throws(
      () => renderStrongswanConf({ viciSocket: '/a', dataplane: 'kernel', logFile: '/x } y' }),
      /without spaces/,
    );
    assert.throws(
      () =>
        renderStrongswanConf({ viciSocket: '/a', dataplane: 'kernel', logFile: '/x', retransmitTries: 0 }),
      /retransmitTries/,
    );
  });
});

describe('IPsec data plane detection', () => {
  it('auto: kernel ESP when the kernel holds ESP states, else kernel-libipsec with the reason', async () => {
    assert.deepEqual(await detectDataplane(probe(true)), {
      kind: 'kernel',
      reason: 'the kernel holds ESP states with AES-GCM',
    });
    const lib = await detectDataplane(probe(false));
    assert.equal(lib.kind, 'libipsec');
    assert.match(lib.reason, /refuses an ESP state.*kernel-libipsec/);
  });

  it('forced: honoured when possible, refused with what is missing', async () => {
    assert.equal((await detectDataplane(probe(true), 'libipsec')).kind, 'libipsec');
    await assert.rejects(
      detectDataplane(probe(false), 'kernel'),
      /kernel IPsec data plane was asked for, but the kernel refuses/,
    );
    await assert.rejects(detectDataplane(probe(false, false)), /\/dev\/net\/tun is missing/);
  });
});
