// The lines below are charon 5.9.8's own, captured from two charons (kernel-libipsec) in two network
// namespaces with one thing broken each time: the pre-shared key, the IKE proposals, the ESP proposals,
// the traffic selectors, UDP 500/4500 dropped before and after the SA was up.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  factsOf,
  IpsecDiagnoser,
  keepsMoreFacts,
  type CharonLogLine,
  type IpsecFinding,
} from './ipsec.diagnosis.js';

function feed(lines: readonly (string | CharonLogLine)[], ikeId = '3'): IpsecFinding[] {
  const d = new IpsecDiagnoser();
  const out: IpsecFinding[] = [];
  for (const l of lines) {
    const f = d.observe(typeof l === 'string' ? { msg: l, ikeId } : l);
    if (f) out.push(f);
  }
  return out;
}

describe('IpsecDiagnoser', () => {
  it('responder, IKE proposals: no proposal chosen, with both lists and the peer address', () => {
    const [f, ...rest] = feed([
      'looking for IKEv2 configs for 192.0.2.2...192.0.2.1',
      '192.0.2.1 is initiating an IKE_SA',
      'received proposals: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519',
      'configured proposals: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048',
      'remote host is behind NAT',
      'received proposals unacceptable',
    ]);
    assert.equal(rest.length, 0);
    assert.equal(f?.diagnosis.code, 'no-proposal-chosen');
    assert.equal(f?.remote, '192.0.2.1');
    assert.deepEqual(f?.diagnosis.proposals, {
      local: ['IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048'],
      remote: ['IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519'],
    });
    assert.match(
      f?.diagnosis.message ?? '',
      /share no IKE algorithms.*this side offers IKE:AES_CBC_128.*the remote side offers IKE:AES_GCM_16_256/,
    );
    assert.match(f?.diagnosis.fix ?? '', /ike_proposals/);
  });

  it('initiator, IKE proposals: names the cause even without the remote list', () => {
    const [f] = feed([
      { msg: 'initiating IKE_SA l[3] to 192.0.2.2', ikeName: 'l', ikeId: '3' },
      { msg: 'received NO_PROPOSAL_CHOSEN notify error', ikeName: 'l', ikeId: '3' },
    ]);
    assert.equal(f?.diagnosis.code, 'no-proposal-chosen');
    assert.equal(f?.connection, 'l');
    assert.equal(f?.remote, '192.0.2.2');
    assert.match(f?.diagnosis.message ?? '', /rejected all of ours/);
  });

  it('ESP proposals on both sides: the child variant, with esp_proposals in the fix', () => {
    const responder = feed([
      'found matching child config "l" with prio 10',
      'selecting proposal:',
      '  no acceptable ENCRYPTION_ALGORITHM found',
      'received proposals: ESP:AES_GCM_16_256/NO_EXT_SEQ',
      'configured proposals: ESP:AES_CBC_128/HMAC_SHA2_256_128/NO_EXT_SEQ',
      'no acceptable proposal found',
      'failed to establish CHILD_SA, keeping IKE_SA',
    ]);
    assert.equal(responder.length, 1);
    assert.match(responder[0]?.diagnosis.message ?? '', /share no ESP \(CHILD_SA\) algorithms/);
    assert.match(responder[0]?.diagnosis.fix ?? '', /esp_proposals/);
    const initiator = feed([
      'received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built',
      'failed to establish CHILD_SA, keeping IKE_SA',
    ]);
    assert.equal(initiator[0]?.diagnosis.code, 'no-proposal-chosen');
    assert.match(initiator[0]?.diagnosis.fix ?? '', /esp_proposals/);
  });

  it('pre-shared keys that differ: authentication failed on both sides', () => {
    const initiator = feed([
      "authentication of '192.0.2.1' (myself) with pre-shared key",
      'establishing CHILD_SA l{2}',
      'received AUTHENTICATION_FAILED notify error',
    ]);
    assert.equal(initiator[0]?.diagnosis.code, 'authentication-failed');
    const responder = feed([
      'looking for peer configs matching 192.0.2.2[192.0.2.2]...192.0.2.1[192.0.2.1]',
      "tried 1 shared key for '192.0.2.2' - '192.0.2.1', but MAC mismatched",
    ]);
    assert.equal(responder[0]?.diagnosis.code, 'authentication-failed');
    assert.match(responder[0]?.diagnosis.message ?? '', /pre-shared keys of the two sides differ/);
    assert.match(responder[0]?.diagnosis.fix ?? '', /preshared_key/);
  });

  it('subnets that do not mirror each other: traffic selectors unacceptable', () => {
    const responder = feed([
      'looking for a child config for 10.2.0.0/24 === 10.1.0.0/24',
      'traffic selectors 10.2.0.0/24 === 10.1.0.0/24 unacceptable',
      'failed to establish CHILD_SA, keeping IKE_SA',
    ]);
    assert.equal(responder[0]?.diagnosis.code, 'ts-unacceptable');
    assert.match(responder[0]?.diagnosis.message ?? '', /10\.2\.0\.0\/24 === 10\.1\.0\.0\/24/);
    const initiator = feed(['received TS_UNACCEPTABLE notify, no CHILD_SA built']);
    assert.equal(initiator[0]?.diagnosis.code, 'ts-unacceptable');
    assert.match(initiator[0]?.diagnosis.fix ?? '', /local_subnets.*remote_subnets/);
  });

  it('UDP 500/4500 dropped before the SA: peer unreachable, with the retransmit count', () => {
    const found = feed([
      'initiating IKE_SA l[6] to 192.0.2.2',
      'retransmit 1 of request with message ID 0',
      'retransmit 2 of request with message ID 0',
      'giving up after 2 retransmits',
      'establishing IKE_SA failed, peer not responding',
    ]);
    assert.ok(found.length >= 1);
    assert.ok(found.every((f) => f.diagnosis.code === 'peer-unreachable'));
    assert.match(found[0]?.diagnosis.message ?? '', /no answer from 192\.0\.2\.2 after 2 retransmits/);
    assert.match(found[0]?.diagnosis.fix ?? '', /UDP ports 500 and 4500/);
  });

  it('UDP dropped after the SA was up: the peer does not answer dead-peer detection', () => {
    const [f] = feed([
      'IKE_SA l[7] established between 192.0.2.1[192.0.2.1]...192.0.2.2[192.0.2.2]',
      'sending DPD request',
      'retransmit 1 of request with message ID 2',
      'retransmit 2 of request with message ID 2',
      'giving up after 2 retransmits',
      'restarting CHILD_SA l',
    ]);
    assert.equal(f?.diagnosis.code, 'dpd-dead');
  });

  it('keeps the context of each IKE SA apart, and ignores ordinary lines', () => {
    const d = new IpsecDiagnoser();
    assert.equal(d.observe({ msg: 'received proposals: IKE:A', ikeId: '1' }), undefined);
    assert.equal(d.observe({ msg: 'received proposals: IKE:B', ikeId: '2' }), undefined);
    assert.equal(d.observe({ msg: 'scheduling rekeying in 13295s', ikeId: '1' }), undefined);
    const f = d.observe({ msg: 'received proposals unacceptable', ikeId: '1' });
    assert.deepEqual(f?.diagnosis.proposals, { remote: ['IKE:A'] });
    d.forget('1');
    const g = d.observe({ msg: 'received proposals unacceptable', ikeId: '1' });
    assert.equal(g?.diagnosis.proposals?.remote, undefined);
  });

  it('both sides initiating: the responder’s finding tells both lists, the initiator’s none — keep the first', () => {
    // One charon's lines in the order a failing mutual initiation logs them: the peer's IKE_SA (we
    // respond) and our own, rejected by the peer.
    const [responder, initiator, ...rest] = feed([
      { msg: 'looking for IKEv2 configs for 192.0.2.2...192.0.2.1', ikeId: '7' },
      {
        msg: 'received proposals: IKE:AES_CBC_128/HMAC_SHA2_256_128/PRF_HMAC_SHA2_256/MODP_2048',
        ikeId: '7',
      },
      { msg: 'configured proposals: IKE:AES_GCM_16_256/PRF_HMAC_SHA2_256/CURVE_25519', ikeId: '7' },
      { msg: 'received proposals unacceptable', ikeId: '7' },
      { msg: 'initiating IKE_SA l[8] to 192.0.2.1', ikeName: 'l', ikeId: '8' },
      { msg: 'received NO_PROPOSAL_CHOSEN notify error', ikeName: 'l', ikeId: '8' },
    ]);
    assert.equal(rest.length, 0);
    assert.ok(responder && initiator);
    assert.equal(factsOf(responder.diagnosis), 2);
    assert.equal(factsOf(initiator.diagnosis), 0);
    assert.equal(keepsMoreFacts(responder.diagnosis, initiator.diagnosis), true);
    assert.equal(keepsMoreFacts(initiator.diagnosis, responder.diagnosis), false, 'more facts replace fewer');
    assert.equal(keepsMoreFacts(responder.diagnosis, responder.diagnosis), false, 'as many: the newer wins');
    const auth = feed(['received AUTHENTICATION_FAILED notify error'])[0];
    assert.ok(auth);
    assert.equal(keepsMoreFacts(responder.diagnosis, auth.diagnosis), false, 'another cause replaces it');
    const esp = feed(['received NO_PROPOSAL_CHOSEN notify, no CHILD_SA built'])[0];
    assert.ok(esp);
    assert.equal(esp.diagnosis.code, 'no-proposal-chosen');
    assert.equal(keepsMoreFacts(responder.diagnosis, esp.diagnosis), false, 'ESP is not IKE: replaced');
  });
});
