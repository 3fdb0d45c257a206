// The MTU probe classifier, fed with the DF pings of the lab (fixtures/*.probe.txt).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixtureLines } from './diagnosis.fixtures.js';
import { classifyMtuProbe, parsePingSummary, planMtuProbe, type MtuProbeResult } from './mtu-probe.js';

/** The results one side saw: `== B->A DF size 1372` followed by ping's summary line. */
function probeResults(file: string, direction: 'B->A' | 'A->B'): MtuProbeResult[] {
  const out: MtuProbeResult[] = [];
  let size: number | undefined;
  for (const line of fixtureLines(file)) {
    const head = /^== (\S+) DF size (\d+)$/.exec(line);
    if (head) {
      size = head[1] === direction ? Number(head[2]) : undefined;
      continue;
    }
    const r = size === undefined ? undefined : parsePingSummary(size, line);
    if (r) out.push(r);
  }
  return out;
}

describe('planMtuProbe', () => {
  it('a small size, steps below the top, and the largest payload that fits tun-mtu', () => {
    assert.deepEqual(planMtuProbe(1500), [56, 1172, 1272, 1372, 1472]);
    assert.deepEqual(planMtuProbe(1400), [56, 1072, 1172, 1272, 1372]);
  });
});

describe('parsePingSummary', () => {
  it('reads iputils ping summaries with and without local errors', () => {
    assert.deepEqual(
      parsePingSummary(1473, '2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 202ms'),
      {
        size: 1473,
        transmitted: 2,
        received: 0,
        errors: 2,
      },
    );
    assert.deepEqual(
      parsePingSummary(1300, '2 packets transmitted, 2 received, 0% packet loss, time 203ms'),
      {
        size: 1300,
        transmitted: 2,
        received: 2,
        errors: 0,
      },
    );
    assert.equal(parsePingSummary(1, 'PING 10.8.0.1 (10.8.0.1) 56(84) bytes of data.'), undefined);
  });
});

describe('classifyMtuProbe on the lab probes', () => {
  it('the underlay drops fragments: 1400 passes, 1472 vanishes → mtu-mismatch with the size that fits', () => {
    const results = probeResults('mtu-underlay-fragments-dropped.v3.probe.txt', 'A->B');
    const verdict = classifyMtuProbe({ tunMtu: 1500, results });
    assert.equal(verdict.status, 'mtu-mismatch');
    if (verdict.status !== 'mtu-mismatch') return;
    assert.equal(verdict.largestPassing, 1400);
    assert.equal(verdict.smallestFailing, 1472);
    assert.deepEqual(verdict.diagnosis, {
      code: 'mtu-mismatch',
      message:
        "Packets up to 1428 bytes cross the tunnel, 1500 bytes and more vanish without an error, although tun-mtu is 1500: the path between the sites cannot carry the encapsulated size (a smaller underlay MTU, or fragments dropped on the way), or the peer's tun-mtu is smaller.",
      fix: 'Lower tun-mtu to at most 1428 on both ends (or set mssfix for TCP), or let the underlay carry fragments / raise its MTU.',
      line: 'probe: DF ping payload 1400 passed, 1472 got no answer; tun-mtu 1500',
    });
  });

  it('equal tun-mtu on a clean underlay: ok (the same probe, other run)', () => {
    const results = probeResults('mtu-server.v3.probe.txt', 'B->A');
    assert.deepEqual(classifyMtuProbe({ tunMtu: 1500, results }), { status: 'ok', largestPassing: 1472 });
  });

  it("tun-mtu 1500 against 1400: the probe alone passes on both sides; with the peer's tun-mtu it is named", () => {
    const big = probeResults('mtu-p2p.v3.probe.txt', 'A->B');
    const small = probeResults('mtu-p2p.v3.probe.txt', 'B->A');
    assert.deepEqual(classifyMtuProbe({ tunMtu: 1500, results: big }), {
      status: 'ok',
      largestPassing: 1472,
    });
    assert.deepEqual(classifyMtuProbe({ tunMtu: 1400, results: small }), {
      status: 'ok',
      largestPassing: 1372,
    });
    const verdict = classifyMtuProbe({ tunMtu: 1500, peerTunMtu: 1400, results: big });
    assert.equal(verdict.status, 'mtu-mismatch');
    assert.equal(
      verdict.status === 'mtu-mismatch' ? verdict.diagnosis.fix : '',
      'Set the same tun-mtu (and mssfix) on both ends.',
    );
  });

  it('a local error below the configured size: the tun device is smaller than tun-mtu', () => {
    const verdict = classifyMtuProbe({
      tunMtu: 1500,
      results: probeResults('mtu-p2p.v3.probe.txt', 'B->A'),
    });
    // B's device is 1400 while we claim 1500: 1373 and up fail locally.
    assert.equal(verdict.status, 'mtu-mismatch');
    if (verdict.status !== 'mtu-mismatch') return;
    assert.equal(verdict.largestPassing, 1372);
    assert.match(
      verdict.diagnosis.message,
      /^This end's tun device does not take packets of 1401 bytes although tun-mtu is 1500/,
    );
  });

  it('nothing passes: no traffic, not an MTU question; interleaved loss: inconclusive', () => {
    const r = (size: number, received: number): MtuProbeResult => ({
      size,
      transmitted: 2,
      received,
      errors: 0,
    });
    assert.deepEqual(classifyMtuProbe({ tunMtu: 1500, results: [r(56, 0), r(1472, 0)] }), {
      status: 'no-traffic',
    });
    assert.deepEqual(classifyMtuProbe({ tunMtu: 1500, results: [] }), { status: 'no-traffic' });
    assert.deepEqual(classifyMtuProbe({ tunMtu: 1500, results: [r(56, 2), r(1272, 0), r(1472, 1)] }), {
      status: 'inconclusive',
    });
  });
});
