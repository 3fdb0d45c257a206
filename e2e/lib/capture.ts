// What crossed a site's underlay: tcpdump on its wan0 while something runs, so a scenario can assert
// that a tunnel carried its LAN traffic and nothing went out in clear.
import { spawn } from 'node:child_process';
import type { Site } from './site.js';
import { waitFor } from './wait-for.js';

/**
 * Captures `packets` IPv4 packets (ARP left out) on `site`'s wan0 while `during` runs; returns
 * tcpdump's one-line summaries. Throws when fewer arrive within the timeout.
 */
export function captureUnderlay(
  site: Site,
  packets: number,
  during: () => Promise<unknown>,
  timeoutMs = 10_000,
): Promise<string[]> {
  return captureIn(site.netns, 'wan0', packets, during, { timeoutMs });
}

/**
 * Captures `packets` packets matching `filter` (tcpdump syntax; default IPv4 without ARP) on `ifname`
 * in network namespace `netns` while `during` runs; returns tcpdump's one-line summaries.
 */
export async function captureIn(
  netns: string,
  ifname: string,
  packets: number,
  during: () => Promise<unknown>,
  options: { filter?: string; timeoutMs?: number } = {},
): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const capture = spawn(
    'ip',
    [
      'netns',
      'exec',
      netns,
      'tcpdump',
      '-n',
      '-l',
      '-p',
      '-i',
      ifname,
      '-c',
      String(packets),
      options.filter ?? 'not arp and not ip6',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let text = '';
  let started = '';
  capture.stdout.on('data', (d: Buffer) => (text += d.toString()));
  capture.stderr.on('data', (d: Buffer) => (started += d.toString()));
  try {
    await waitFor(() => started.includes('listening on'), { what: 'tcpdump listening', timeoutMs });
    await during();
    await waitFor(() => capture.exitCode !== null, { what: `capture of ${packets} packets`, timeoutMs });
  } finally {
    if (capture.exitCode === null) capture.kill('SIGTERM');
  }
  return text.trim().split('\n').filter(Boolean);
}
