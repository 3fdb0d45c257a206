// One site of a lab: a gateway namespace running the appliance, a LAN host namespace, and the appliance
// process itself (start, stop, kill -9, exec inside its namespaces, its API).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiClient } from './api-client.js';
import type { ApplianceCommand } from './appliance-command.js';
import { inNetns, run, type ExecOptions, type ExecResult } from './exec.js';
import { siteExecScript } from './paths.js';
import type { SitePlan } from './topology.js';
import { giveUp, waitFor } from './wait-for.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  /** Wait until GET /health answers 200 (default true). */
  waitHealthy?: boolean;
  /** Default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export class Site {
  readonly name: string;
  readonly index: number;
  /** The gateway's network namespace (the appliance runs here). */
  readonly netns: string;
  /** The LAN host's network namespace. */
  readonly lanNetns: string;
  readonly lanPrefix: string;
  /** The gateway's address on its LAN (lan0). */
  readonly lanGateway: string;
  /** The LAN host's address (eth0). */
  readonly lanHost: string;
  /** The gateway's underlay address on the fake internet (wan0). */
  readonly wanAddress: string;
  /** The gateway's management address (mgmt0); the API listens on it. */
  readonly mgmtAddress: string;
  readonly apiUrl: string;
  /** `<lab dir>/sites/<name>`: appliance.log, data/, run/ (its /run), etc-swanctl/ (its /etc/swanctl). */
  readonly dir: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly api: ApiClient;

  private child: ChildProcess | undefined;
  private exited: Promise<ExitInfo> | undefined;
  private exitInfo: ExitInfo | undefined;

  constructor(
    readonly plan: SitePlan,
    labDir: string,
    private readonly command: ApplianceCommand | undefined,
  ) {
    this.name = plan.name;
    this.index = plan.index;
    this.netns = plan.gwNetns;
    this.lanNetns = plan.lanNetns;
    this.lanPrefix = plan.lan.prefix;
    this.lanGateway = plan.lan.gwAddress;
    this.lanHost = plan.lan.hostAddress;
    this.wanAddress = plan.wan.address;
    this.mgmtAddress = plan.mgmt.address;
    this.apiUrl = plan.apiUrl;
    this.dir = join(labDir, 'sites', plan.name);
    this.dataDir = join(this.dir, 'data');
    this.logFile = join(this.dir, 'appliance.log');
    this.api = new ApiClient(this.apiUrl, () => this.adminToken());
  }

  /** PID of the running appliance (the same process `ip netns exec` started), undefined when stopped. */
  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.exitInfo === undefined;
  }

  /** How the appliance last exited, undefined while it runs or before its first start. */
  get lastExit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** The admin token the appliance wrote to `<dataDir>/admin-token` on its first start. */
  async adminToken(): Promise<string> {
    const file = join(this.dataDir, 'admin-token');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new Error(`site ${this.name}: no admin token at ${file} (has the appliance started?)`, {
        cause: err,
      });
    }
    const token = text.trim();
    if (token === '') throw new Error(`site ${this.name}: ${file} is empty`);
    return token;
  }

  /** Runs argv in the gateway's network namespace. */
  exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return inNetns(this.netns, argv, options);
  }

  /** Runs argv on the LAN host. */
  lanExec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    return inNetns(this.lanNetns, argv, options);
  }

  /**
   * Runs argv inside both the network and the mount namespace of the running appliance, so it sees the
   * appliance's private /run (wireguard-go sockets, charon's VICI socket) and /etc/swanctl.
   */
  applianceExec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    const pid = this.pid;
    if (pid === undefined) {
      return Promise.reject(new Error(`site ${this.name}: the appliance is not running`));
    }
    return run(['nsenter', '-t', String(pid), '-m', '-n', '--', ...argv], options);
  }

  /** Starts the appliance (again) with the same data directory; by default waits until it is healthy. */
  async start(options: StartOptions = {}): Promise<void> {
    if (this.running)
      throw new Error(`site ${this.name}: the appliance is already running (pid ${this.pid})`);
    if (!this.command)
      throw new Error(`site ${this.name}: this lab was created without an appliance command`);
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    const argv = [
      'ip',
      'netns',
      'exec',
      this.netns,
      'bash',
      siteExecScript,
      this.dir,
      '--',
      ...this.command({
        site: this.name,
        siteDir: this.dir,
        dataDir: this.dataDir,
        listen: this.plan.apiListen,
      }),
    ];
    const log = openSync(this.logFile, 'a', 0o600);
    let child: ChildProcess;
    try {
      // Own process group: a Ctrl-C in the terminal reaches the harness, which stops the appliances in order.
      child = spawn('ip', argv.slice(1), { stdio: ['ignore', log, log], detached: true });
    } finally {
      closeSync(log);
    }
    this.exitInfo = undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
    try {
      await once(child, 'spawn'); // rejects when 'error' comes first
    } catch (err) {
      throw new Error(`site ${this.name}: could not start ${argv.join(' ')}`, { cause: err });
    }
    this.child = child;
    // A forgotten lab must not keep the test process alive; waits below ref() it while they need it.
    child.unref();
    await writeFile(join(this.dir, 'appliance.pid'), `${child.pid}\n`);
    if (options.waitHealthy !== false) await this.waitHealthy(options);
  }

  /** Waits until GET /health answers 200; fails at once, with the log's last lines, if the appliance exits. */
  async waitHealthy(options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    try {
      await waitFor(
        async () => {
          if (!this.running) giveUp(`the appliance exited (${describeExit(this.exitInfo)})`);
          return (await this.api.get('/health', { token: null, timeoutMs: 2_000 })).status;
        },
        {
          what: `site ${this.name}: GET ${this.apiUrl}/health to answer 200`,
          until: (status) => status === 200,
          timeoutMs: options.timeoutMs ?? 30_000,
          intervalMs: 100,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${await this.logTail()}`, { cause: err });
    }
  }

  /** SIGTERM, then waits for the appliance to exit; throws if it has not exited within the timeout. */
  async stop(options: { timeoutMs?: number } = {}): Promise<ExitInfo | undefined> {
    return this.signalAndWait('SIGTERM', options.timeoutMs ?? 15_000);
  }

  /** SIGKILL: the appliance gets no chance to clean up (its child processes, if any, stay). */
  async kill9(): Promise<ExitInfo | undefined> {
    return this.signalAndWait('SIGKILL', 5_000);
  }

  /** The appliance's stdout and stderr so far. */
  async readLog(): Promise<string> {
    try {
      return await readFile(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async logTail(lines = 20): Promise<string> {
    const text = (await this.readLog()).trimEnd();
    const tail = text === '' ? '(empty)' : text.split('\n').slice(-lines).join('\n');
    return `--- last lines of ${this.logFile} ---\n${tail}`;
  }

  /** For the process 'exit' handler: SIGKILL without waiting. */
  killSync(): void {
    const pid = this.pid;
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private async signalAndWait(signal: NodeJS.Signals, timeoutMs: number): Promise<ExitInfo | undefined> {
    const child = this.child;
    const exited = this.exited;
    if (!child || !exited || !this.running) return this.exitInfo;
    child.ref(); // keep the event loop alive until the exit event arrives
    try {
      child.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        throw new Error(
          `site ${this.name}: the appliance (pid ${child.pid}) did not exit within ${timeoutMs} ms of ${signal}`,
        );
      }
      return result;
    } finally {
      child.unref();
    }
  }
}

export function describeExit(info: ExitInfo | undefined): string {
  if (!info) return 'still running';
  return info.signal ? `killed by ${info.signal}` : `exit status ${info.code}`;
}
