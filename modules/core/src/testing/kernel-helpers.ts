// Helpers for integration specs, which change real kernel state and so must only ever run inside a
// throw-away network namespace (tools/test.mjs runs them under `unshare --net`).
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Refuses to go on unless some ancestor process sits in another network namespace than ours, i.e.
 * we run in a namespace created for this test run. Run directly on a host, the specs would change its
 * routes and interfaces.
 */
export function assertInsideThrowawayNetns(): void {
  const ours = readlinkSync('/proc/self/ns/net');
  let pid = process.ppid;
  for (let depth = 0; pid > 1 && depth < 32; depth++) {
    let theirs: string;
    let status: string;
    try {
      theirs = readlinkSync(`/proc/${pid}/ns/net`);
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      break;
    }
    if (theirs !== ours) return;
    pid = Number(/^PPid:\s*(\d+)/m.exec(status)?.[1] ?? 0);
  }
  throw new Error('integration specs change the kernel: run them through `node tools/test.mjs integration`');
}

/** Runs ip(8) with an argv array (no shell). */
export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('ip', args);
  return stdout;
}

export async function ipJson<T>(...args: string[]): Promise<T> {
  const out = (await ip('-json', ...args)).trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}

/** The kernel here has no dummy driver; one end of a veth pair serves the same purpose. */
export async function addVeth(name: string, peer: string, options: { up?: boolean } = {}): Promise<void> {
  await ip('link', 'add', name, 'type', 'veth', 'peer', 'name', peer);
  if (options.up) {
    await ip('link', 'set', peer, 'up');
    await ip('link', 'set', name, 'up');
  }
}

export async function deleteLinkIfPresent(name: string): Promise<void> {
  try {
    await ip('link', 'del', name);
  } catch {
    // already gone: deleting one end of a veth removes the other
  }
}

/** Reads `iterator` until an item satisfies `predicate`; fails after `timeoutMs` (a condition, not a sleep). */
export async function waitForItem<T>(
  iterator: AsyncIterator<T>,
  predicate: (item: T) => boolean,
  what: string,
  timeoutMs = 3000,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), timeout]);
      if (next.done) throw new Error(`the stream ended while waiting for ${what}`);
      if (predicate(next.value)) return next.value;
    }
  } finally {
    clearTimeout(timer);
  }
}
