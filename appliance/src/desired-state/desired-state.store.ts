// The desired-state store: embedded SQLite (WAL). Every commit is a numbered revision.
import Database from 'better-sqlite3';
import { migrateDocument, type NormalizedDocument, type Plan, type RevisionState } from './document.js';
import { storeMigrations } from './store.migrations.js';

export interface RevisionRecord {
  number: number;
  createdAt: string;
  author: string;
  message: string;
  state: RevisionState;
  /** The revision that was active when this one was committed (what a rollback returns to). */
  parent: number | null;
  document: NormalizedDocument;
  plan: Plan;
  confirmDeadline: string | null;
  error: string | null;
}

/** A module's own small key/value store inside the appliance database. */
export interface ModuleState {
  get(key: string): string | undefined;
  entries(): (readonly [string, string])[];
  set(key: string, value: string): void;
  delete(key: string): void;
  /** Many sets and deletes in one transaction: one synchronous write instead of one per key. */
  update(set: Readonly<Record<string, string>>, remove?: readonly string[]): void;
}

export type RevisionSummaryRecord = Omit<RevisionRecord, 'document' | 'plan'>;

export interface TokenRecord {
  name: string;
  role: 'admin' | 'viewer';
  createdAt: string;
  lastUsedAt: string | null;
}

interface RevisionRow {
  number: number;
  created_at: string;
  author: string;
  message: string;
  state: RevisionState;
  parent: number | null;
  document?: string;
  plan?: string;
  confirm_deadline: string | null;
  error: string | null;
}

interface TokenRow {
  name: string;
  role: 'admin' | 'viewer';
  created_at: string;
  last_used_at: string | null;
}

const ACTIVE_STATES: RevisionState[] = ['applied', 'pending-confirm'];

export class DesiredStateStore {
  private constructor(private readonly db: Database.Database) {}

  /** Opens (creating if needed) the database file and brings its schema up to date. */
  static open(file: string): DesiredStateStore {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    const store = new DesiredStateStore(db);
    store.migrate();
    return store;
  }

