import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceNotFoundError } from '../errors.js';
import { generateKeyPair, generatePresharedKey, publicKeyOf } from '../keys.js';
import { FakeConfigurer } from './fake-configurer.js';

void describe('FakeConfigurer', () => {
  void it('keeps devices and peers with the real diff semantics', async () => {
    const fake = new FakeConfigurer();
    const me = generateKeyPair();
    const a = generateKeyPair().publicKey;
    const b = generateKeyPair().publicKey;
    await assert.rejects(fake.syncPeers('wg0', []), DeviceNotFoundError);
    await fake.ensureDevice('wg0', { privateKey: me.privateKey, listenPort: 51820 }, 1420);
    await fake.ensureDevice('wg0', { privateKey: me.privateKey }, 1420);
    assert.deepEqual(
      fake.calls.map((c) => c.op === 'ensureDevice' && c.created),
      [true, false],
    );
    const psk = generatePresharedKey();
    assert.deepEqual(
      await fake.syncPeers('wg0', [
        { publicKey: a, allowedIps: ['10.1.0.0/16'], presharedKey: psk },
        { publicKey: b, allowedIps: ['10.2.0.0/16'] },
      ]),
      { added: [a, b], updated: [], removed: [] },
    );
    const when = new Date();
    fake.observePeer('wg0', a, { lastHandshake: when, endpoint: '198.51.100.1:4000', rxBytes: 10n });
    assert.deepEqual(
      await fake.syncPeers('wg0', [{ publicKey: a, allowedIps: ['10.1.0.0/16'], presharedKey: psk }]),
      {
        added: [],
        updated: [],
        removed: [b],
      },
    );
    const read = await fake.readDevice('wg0');
    assert.equal(read?.publicKey, publicKeyOf(me.privateKey));
    assert.equal(read?.listenPort, 51820);
    assert.deepEqual(read?.peers[0]?.lastHandshake, when, 'an untouched peer keeps its state');
    assert.equal(read?.peers[0]?.hasPresharedKey, true);
    assert.equal('presharedKey' in (read?.peers[0] ?? {}), false, 'the PSK is never returned');
    assert.deepEqual(await fake.listDevices(), ['wg0']);
    fake.failNext('removeDevice', new Error('boom'));
    await assert.rejects(fake.removeDevice('wg0'), /boom/);
    await fake.removeDevice('wg0');
    assert.equal(await fake.readDevice('wg0'), undefined);
  });
});
