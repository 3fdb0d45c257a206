// Weft's nftables table in the kernel: replaced whole in one `nft -f -` transaction, read back with
// `nft -j`, compared against what was read right after the last apply. Only our table is ever named.
import { CommandError, CoreError } from '../errors.js';
import { WEFT_NFT_TABLE } from '../owned.js';
import type { ProcessRunner } from '../system/process.adapter.js';
import { diffNftTables, normalizeNftJson } from './nft.observe.js';
import { renderNftCleanup, renderNftScript } from './nft.render.js';
import type { NftDesired, NftDrift, NftObservedTable, NftTableName } from './nft.types.js';

export interface NftServiceOptions {
  /** An argv prefix nft runs behind, e.g. `['nsenter', '-t', pid, '-n', '--']` for another netns. */
  launcher?: readonly string[];
  /** WEFT_NFT_TABLE unless a test says otherwise. */
  table?: NftTableName;
  timeoutMs?: number;
}

/** nft is not on this system. */
export class NftUnavailableError extends CoreError {
  readonly kind = 'unavailable';
}

/** nft failed or refused a script (nft -f is one transaction: a refused script changed nothing). */
export class NftError extends CoreError {
  readonly kind = 'unavailable';
  constructor(
    message: string,
    /** nft's stderr (`/dev/stdin:7:10-15: Error: …`, the line, the carets), one line each. */
    readonly stderrLines: readonly string[],
    options?: ErrorOptions,
  ) {
    super(`${message}:\n${stderrLines.join('\n')}`, options);
  }
}

export class NftService {
  private readonly launcher: readonly string[];
  private readonly table: NftTableName;
  private readonly timeoutMs: number;
  private nftPath: string | undefined;
  /** The script of the last successful apply and the table as read back right after it. */
  private fingerprint: { script: string; observed: NftObservedTable } | undefined;
  /** apply, observe and cleanup must not interleave: a read during an apply would see either table. */
  private exclusive: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly runner: ProcessRunner,
    options: NftServiceOptions = {},
  ) {
    this.launcher = options.launcher ?? [];
    this.table = options.table ?? WEFT_NFT_TABLE;
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  private get tableId(): string {
    return `${this.table.family} ${this.table.name}`;
  }

  /**
   * Replaces our table with the one `desired` renders to, in one transaction. Throws
   * InvalidArgumentError for an invalid desired (nothing run), NftError when nft refuses it (the
   * kernel keeps its table as it was).
   */
  apply(desired: NftDesired): Promise<void> {
    const script = renderNftScript(desired, this.table);
    return this.serialized(async () => {
      try {
        await this.nft(['-f', '-'], script);
      } catch (cause) {
        throw this.refused(
          `nft refused the new table ${this.tableId} (the kernel keeps the one it had)`,
          cause,
        );
      }
      this.fingerprint = undefined;
      let observed: NftObservedTable | undefined;
      try {
        observed = await this.read();
      } catch (cause) {
        throw new Error(`table ${this.tableId} applied, but reading it back failed`, { cause });
      }
      if (!observed) throw new Error(`table ${this.tableId} applied, but nft does not list it`);
      this.fingerprint = { script, observed };
    });
  }

  /** The kernel's table, normalized (no handles, no counter values); undefined when it is absent. */
  observe(): Promise<NftObservedTable | undefined> {
    return this.serialized(() => this.read());
  }

  /**
   * Whether the kernel's table still is what the last apply() of this same desired left. Without such
   * an apply (none yet, or of another desired) it has drifted by definition.
   */
  async drifted(desired: NftDesired): Promise<NftDrift> {
    const script = renderNftScript(desired, this.table);
    const fingerprint = this.fingerprint;
    if (!fingerprint) return { drifted: true, differences: [`table ${this.tableId} not applied yet`] };
    if (fingerprint.script !== script) {
      return {
        drifted: true,
        differences: [`table ${this.tableId} was last applied from another desired state`],
      };
    }
    const observed = await this.observe();
    if (!observed) return { drifted: true, differences: [`table ${this.tableId} missing`] };
    const differences = diffNftTables(fingerprint.observed, observed);
    return { drifted: differences.length > 0, differences };
  }

  /** Deletes our table if it is there; no other table is touched. */
  cleanup(): Promise<void> {
    return this.serialized(async () => {
      this.fingerprint = undefined;
      try {
        await this.nft(['-f', '-'], renderNftCleanup(this.table));
      } catch (cause) {
        throw this.refused(`nft could not delete table ${this.tableId}`, cause);
      }
    });
  }

  private async read(): Promise<NftObservedTable | undefined> {
    let stdout: string;
    try {
      ({ stdout } = await this.nft(['-j', 'list', 'table', this.table.family, this.table.name]));
    } catch (err) {
      // nft 1.0.6 says "Error: No such file or directory" (ENOENT from the kernel) for a missing table.
      if (err instanceof CommandError && /No such file or directory/.test(err.stderr)) return undefined;
      throw this.refused(`nft could not list table ${this.tableId}`, err);
    }
    return normalizeNftJson(stdout, this.table);
  }

  private async nft(args: string[], input?: string): Promise<{ stdout: string; stderr: string }> {
    this.nftPath ??= await this.runner.findExecutable('nft');
    if (this.nftPath === undefined) {
      throw new NftUnavailableError('nftables is not installed: apt install nftables');
    }
    const [file, ...prefix] = [...this.launcher, this.nftPath];
    return this.runner.run(file ?? this.nftPath, [...prefix, ...args], {
      ...(input !== undefined ? { input } : {}),
      timeoutMs: this.timeoutMs,
    });
  }

  private refused(message: string, cause: unknown): Error {
    if (cause instanceof NftUnavailableError) return cause;
    if (cause instanceof CommandError) {
      const lines = cause.stderr.split('\n').filter((l) => l.trim() !== '');
      return new NftError(message, lines.length > 0 ? lines : ['(nft printed nothing)'], { cause });
    }
    return new Error(message, { cause });
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => undefined);
    return run;
  }
}