  private migrate(): void {
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)',
    );
    const done = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
        (r) => r.version,
      ),
    );
    for (const m of storeMigrations) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, new Date().toISOString());
      })();
    }
  }

  schemaVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as {
      v: number | null;
    };
    return row.v ?? 0;
  }

  close(): void {
    this.db.close();
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  // --- revisions -------------------------------------------------------------------------------

  /** The revision in force: the newest one applied or waiting for confirmation. */
  active(): RevisionRecord | undefined {
    const row = this.db
      .prepare(
        `SELECT * FROM revisions WHERE state IN (${ACTIVE_STATES.map(() => '?').join(',')}) ORDER BY number DESC LIMIT 1`,
      )
      .get(...ACTIVE_STATES) as RevisionRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  get(number: number): RevisionRecord | undefined {
    const row = this.db.prepare('SELECT * FROM revisions WHERE number = ?').get(number) as
      RevisionRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  list(limit: number): RevisionSummaryRecord[] {
    const rows = this.db
      .prepare(
        'SELECT number, created_at, author, message, state, parent, confirm_deadline, error FROM revisions ORDER BY number DESC LIMIT ?',
      )
      .all(limit) as RevisionRow[];
    return rows.map(toSummary);
  }

  /**
   * Records a new revision as the active one (state `applied` or `pending-confirm`) and marks the
   * previously active one `superseded`, in one transaction: the commit is durable before it is applied.
   */
  commit(rev: {
    author: string;
    message: string;
    document: NormalizedDocument;
    plan: Plan;
    state: 'applied' | 'pending-confirm';
    confirmDeadline: string | null;
  }): RevisionRecord {
    return this.transaction(() => {
      const parent = this.active()?.number ?? null;
      if (parent !== null) this.setState(parent, 'superseded');
      const next =
        ((this.db.prepare('SELECT MAX(number) AS n FROM revisions').get() as { n: number | null }).n ?? 0) +
        1;
      this.db
        .prepare(
          `INSERT INTO revisions (number, created_at, author, message, state, parent, document, plan, confirm_deadline, error)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
        )
        .run(
          next,
          new Date().toISOString(),
          rev.author,
          rev.message,
          rev.state,
          parent,
          JSON.stringify(rev.document),
          JSON.stringify(rev.plan),
          rev.confirmDeadline,
        );
      const stored = this.get(next);
      if (!stored) throw new Error(`revision ${next} vanished after insert`);
      return stored;
    });
  }

  setState(
    number: number,
    state: RevisionState,
    extra: { error?: string | null; confirmDeadline?: string | null } = {},
  ): void {
    const res = this.db
      .prepare(
        `UPDATE revisions SET state = ?,
           error = CASE WHEN ? THEN ? ELSE error END,
           confirm_deadline = CASE WHEN ? THEN ? ELSE confirm_deadline END
         WHERE number = ?`,
      )
      .run(
        state,
        extra.error !== undefined ? 1 : 0,
        extra.error ?? null,
        extra.confirmDeadline !== undefined ? 1 : 0,
        extra.confirmDeadline ?? null,
        number,
      );
    if (res.changes !== 1) throw new Error(`no revision ${number}`);
  }

  /**
   * Takes `failed` (or `rolledBack`) revision out of force and puts `restore` back in force, in one
   * transaction. Returns the restored revision.
   */
  revert(
    from: number,
    fromState: 'failed' | 'rolled-back',
    error: string | null,
    restore: number | null,
  ): RevisionRecord | undefined {
    return this.transaction(() => {
      this.setState(from, fromState, { error, confirmDeadline: null });
      if (restore === null) return undefined;
      this.setState(restore, 'applied');
      return this.get(restore);
    });
  }

  // --- module state: what a module must remember that is not desired state (keys, allocations) ---

  moduleState(module: string): ModuleState {
    const get = this.db.prepare('SELECT value FROM module_state WHERE module = ? AND key = ?');
    const all = this.db.prepare('SELECT key, value FROM module_state WHERE module = ? ORDER BY key');
    const put = this.db.prepare(
      'INSERT INTO module_state (module, key, value) VALUES (?, ?, ?) ON CONFLICT (module, key) DO UPDATE SET value = excluded.value',
    );
    const del = this.db.prepare('DELETE FROM module_state WHERE module = ? AND key = ?');
    return {
      get: (key) => (get.get(module, key) as { value: string } | undefined)?.value,
      entries: () =>
        (all.all(module) as { key: string; value: string }[]).map((r) => [r.key, r.value] as const),
      set: (key, value) => {
        put.run(module, key, value);
      },
      delete: (key) => {
        del.run(module, key);
      },
      update: this.db.transaction((set: Readonly<Record<string, string>>, remove: readonly string[] = []) => {
        for (const key of remove) del.run(module, key);
        for (const [key, value] of Object.entries(set)) put.run(module, key, value);
      }),
    };
  }

  // --- tokens ----------------------------------------------------------------------------------

  countTokens(role?: 'admin' | 'viewer'): number {
    const row = (
      role
        ? this.db.prepare('SELECT COUNT(*) AS n FROM tokens WHERE role = ?').get(role)
        : this.db.prepare('SELECT COUNT(*) AS n FROM tokens').get()
    ) as { n: number };
    return row.n;
  }

  insertToken(name: string, role: 'admin' | 'viewer', hash: string): TokenRecord {
    const createdAt = new Date().toISOString();
    this.db
      .prepare('INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)')
      .run(name, role, hash, createdAt);
    return { name, role, createdAt, lastUsedAt: null };
  }

  tokenByHash(hash: string): TokenRecord | undefined {
    const row = this.db
      .prepare('SELECT name, role, created_at, last_used_at FROM tokens WHERE hash = ?')
      .get(hash) as TokenRow | undefined;
    return row && toToken(row);
  }

  tokenByName(name: string): TokenRecord | undefined {
    const row = this.db
      .prepare('SELECT name, role, created_at, last_used_at FROM tokens WHERE name = ?')
      .get(name) as TokenRow | undefined;
    return row && toToken(row);
  }

  listTokens(): TokenRecord[] {
    return (
      this.db
        .prepare('SELECT name, role, created_at, last_used_at FROM tokens ORDER BY name')
        .all() as TokenRow[]
    ).map(toToken);
  }

  deleteToken(name: string): boolean {
    return this.db.prepare('DELETE FROM tokens WHERE name = ?').run(name).changes === 1;
  }

  touchToken(name: string, at: string): void {
    this.db.prepare('UPDATE tokens SET last_used_at = ? WHERE name = ?').run(at, name);
  }
}

function toSummary(row: RevisionRow): RevisionSummaryRecord {
  return {
    number: row.number,
    createdAt: row.created_at,
    author: row.author,
    message: row.message,
    state: row.state,
    parent: row.parent,
    confirmDeadline: row.confirm_deadline,
    error: row.error,
  };
}

function toRecord(row: RevisionRow): RevisionRecord {
  return {
    ...toSummary(row),
    document: migrateDocument(JSON.parse(row.document ?? '{}') as Record<string, unknown>),
    plan: JSON.parse(row.plan ?? '{"changes":[],"actions":[]}') as Plan,
  };
}

function toToken(row: TokenRow): TokenRecord {
  return { name: row.name, role: row.role, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}
