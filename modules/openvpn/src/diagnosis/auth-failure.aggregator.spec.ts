// The flood aggregator with a fake clock, and against the lines of a real junk flood (fixtures/flood-*).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailureAggregator, type Clock } from './auth-failure.aggregator.js';
import { fixtureLines } from './diagnosis.fixtures.js';

class FakeClock implements Clock {
  constructor(public t = 1_000_000) {}
  now(): number {
    return this.t;
  }
}

/** The two lines openvpn 2.6.14 prints per packet that fails tls-crypt (detail first). */
function tlsCryptFailure(ip: string, port: number): string[] {
  return [
    'tls-crypt unwrap error: packet authentication failed',
    `TLS Error: tls-crypt unwrapping failed from [AF_INET]${ip}:${port}`,
  ];
}

describe('AuthFailureAggregator', () => {
  it('1,000 packets/s from one source for 20 s: one event per minute with the count', () => {
    const clock = new FakeClock();
    const agg = new AuthFailureAggregator(clock);
    const events = [];
    for (let ms = 0; ms < 20_000; ms++) {
      clock.t = 1_000_000 + ms;
      // One packet per millisecond, from a varying source port.
      for (const line of tlsCryptFailure('198.51.100.2', 40000 + (ms % 50)))
        assert.equal(agg.observe(line), true);
      if (ms % 5_000 === 0) events.push(...agg.flush()); // the driver's 5 s timer
    }
    // Nothing while the minute is open, even after the flood stopped.
    clock.t = 1_000_000 + 59_999;
    assert.deepEqual(agg.flush(), []);
    clock.t = 1_000_000 + 60_000;
    events.push(...agg.flush());
    assert.deepEqual(events, [
      {
        source: '198.51.100.2',
        kind: 'tls-crypt',
        count: 20_000,
        ports: 50,
        firstAt: 1_000_000,
        windowEndsAt: 1_060_000,
      },
    ]);
    assert.deepEqual(agg.flush(), []);
  });

  it('a flood lasting 3 minutes: at most one event per source per minute, no packet lost', () => {
    const clock = new FakeClock(0);
    const agg = new AuthFailureAggregator(clock);
    const events = [];
    for (let ms = 0; ms < 180_000; ms += 2) {
      clock.t = ms;
      agg.observe(`TLS Error: tls-crypt unwrapping failed from [AF_INET]198.51.100.2:1194`);
      if (ms % 5_000 === 0) events.push(...agg.flush());
    }
    clock.t = 240_000;
    events.push(...agg.flush());
    assert.deepEqual(
      events.map((e) => [e.firstAt, e.count]),
      [
        [0, 30_000],
        [60_000, 30_000],
        [120_000, 30_000],
      ],
    );
    for (let i = 1; i < events.length; i++) {
      assert.ok((events[i]?.firstAt ?? 0) - (events[i - 1]?.firstAt ?? 0) >= 60_000);
    }
  });

  it('many spoofed sources: maxSources tracked by name, the rest folded into *', () => {
    const clock = new FakeClock();
    const agg = new AuthFailureAggregator(clock, { maxSources: 100 });
    for (let i = 0; i < 10_000; i++) {
      clock.t = 1_000_000 + i;
      const ip = `203.0.${Math.floor(i / 250) % 256}.${(i % 250) + 1}`;
      for (const line of tlsCryptFailure(ip, 1024 + i)) agg.observe(line);
    }
    clock.t = 1_000_000 + 60_000 + 10_000;
    const events = agg.flush();
    assert.equal(events.length, 101);
    const star = events.find((e) => e.source === '*');
    assert.equal(star?.count, 10_000 - 100);
    assert.equal(
      events.filter((e) => e.source !== '*').every((e) => e.count === 1),
      true,
    );
    assert.equal(
      events.reduce((n, e) => n + e.count, 0),
      10_000,
    );
    // The next window tracks new sources by name again.
    agg.observe('TLS Error: tls-crypt unwrapping failed from [AF_INET]192.0.2.7:5000');
    assert.deepEqual(
      agg.drain().map((e) => e.source),
      ['192.0.2.7'],
    );
  });

  it('lines without an address are absorbed, not counted; other lines are not taken', () => {
    const agg = new AuthFailureAggregator(new FakeClock());
    for (const line of [
      'tls-crypt unwrap error: packet authentication failed',
      'tls-crypt unwrap error: packet too short',
      'Authenticate/Decrypt packet error: packet HMAC authentication failed',
      'Client wants tls-crypt-v2, but no server key present.',
    ]) {
      assert.equal(agg.observe(line), true, line);
    }
    assert.equal(agg.observe('Initialization Sequence Completed'), false);
    assert.equal(agg.observe('TLS Error: TLS key negotiation failed to occur within 10 seconds'), false);
    assert.deepEqual(agg.drain(), []);
  });

  it('the kinds: tls-auth (both lines) and tls-crypt-v2, one event per kind and source', () => {
    const agg = new AuthFailureAggregator(new FakeClock());
    agg.observe('TLS Error: incoming packet authentication failed from [AF_INET]198.51.100.2:1194');
    agg.observe('TLS Error: cannot locate HMAC in incoming packet from [AF_INET]198.51.100.2:1195');
    agg.observe('TLS Error: can not extract tls-crypt-v2 client key from [AF_INET]198.51.100.2:40878');
    agg.observe('2026-12-03 14:53:56 TLS Error: tls-crypt unwrapping failed from [AF_INET6]2001:db8::1:1194');
    assert.deepEqual(
      agg.drain().map((e) => [e.kind, e.source, e.count, e.ports]),
      [
        ['tls-auth', '198.51.100.2', 2, 2],
        ['tls-crypt-v2', '198.51.100.2', 1, 1],
        ['tls-crypt', '2001:db8::1', 1, 1],
      ],
    );
  });
});

describe('AuthFailureAggregator on a real flood (openvpn 2.6.14, 1,000 packets/s of junk)', () => {
  for (const [file, kinds] of [
    ['flood-tlscrypt-hardreset.v3.a.log', ['tls-crypt']],
    ['flood-tlscrypt-random.v3.a.log', ['tls-crypt', 'tls-crypt-v2']],
    ['flood-tlsauth-hardreset-50ports.v3.a.log', ['tls-auth']],
    ['flood-tlsauth-random.v3.a.log', ['tls-auth', 'tls-crypt-v2']],
  ] as const) {
    it(`${file}: every failure line is taken, one event per kind, the count of "from" lines`, () => {
      const lines = fixtureLines(file);
      const failures = lines.filter((l) =>
        /tls-crypt unwrap error|Authenticate\/Decrypt|TLS Error: .* from \[AF_INET\]|Client wants tls-crypt-v2/.test(
          l,
        ),
      );
      const from = failures.filter((l) => / from \[AF_INET\]/.test(l)).length;
      const agg = new AuthFailureAggregator(new FakeClock());
      for (const line of lines) assert.equal(agg.observe(line), failures.includes(line), line);
      const events = agg.drain();
      assert.deepEqual([...new Set(events.map((e) => e.kind))].sort(), [...kinds].sort());
      assert.ok(events.every((e) => e.source === '198.51.100.2'));
      assert.equal(
        events.reduce((n, e) => n + e.count, 0),
        from,
      );
    });
  }
});
