import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DEFAULT_ESP_PROPOSALS,
  DEFAULT_IKE_PROPOSALS,
  loadConnMessage,
  loadSharedMessage,
  renderSwanctl,
  type IpsecConnSpec,
} from './ipsec.conn.js';

const spec: IpsecConnSpec = {
  name: 'to-b',
  version: 'ikev2',
  aggressive: false,
  localAddrs: ['203.0.113.10'],
  remoteAddrs: ['203.0.113.11'],
  auth: 'psk',
  ikeProposals: DEFAULT_IKE_PROPOSALS,
  espProposals: DEFAULT_ESP_PROPOSALS,
  localTs: ['10.1.0.0/24'],
  remoteTs: ['10.2.0.0/24'],
  dpdDelay: 30,
  dpdAction: 'restart',
  startAction: 'initiate',
  ikeRekeySeconds: 14400,
  childRekeySeconds: 3600,
  forceEncap: false,
};

// Shaped like a PEM certificate: these functions only carry it (charon and verify parse it).
const CA_PEM = '-----BEGIN CERTIFICATE-----\nQ0EtY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n';
const OUR_PEM = '-----BEGIN CERTIFICATE-----\nb3VyLWNlcnRpZmljYXRl\n-----END CERTIFICATE-----\n';

describe('IPsec connection messages', () => {
  it('load-conn: IKE settings, both auth rounds and one child, as charon expects them', () => {
    assert.deepEqual(loadConnMessage(spec), {
      'to-b': {
        version: 2,
        aggressive: false,
        local_addrs: ['203.0.113.10'],
        remote_addrs: ['203.0.113.11'],
        remote_port: undefined,
        proposals: ['aes256gcm16-prfsha256-x25519', 'aes256gcm16-prfsha384-ecp384', 'aes256-sha256-modp3072'],
        encap: false,
        mobike: false,
        dpd_delay: '30s',
        rekey_time: '14400s',
        unique: 'replace',
        local: { auth: 'psk', id: undefined, certs: undefined, cacerts: undefined },
        remote: { auth: 'psk', id: undefined, certs: undefined, cacerts: undefined },
        children: {
          'to-b': {
            mode: 'tunnel',
            local_ts: ['10.1.0.0/24'],
            remote_ts: ['10.2.0.0/24'],
            esp_proposals: ['aes256gcm16-x25519', 'aes256gcm16-ecp384', 'aes256-sha256-modp3072'],
            rekey_time: '3600s',
            dpd_action: 'restart',
            start_action: 'start',
            close_action: 'start',
          },
        },
      },
    });
  });

  it('a waiting responder neither starts nor restarts the child; IKEv1 aggressive is carried as asked', () => {
    const msg = loadConnMessage({
      ...spec,
      startAction: 'wait',
      remoteAddrs: ['%any'],
      version: 'ikev1',
      aggressive: true,
    });
    const conn = msg['to-b'] as Record<string, unknown>;
    assert.equal(conn.version, 1);
    assert.equal(conn.aggressive, true);
    const child = (conn.children as Record<string, Record<string, unknown>>)['to-b'];
    assert.equal(child?.start_action, 'none');
    assert.equal(child?.close_action, 'none');
  });

  it('load-shared: the key is tied to both identities, never %any', () => {
    assert.deepEqual(loadSharedMessage(spec, 'a-long-enough-secret-123'), {
      id: 'weft-to-b',
      type: 'IKE',
      data: 'a-long-enough-secret-123',
      owners: ['203.0.113.10', '203.0.113.11'],
    });
    assert.deepEqual(
      loadSharedMessage({ ...spec, remoteAddrs: ['%any'], remoteId: 'site-b.example' }, 'x'.repeat(20))
        .owners,
      ['203.0.113.10', 'site-b.example'],
    );
  });

  it('refuses values that would break a swanctl.conf or mean nothing to charon', () => {
    assert.throws(
      () => loadConnMessage({ ...spec, remoteTs: ['10.2.0.0/24 }'] }),
      /remote_ts has an unusable value/,
    );
    assert.throws(() => loadConnMessage({ ...spec, localId: 'a"b' }), /local id must be printable/);
    assert.throws(
      () => loadConnMessage({ ...spec, aggressive: true }),
      /aggressive mode exists only in IKEv1/,
    );
    assert.throws(
      () => loadConnMessage({ ...spec, auth: 'pubkey' }),
      /needs this side's certificate and the remote CA/,
    );
    assert.throws(
      () => loadConnMessage({ ...spec, auth: 'pubkey', localCert: 'ours.pem', remoteCa: CA_PEM }),
      /certificate must be one PEM certificate/,
    );
    assert.throws(() => loadConnMessage({ ...spec, espProposals: [] }), /esp_proposals is empty/);
  });

  it('swanctl.conf: the same connection as text, with the secret for the same identities', () => {
    const text = renderSwanctl(spec, 'a-long-enough-secret-123', ['made by Weft']);
    assert.equal(
      text,
      [
        '# made by Weft',
        'connections {',
        '  to-b {',
        '    version = 2',
        '    aggressive = no',
        '    local_addrs = 203.0.113.10',
        '    remote_addrs = 203.0.113.11',
        '    proposals = aes256gcm16-prfsha256-x25519, aes256gcm16-prfsha384-ecp384, aes256-sha256-modp3072',
        '    encap = no',
        '    mobike = no',
        '    dpd_delay = 30s',
        '    rekey_time = 14400s',
        '    unique = replace',
        '    local {',
        '      auth = psk',
        '    }',
        '    remote {',
        '      auth = psk',
        '    }',
        '    children {',
        '      to-b {',
        '        mode = tunnel',
        '        local_ts = 10.1.0.0/24',
        '        remote_ts = 10.2.0.0/24',
        '        esp_proposals = aes256gcm16-x25519, aes256gcm16-ecp384, aes256-sha256-modp3072',
        '        rekey_time = 3600s',
        '        dpd_action = restart',
        '        start_action = start',
        '        close_action = start',
        '      }',
        '    }',
        '  }',
        '}',
        '',
        'secrets {',
        '  ike-to-b {',
        '    id-1 = 203.0.113.10',
        '    id-2 = 203.0.113.11',
        '    secret = "a-long-enough-secret-123"',
        '  }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('pubkey: our certificate data in local certs, the remote CA data as the remote cacerts constraint', () => {
    const conn = loadConnMessage({
      ...spec,
      auth: 'pubkey',
      localId: '203.0.113.10',
      remoteId: '203.0.113.11',
      localCert: OUR_PEM,
      remoteCa: CA_PEM,
    })['to-b'] as Record<string, unknown>;
    assert.deepEqual(conn.local, {
      auth: 'pubkey',
      id: '203.0.113.10',
      certs: [OUR_PEM.trim()],
      cacerts: undefined,
    });
    assert.deepEqual(conn.remote, {
      auth: 'pubkey',
      id: '203.0.113.11',
      certs: undefined,
      cacerts: [CA_PEM.trim()],
    });
  });

  it('pubkey swanctl.conf: certificate file names, never PEM inline, no secrets section', () => {
    const text = renderSwanctl({ ...spec, auth: 'pubkey', remoteCa: CA_PEM }, undefined, [], {
      localCert: 'device.pem',
      remoteCa: 'weft-ca.pem',
    });
    assert.match(text, /local \{\n {6}auth = pubkey\n {6}certs = device\.pem\n {4}\}/);
    assert.match(text, /remote \{\n {6}auth = pubkey\n {6}cacerts = weft-ca\.pem\n {4}\}/);
    assert.doesNotMatch(text, /BEGIN CERTIFICATE|secrets/);
    assert.throws(
      () => renderSwanctl({ ...spec, auth: 'pubkey' }, undefined, [], { localCert: '../x' }),
      /file name/,
    );
  });

  it('an imported certificate: the CA our chain ends at as the local cacerts, so charon sends the chain', () => {
    const conn = loadConnMessage({
      ...spec,
      auth: 'pubkey',
      localId: 'C=CH, O=Corp, CN=gw-a',
      localCert: OUR_PEM,
      localCa: CA_PEM,
      remoteCa: CA_PEM,
    })['to-b'] as Record<string, unknown>;
    assert.deepEqual(conn.local, {
      auth: 'pubkey',
      id: 'C=CH, O=Corp, CN=gw-a',
      certs: [OUR_PEM.trim()],
      cacerts: [CA_PEM.trim()],
    });
    assert.throws(
      () => loadConnMessage({ ...spec, auth: 'pubkey', localCert: OUR_PEM, remoteCa: CA_PEM, localCa: 'x' }),
      /local CA must be one PEM certificate/,
    );
  });

  it('swanctl.conf quotes a distinguished name, as swanctl.conf(5) writes them', () => {
    const text = renderSwanctl(
      { ...spec, auth: 'pubkey', remoteId: 'C=CH, O=Corp, CN=gw-a', remoteCa: CA_PEM },
      undefined,
      [],
      { remoteCa: 'corp-ca.pem' },
    );
    assert.match(text, /remote \{\n {6}auth = pubkey\n {6}id = "C=CH, O=Corp, CN=gw-a"\n/);
    assert.match(text, /remote_addrs = 203\.0\.113\.11\n/);
  });
});
