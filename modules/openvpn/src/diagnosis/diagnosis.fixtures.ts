// Test support: reads the lab captures in fixtures/ (openvpn 2.6.14's own lines, see README.md).
import { readFileSync } from 'node:fs';
import { parseLogRow, parseStateRow } from '../management/management.message.js';
import type { OpenvpnState } from '../management/management.types.js';

function fixtureText(name: string): string {
  // Specs run from dist/diagnosis/; the fixtures stay in src/.
  return readFileSync(new URL(`../../src/diagnosis/fixtures/${name}`, import.meta.url), 'utf8');
}

/** The log lines of a `<case>.<side>.log` fixture (header comments dropped). */
export function fixtureLines(name: string): string[] {
  return fixtureText(name)
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('# '));
}

/** The header comment of a fixture: how it was produced. */
export function fixtureHeader(name: string): string[] {
  return fixtureText(name)
    .split('\n')
    .filter((l) => l.startsWith('# '));
}

export type ManagementItem = { kind: 'log'; message: string } | { kind: 'state'; state: OpenvpnState };

/** The `>LOG:` messages and `>STATE:` notifications of a `<case>.<side>.mgmt` capture, in order. */
export function fixtureManagement(name: string): ManagementItem[] {
  const out: ManagementItem[] = [];
  for (const line of fixtureText(name).split('\n')) {
    if (line.startsWith('>LOG:')) out.push({ kind: 'log', message: parseLogRow(line.slice(5)).message });
    else if (line.startsWith('>STATE:')) out.push({ kind: 'state', state: parseStateRow(line.slice(7)) });
  }
  return out;
}

/** The rows of the `log all` reply in a `<case>.a.mgmt` dump (after the `state all` and `status 3` replies). */
export function fixtureLogHistory(name: string): string[] {
  const lines = fixtureText(name)
    .split('\n')
    .filter((l) => !l.startsWith('# ') && !l.startsWith('>'));
  let ends = 0;
  const out: string[] = [];
  for (const line of lines) {
    if (line === 'END') {
      ends++;
      continue;
    }
    if (ends === 2 && line !== '') out.push(parseLogRow(line).message);
  }
  return out;
}
