// An OpenVPN p2p link under a junk-packet flood at its port, through the APIs alone:
//
//   LAN a ── gw a (openvpn client) ══ OpenVPN UDP 1194, tls-crypt ══ gw b (openvpn server) ── LAN b
//                                                                      ▲ 1,000 junk packets/s for 20 s
//                                   the fake internet (weft-<id>-inet, 203.0.113.1) ──────┘
//
// The sender (junk-sender.ts) runs in the lab's internet namespace and crafts packets with a
// P_CONTROL_HARD_RESET_CLIENT_V2 opcode, so openvpn parses each as a control packet and logs two lines
// for it when the tls-crypt check fails. What must hold: the LAN-to-LAN ping running meanwhile loses
// ≤ 1 %; B's /events carries one `link.auth-failures` event for the source (its window is a minute, opened
// by the first packet, so it closes ≈ 60 s after the flood began), counting about what was sent; and B's
// appliance log holds a handful of lines naming the source, not one per packet.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import {
  applySiteSettings,
  caOf,
  importPeerConfig,
  Lab,
  ping,
  waitFor,
  type Json,
  type Site,
} from '../../lib/index.js';

const RATE = 1000;
const SECONDS = 20;
const PORT = 1194;
/** The flood report's window in the appliance (the aggregator's default) and how often it is collected. */
const WINDOW_MS = 60_000;
const FLUSH_MS = 5_000;
const SENDER = fileURLToPath(new URL('./junk-sender.js', import.meta.url));

interface SseEvent {
  type: string;
  data: Json;
}

/** `ping -q` summary → { transmitted, received }. */
function pingSummary(output: string): { transmitted: number; received: number } {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(output);
  if (!m) throw new Error(`no ping summary in: ${output}`);
  return { transmitted: Number(m[1]), received: Number(m[2]) };
}

/**
 * Reads `site`'s /events (replayed from the start, then live) until `done` holds for the events of the
 * types in `types`, or the timeout ends the stream; returns those events.
 */
async function eventsUntil(
  site: Site,
  types: readonly string[],
  done: (events: SseEvent[]) => boolean,
  timeoutMs: number,
): Promise<SseEvent[]> {
  const res = await fetch(`${site.api.baseUrl}/events`, {
    headers: { authorization: `Bearer ${await site.adminToken()}`, 'last-event-id': '0' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const reader = res.body?.getReader();
  assert.ok(reader, 'an event stream');
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buffer = '';
  try {
    while (!done(events)) {
      const { value, done: ended } = (await reader.read()) as { value?: Uint8Array; done: boolean };
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (type && data && types.includes(type)) {
          events.push({ type, data: (JSON.parse(data) as { data?: Json }).data ?? {} });
        }
      }
    }
  } catch (err) {
    // The timeout aborts the read: what was read so far is the answer, the caller's assertions judge it.
    if (!(err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))) throw err;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return events;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('OpenVPN p2p link under a junk-packet flood', { timeout: 150_000 }, () => {
  let lab: Lab;
  let a: Site;
  let b: Site;
  let onB: string;

  before(async () => {
    lab = await Lab.create({ sites: ['a', 'b'], name: 'openvpn-flood' });
    [a, b] = [lab.site('a'), lab.site('b')];
    await applySiteSettings(a);
    await applySiteSettings(b);
    const made = await a.api.post('/links', {
      name: 'to-b',
      type: 'openvpn',
      remote_endpoint: `${b.wanAddress}:${PORT}`,
      remote_subnets: [b.lanPrefix],
      openvpn: { remote_ca: await caOf(b) },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    onB = await importPeerConfig(a, b, 'to-b');
    await waitFor(() => ping(a, b.lanHost), { what: 'LAN a pings LAN b through OpenVPN', timeoutMs: 30_000 });
  });
  after(async () => {
    await lab?.destroy();
  });

  it('1,000 junk packets/s for 20 s: ping loses ≤ 1 %, one aggregated event per source, a quiet log', async () => {
    const source = lab.internetServer;
    const sourcePattern = new RegExp(`${escapeRegExp(source)}(?![0-9])`);
    const logBefore = (await b.readLog()).split('\n').length;
    const floodStarted = Date.now();
    const [sender, pings] = await Promise.all([
      lab.inetExec([process.execPath, SENDER, b.wanAddress, String(PORT), String(RATE), String(SECONDS)], {
        timeoutMs: (SECONDS + 20) * 1000,
      }),
      a.lanExec(['ping', '-n', '-q', '-c', String(SECONDS * 5), '-i', '0.2', '-W', '1', b.lanHost], {
        timeoutMs: (SECONDS + 20) * 1000,
        check: false,
      }),
    ]);
    const sent = JSON.parse(sender.stdout) as { sent: number; errors: number; seconds: number };
    assert.equal(sent.sent, RATE * SECONDS, `the sender sent every packet: ${sender.stdout}`);

    const { transmitted, received } = pingSummary(pings.stdout);
    const loss = (transmitted - received) / transmitted;
    console.log(
      `flood: ${sent.sent} packets in ${sent.seconds} s; ping ${received}/${transmitted} (loss ${(loss * 100).toFixed(1)} %)`,
    );
    assert.equal(transmitted, SECONDS * 5);
    assert.ok(loss <= 0.01, `ping lost ${transmitted - received} of ${transmitted} during the flood`);

    // The window opened with the first packet closes a minute later; the driver collects it within 5 s.
    const waitMs = WINDOW_MS + FLUSH_MS + 10_000 - (Date.now() - floodStarted);
    const events = await eventsUntil(
      b,
      ['link.auth-failures'],
      (es) => es.some((e) => e.data.source === source),
      waitMs,
    );
    const reports = events.filter((e) => e.data.source === source);
    console.log(
      `events after ${((Date.now() - floodStarted) / 1000).toFixed(0)} s: ${JSON.stringify(events.map((e) => e.data))}`,
    );
    assert.equal(reports.length, 1, `one link.auth-failures event for ${source}: ${JSON.stringify(events)}`);
    const report = reports[0]?.data ?? {};
    assert.equal(report.name, onB);
    assert.equal(report.ports, 1, 'one socket, one source port');
    assert.equal(report.window_seconds, WINDOW_MS / 1000);
    const count = Number(report.count);
    // What openvpn itself logged is what the aggregator saw; the socket may drop a few under load.
    const ovpnLog = await readFile(join(b.dataDir, 'openvpn', onB, 'openvpn.log'), 'utf8').catch(() => '');
    const logged = ovpnLog
      .split('\n')
      .filter((l) => l.includes('tls-crypt unwrapping failed from') && sourcePattern.test(l)).length;
    console.log(
      `counted ${count} of ${sent.sent} sent; openvpn logged ${logged} failure lines for ${source}`,
    );
    assert.ok(
      count >= 0.95 * sent.sent && count <= sent.sent,
      `the event counts ${count} of ${sent.sent} packets sent`,
    );

    const mentions = (await b.readLog())
      .split('\n')
      .slice(logBefore - 1)
      .filter((l) => sourcePattern.test(l));
    assert.ok(mentions.length >= 1, 'the flood is in the log once');
    assert.ok(mentions.length <= 5, `a handful of log lines name ${source}:\n${mentions.join('\n')}`);
  });
});
