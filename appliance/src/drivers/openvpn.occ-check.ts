// The on-demand OCC check (modules/openvpn/src/diagnosis/README.md): openvpn 2.6.14 compares both ends'
// options strings (dev-type, tun-mtu, compression) at every handshake but prints the warnings only at
// verb 7. So, over the management interface: `verb 7`, `signal SIGUSR1` (a reconnect), wait until it is
// CONNECTED again — the warnings arrive on the `>LOG:` stream the port already feeds to the doctor —, then
// the previous verbosity and one more reconnect, so the session in use is not one whose keys verb 7
// printed. Key lines never reach the doctor or the appliance log (the port drops isOpenvpnSecretLine
// lines), and scrubLog blanks the keys openvpn wrote to its own log file meanwhile.
import { readFile, writeFile } from 'node:fs/promises';
import { isOpenvpnSecretLine, type ManagementClient } from '@weft/openvpn';

export interface OccCheckOptions {
  /** Removes the key lines from openvpn's log file (it appends: rewritten in place, not replaced). */
  scrubLog(): Promise<void>;
  /** How long each reconnect may take (default 20 s). */
  reconnectTimeoutMs?: number;
}

const OCC_VERBOSITY = 7;

/** Runs the check once on the openvpn behind `client`. Rejects when a reconnect did not finish in time. */
export async function runOccCheck(client: ManagementClient, options: OccCheckOptions): Promise<void> {
  const timeoutMs = options.reconnectTimeoutMs ?? 20_000;
  const reply = await client.session.command('verb', 'single');
  const previous = Number(/verb=(\d+)/.exec(reply.message)?.[1] ?? 3);
  try {
    await client.session.command(`verb ${OCC_VERBOSITY}`, 'single');
    await reconnect(client, timeoutMs);
  } finally {
    try {
      await client.session.command(`verb ${previous}`, 'single');
      await reconnect(client, timeoutMs);
    } finally {
      await options.scrubLog();
    }
  }
}

/** `signal SIGUSR1`, then waits for `>STATE:…,CONNECTED` of the new session. */
async function reconnect(client: ManagementClient, timeoutMs: number): Promise<void> {
  const signal = AbortSignal.timeout(timeoutMs);
  const states = client.states({ signal });
  try {
    await client.signal('SIGUSR1');
    let left = false;
    for await (const s of states) {
      if (s.name !== 'CONNECTED') left = true;
      else if (left) return;
    }
  } finally {
    states.close();
  }
  throw new Error(`openvpn did not reconnect within ${timeoutMs} ms after SIGUSR1`);
}

/**
 * Blanks the key material verb 7 wrote into openvpn's log file, in place and at the same length: openvpn
 * keeps writing to the same file at its own offset, so the file is neither replaced nor shortened.
 */
export async function scrubSecretLines(path: string): Promise<void> {
  const text = await readFile(path, 'latin1').catch(() => undefined);
  if (text === undefined) return;
  const lines = text.split('\n');
  if (!lines.some((l) => isOpenvpnSecretLine(l))) return;
  const out = lines
    .map((l) =>
      isOpenvpnSecretLine(l)
        ? l.replace(/(KEY: )([0-9a-f][0-9a-f ]*)/g, (_, p: string, hex: string) => p + '*'.repeat(hex.length))
        : l,
    )
    .join('\n');
  // latin1 both ways: one byte per character, so every byte keeps its offset.
  await writeFile(path, out, { flag: 'r+', encoding: 'latin1' });
}
