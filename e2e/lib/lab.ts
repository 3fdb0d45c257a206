// A lab: sites built from network namespaces around a fake internet, one appliance per gateway, a
// management net from the root namespace, and guaranteed cleanup. See e2e/README.md for the picture.
import { randomInt } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultAppliance, describeAppliance, type ApplianceCommand } from './appliance-command.js';
import { registerTeardown, unregisterTeardown, type Teardown } from './cleanup.js';
import { inNetns, run, type ExecOptions, type ExecResult } from './exec.js';
import {
  listNetns,
  listRootLinks,
  mgmtNetsInUse,
  mgmtNetUsers,
  processGone,
  processStartTime,
  removeByPrefix,
  removeByPrefixSync,
} from './host.js';
import { defaultLabRoot } from './paths.js';
import { Site } from './site.js';
import {
  buildSteps,
  mgmtBridgeName,
  mgmtBridgeSteps,
  mgmtPrefix,
  namePrefix,
  newRunId,
  planTopology,
  RUN_ID_PATTERN,
  type SiteSpec,
  type Topology,
} from './topology.js';

export interface LabOptions {
  /** Site names (`['a', 'b', 'c']`), specs with a LAN prefix each, or a count (sites a, b, c, …). */
  sites: ReadonlyArray<string | SiteSpec> | number;
  /** A label for humans (recorded in `.lab/<id>/lab.json`), e.g. the scenario's name. */
  name?: string;
  /**
   * X of the management net 198.18.X.0/24. `'auto'` (the default) picks a free one other than 0, which
   * is left to the demo; a number fails when that net is in use.
   */
  mgmtNet?: number | 'auto';
  /** What to run on each gateway; default defaultAppliance(). `null`: build the network only. */
  appliance?: ApplianceCommand | null;
  /** Wait until every appliance answers /health (default true). */
  waitHealthy?: boolean;
  /** Per appliance, default 30 s. */
  healthTimeoutMs?: number;
  /** Tear down on SIGINT/SIGTERM and die of the signal (default true). The demo handles signals itself. */
  handleSignals?: boolean;
  /** Remove leftovers of dead runs first (default true). */
  sweep?: boolean;
  /** Default `<repo>/.lab`. */
  labRoot?: string;
  /** Aborts the build (what was built is torn down). */
  signal?: AbortSignal;
}

export class Lab implements Teardown {
  readonly id: string;
  /** `weft-<id>-`: every namespace and root-namespace interface of this lab starts with it. */
  readonly prefix: string;
  readonly sites: readonly Site[];
  /** The fake internet's namespace; its bridge carries `internetServer`. */
  readonly inetNetns: string;
  /** 203.0.113.1, on the fake internet, for servers that tests start there. */
  readonly internetServer: string;
  /** X of 198.18.X.0/24. */
  readonly mgmtNet: number;
  /** The management bridge in the root namespace (198.18.X.1). */
  readonly mgmtBridge: string;
  readonly mgmtAddress: string;

  private destroying: Promise<void> | undefined;
  private finished = false;

  private constructor(
    readonly topology: Topology,
    /** `<lab root>/<id>`: lab.json, owner.pid, sites/<name>/… */
    readonly dir: string,
    readonly name: string,
    readonly handleSignals: boolean,
    command: ApplianceCommand | undefined,
  ) {
    this.id = topology.runId;
    this.prefix = topology.prefix;
    this.inetNetns = topology.inet.netns;
    this.internetServer = topology.inet.address;
    this.mgmtNet = topology.mgmt.net;
    this.mgmtBridge = topology.mgmt.bridge;
    this.mgmtAddress = topology.mgmt.address;
    this.sites = topology.sites.map((plan) => new Site(plan, dir, command));
  }

