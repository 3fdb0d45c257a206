// What is on this machine right now (namespaces, root-namespace links and addresses, processes), and the
// removal of a run's kernel objects by name prefix, which works for a half-built lab and for the leftovers
// of a run that died as well as for a finished one.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { run } from './exec.js';
import { mgmtPrefix, overlaps, parseCidr, parseIp } from './topology.js';
import { waitFor } from './wait-for.js';

interface NetnsJson {
  name?: string;
}
interface LinkJson {
  ifname?: string;
}
interface AddrJson {
  ifname?: string;
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

function parseJsonList<T>(text: string): T[] {
  // `ip -json netns list` prints nothing at all when there is no namespace.
  if (text.trim() === '') return [];
  const parsed: unknown = JSON.parse(text);
  return Array.isArray(parsed) ? (parsed as T[]) : [];
}

export async function listNetns(): Promise<string[]> {
  const { stdout } = await run(['ip', '-json', 'netns', 'list']);
  return namesOf(parseJsonList<NetnsJson>(stdout).map((n) => n.name));
}

export async function listRootLinks(): Promise<string[]> {
  const { stdout } = await run(['ip', '-json', 'link', 'show']);
  return namesOf(parseJsonList<LinkJson>(stdout).map((l) => l.ifname));
}

export async function netnsPids(ns: string): Promise<number[]> {
  const { stdout } = await run(['ip', 'netns', 'pids', ns], { check: false });
  return parsePids(stdout);
}

export interface AddressInUse {
  ifname: string;
  cidr: string;
}

/** IPv4 addresses in the root namespace that overlap the management net 198.18.X.0/24. */
export async function mgmtNetUsers(mgmtNet: number): Promise<AddressInUse[]> {
  const { stdout } = await run(['ip', '-4', '-json', 'addr', 'show']);
  return overlapping(parseJsonList<AddrJson>(stdout), mgmtNet);
}

/** Every X whose 198.18.X.0/24 overlaps an address in the root namespace. */
export async function mgmtNetsInUse(): Promise<Set<number>> {
  const { stdout } = await run(['ip', '-4', '-json', 'addr', 'show']);
  const addrs = parseJsonList<AddrJson>(stdout);
  const used = new Set<number>();
  for (let x = 0; x <= 255; x++) if (overlapping(addrs, x).length > 0) used.add(x);
  return used;
}

function overlapping(addrs: AddrJson[], mgmtNet: number): AddressInUse[] {
  const mgmt = parseCidr(mgmtPrefix(mgmtNet), 'management net');
  const users: AddressInUse[] = [];
  for (const link of addrs) {
    for (const a of link.addr_info ?? []) {
      const ip = a.local === undefined ? undefined : parseIp(a.local);
      if (ip === undefined || a.prefixlen === undefined) continue;
      const size = 2 ** (32 - a.prefixlen);
      const net = { network: ip - (ip % size), length: a.prefixlen };
      if (overlaps(net, mgmt)) users.push({ ifname: link.ifname ?? '?', cidr: `${a.local}/${a.prefixlen}` });
    }
  }
  return users;
}

/** True when the process is gone (or a zombie: it runs no more code, only waits to be reaped). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The start time (clock ticks since boot) of a process, to tell it from a later one with the same PID. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .at(19);
  } catch {
    return undefined;
  }
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Removes every namespace and root-namespace interface whose name starts with `prefix` (`weft-<id>-`),
 * after ending the processes still inside those namespaces (SIGTERM, then SIGKILL after `graceMs`):
 * they are the appliances' children or leftovers of a run that died. Returns what it removed; throws if
 * anything with the prefix is still there afterwards.
 */
export async function removeByPrefix(prefix: string, options: { graceMs?: number } = {}): Promise<string[]> {
  const namespaces = (await listNetns()).filter((n) => n.startsWith(prefix));
  const pids = [...new Set((await Promise.all(namespaces.map(netnsPids))).flat())];
  if (pids.length > 0) {
    signalAll(pids, 'SIGTERM');
    try {
      await waitFor(() => pids.every(processGone), {
        what: `processes ${pids.join(' ')} in ${prefix}* namespaces to exit after SIGTERM`,
        timeoutMs: options.graceMs ?? 3_000,
      });
    } catch {
      signalAll(
        pids.filter((p) => !processGone(p)),
        'SIGKILL',
      );
    }
  }
  const links = rootLinksFirstVeths((await listRootLinks()).filter((l) => l.startsWith(prefix)));
  for (const link of links) await run(['ip', 'link', 'del', link], { check: false });
  for (const ns of namespaces) await run(['ip', 'netns', 'del', ns], { check: false });
  await waitFor(
    async () => {
      const left = [
        ...(await listNetns()).filter((n) => n.startsWith(prefix)),
        ...(await listRootLinks()).filter((l) => l.startsWith(prefix)),
      ];
      return left;
    },
    {
      what: `every namespace and interface named ${prefix}* to be gone`,
      until: (left) => left.length === 0,
      timeoutMs: 10_000,
    },
  );
  return [...namespaces, ...links];
}

/** The same, synchronously and without waiting, for the process 'exit' handler. Never throws. */
export function removeByPrefixSync(prefix: string): void {
  const text = (argv: string[]): string => {
    try {
      return execFileSync(argv[0] ?? 'false', argv.slice(1), {
        encoding: 'utf8',
        timeout: 10_000,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
    } catch {
      return '';
    }
  };
  const quiet = (argv: string[]): void => void text(argv);
  try {
    const namespaces = namesOf(
      parseJsonList<NetnsJson>(text(['ip', '-json', 'netns', 'list'])).map((n) => n.name),
    ).filter((n) => n.startsWith(prefix));
    for (const ns of namespaces) signalAll(parsePids(text(['ip', 'netns', 'pids', ns])), 'SIGKILL');
    const links = namesOf(
      parseJsonList<LinkJson>(text(['ip', '-json', 'link', 'show'])).map((l) => l.ifname),
    ).filter((l) => l.startsWith(prefix));
    for (const link of rootLinksFirstVeths(links)) quiet(['ip', 'link', 'del', link]);
    for (const ns of namespaces) quiet(['ip', 'netns', 'del', ns]);
  } catch {
    // best effort: sweepStale() finishes the job on the next run
  }
}

/** Veths before bridges, so the bridge is deleted empty. Bridges of ours end in `-br`. */
function rootLinksFirstVeths(links: string[]): string[] {
  return [...links].sort((a, b) => Number(a.endsWith('-br')) - Number(b.endsWith('-br')));
}

function namesOf(names: (string | undefined)[]): string[] {
  return names.filter((n): n is string => typeof n === 'string');
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((t) => /^\d+$/.test(t))
    .map(Number);
}