  static async create(options: LabOptions): Promise<Lab> {
    const labRoot = options.labRoot ?? defaultLabRoot;
    const command = options.appliance === undefined ? defaultAppliance() : (options.appliance ?? undefined);
    const signal = options.signal;
    // Fail on bad site specs before touching anything.
    planTopology({ runId: '0000', sites: options.sites, mgmtNet: 0 });
    if (options.sweep !== false) await sweepStale({ labRoot });
    signal?.throwIfAborted();

    const { runId, dir } = await claimRunDir(labRoot);
    let mgmtNet: number;
    try {
      mgmtNet = await claimMgmtNet(runId, options.mgmtNet ?? 'auto');
    } catch (err) {
      await removeByPrefix(namePrefix(runId)).catch(() => undefined);
      markFinishedSync(dir);
      throw err;
    }
    const topology = planTopology({ runId, sites: options.sites, mgmtNet });
    const lab = new Lab(topology, dir, options.name ?? 'lab', options.handleSignals !== false, command);
    registerTeardown(lab);
    try {
      await writeFile(
        join(dir, 'lab.json'),
        `${JSON.stringify(
          {
            id: runId,
            name: lab.name,
            created: new Date().toISOString(),
            owner: process.pid,
            appliance: command ? describeAppliance(command) : 'none',
            topology,
          },
          null,
          2,
        )}\n`,
      );
      for (const step of buildSteps(topology)) {
        signal?.throwIfAborted();
        await run(step);
      }
      for (const site of lab.sites) await mkdir(site.dir, { recursive: true });
      if (command) {
        await Promise.all(
          lab.sites.map((site) =>
            site.start({
              waitHealthy: options.waitHealthy !== false,
              ...(options.healthTimeoutMs !== undefined ? { timeoutMs: options.healthTimeoutMs } : {}),
              ...(signal ? { signal } : {}),
            }),
          ),
        );
      }
    } catch (err) {
      await lab.destroy().catch((cleanupErr: unknown) => {
        process.stderr.write(`weft-e2e: cleaning up the failed lab ${runId}: ${String(cleanupErr)}\n`);
      });
      throw new Error(`building lab ${runId} (${lab.name}) failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
    return lab;
  }

  /** The site called `name`. */
  site(name: string): Site {
    const site = this.sites.find((s) => s.name === name);
    if (!site)
      throw new Error(
        `lab ${this.id} has no site "${name}" (sites: ${this.sites.map((s) => s.name).join(', ')})`,
      );
    return site;
  }

  /** Runs argv in the fake internet's namespace (where 203.0.113.1 lives). */
  inetExec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return inNetns(this.inetNetns, argv, options);
  }

  /**
   * Stops the appliances (SIGTERM, then SIGKILL), ends what is left in the lab's namespaces, deletes the
   * namespaces, veths and management bridge. Idempotent. The files under `dir` stay for post-mortems
   * (sweepStale() prunes old ones).
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  /** @internal the 'exit' handler's variant: SIGKILL and synchronous deletes. */
  destroySync(): void {
    if (this.finished) return;
    this.finished = true;
    for (const site of this.sites) site.killSync();
    removeByPrefixSync(this.prefix);
    markFinishedSync(this.dir);
    unregisterTeardown(this);
  }

  private async teardown(): Promise<void> {
    if (this.finished) return;
    await Promise.all(
      this.sites.map(async (site) => {
        try {
          await site.stop({ timeoutMs: 10_000 });
        } catch (err) {
          process.stderr.write(`weft-e2e: ${(err as Error).message}; killing it\n`);
          await site.kill9().catch(() => undefined);
        }
      }),
    );
    await removeByPrefix(this.prefix);
    this.finished = true;
    markFinishedSync(this.dir);
    unregisterTeardown(this);
  }
}

// --- run directory and ownership --------------------------------------------------------------------

/** Claims a fresh run id: `<lab root>/<id>/owner.pid` appears atomically (rename of a prepared dir). */
async function claimRunDir(labRoot: string): Promise<{ runId: string; dir: string }> {
  await mkdir(labRoot, { recursive: true });
  for (let attempt = 0; attempt < 50; attempt++) {
    const runId = newRunId();
    const prefix = namePrefix(runId);
    const inUse = [...(await listNetns()), ...(await listRootLinks())].some((n) => n.startsWith(prefix));
    if (inUse) continue;
    const claim = join(labRoot, `.claim-${process.pid}-${runId}`);
    await mkdir(claim);
    await writeFile(join(claim, 'owner.pid'), `${process.pid}\n${processStartTime(process.pid) ?? ''}\n`);
    try {
      await rename(claim, join(labRoot, runId));
      return { runId, dir: join(labRoot, runId) };
    } catch {
      await rm(claim, { recursive: true, force: true });
    }
  }
  throw new Error(`could not find a free run id under ${labRoot}`);
}

function markFinishedSync(dir: string): void {
  try {
    // Written once: its mtime orders finished runs for pruning.
    writeFileSync(join(dir, 'finished'), `${new Date().toISOString()}\n`, { flag: 'wx' });
  } catch {
    // finished before, or the directory is gone
  }
  try {
    rmSync(join(dir, 'owner.pid'), { force: true });
  } catch {
    // the directory may be gone already
  }
}

/** The owner of a run, or undefined when the run is finished or its owner is dead. */
function liveOwner(dir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, 'owner.pid'), 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, start] = text.split('\n');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || processGone(pid)) return undefined;
  // The same PID, but a later process: the owner is dead.
  if (start && processStartTime(pid) !== start) return undefined;
  return pid;
}

// --- management net ---------------------------------------------------------------------------------

/**
 * Creates the run's management bridge with 198.18.X.1/24 and makes sure no other interface uses that
 * net; with 'auto' it picks a free X and retries when a parallel run took the same one at the same time.
 */
async function claimMgmtNet(runId: string, wanted: number | 'auto'): Promise<number> {
  const bridge = mgmtBridgeName(runId);
  const tried = new Set<number>();
  for (let attempt = 0; attempt < 10; attempt++) {
    let x: number;
    if (wanted === 'auto') {
      const used = await mgmtNetsInUse();
      const free = Array.from({ length: 255 }, (_, i) => i + 1).filter((n) => !used.has(n) && !tried.has(n));
      const pick = free[randomInt(free.length || 1)];
      if (pick === undefined) throw new Error('no free management net 198.18.1-255.0/24');
      x = pick;
    } else {
      x = wanted;
      const users = await mgmtNetUsers(x);
      if (users.length > 0) throw mgmtNetBusy(x, users);
    }
    tried.add(x);
    for (const step of mgmtBridgeSteps(bridge, x)) await run(step);
    const others = (await mgmtNetUsers(x)).filter((u) => u.ifname !== bridge);
    if (others.length === 0) return x;
    await run(['ip', 'link', 'del', bridge], { check: false });
    if (wanted !== 'auto') throw mgmtNetBusy(x, others);
  }
  throw new Error('could not claim a management net: parallel runs kept taking the same one');
}

function mgmtNetBusy(x: number, users: { ifname: string; cidr: string }[]): Error {
  const who = users.map((u) => `${u.cidr} on ${u.ifname}`).join(', ');
  return new Error(
    `the management net ${mgmtPrefix(x)} is in use (${who}); is a demo already running? ` +
      `Stop it, or pick another net.`,
  );
}

// --- sweeping ---------------------------------------------------------------------------------------

export interface SweepOptions {
  labRoot?: string;
  /** Finished run directories kept for post-mortems, newest first (default 5). */
  keepRuns?: number;
}

export interface SweepReport {
  /** Run ids whose owner was dead and whose kernel objects were looked for and removed. */
  swept: string[];
  /** Namespaces and root interfaces removed. */
  removed: string[];
  /** Run directories deleted (beyond keepRuns). */
  prunedDirs: string[];
}

/**
 * Removes the leftovers of earlier runs whose owning process (`<lab root>/<id>/owner.pid`) is dead:
 * processes in their namespaces, the namespaces, the root-namespace interfaces, all only by the
 * `weft-<id>-` prefix of such a run. Runs of live processes are never touched. Then prunes old finished
 * run directories beyond `keepRuns`.
 */
export async function sweepStale(options: SweepOptions = {}): Promise<SweepReport> {
  const labRoot = options.labRoot ?? defaultLabRoot;
  const keepRuns = options.keepRuns ?? 5;
  const report: SweepReport = { swept: [], removed: [], prunedDirs: [] };
  let entries: string[];
  try {
    entries = await readdir(labRoot);
  } catch {
    return report;
  }
  const finished: { dir: string; mtimeMs: number }[] = [];
  for (const entry of entries) {
    const dir = join(labRoot, entry);
    const claim = /^\.claim-(\d+)-[0-9a-f]{4}$/.exec(entry);
    if (claim) {
      if (processGone(Number(claim[1]))) await rm(dir, { recursive: true, force: true });
      continue;
    }
    if (!RUN_ID_PATTERN.test(entry)) continue;
    if (liveOwner(dir) !== undefined) continue;
    // A run without owner.pid finished and cleaned up after itself: its prefix is not looked at again
    // (by now another checkout's run could be using the same id).
    const ownerless = await readFile(join(dir, 'owner.pid'), 'utf8').then(
      () => false,
      () => true,
    );
    if (!ownerless) {
      report.swept.push(entry);
      report.removed.push(...(await removeByPrefix(namePrefix(entry))));
      markFinishedSync(dir);
    }
    try {
      finished.push({ dir, mtimeMs: (await stat(join(dir, 'finished'))).mtimeMs });
    } catch {
      // vanished meanwhile (a parallel sweep)
    }
  }
  finished.sort((a, b) => b.mtimeMs - a.mtimeMs);
  for (const { dir } of finished.slice(keepRuns)) {
    await rm(dir, { recursive: true, force: true });
    report.prunedDirs.push(dir);
  }
  return report;
}
