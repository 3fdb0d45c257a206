// Numbered SQL migrations of the store. Append only: a shipped migration never changes.
export const storeMigrations: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'revisions, tokens, meta',
    sql: `
      CREATE TABLE revisions (
        number           INTEGER PRIMARY KEY,
        created_at       TEXT    NOT NULL,
        author           TEXT    NOT NULL,
        message          TEXT    NOT NULL,
        state            TEXT    NOT NULL,
        parent           INTEGER,
        document         TEXT    NOT NULL,
        plan             TEXT    NOT NULL,
        confirm_deadline TEXT,
        error            TEXT
      );
      CREATE INDEX revisions_state ON revisions(state);
      CREATE TABLE tokens (
        name         TEXT PRIMARY KEY,
        role         TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        hash         TEXT NOT NULL UNIQUE,
        created_at   TEXT NOT NULL,
        last_used_at TEXT
      );
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'module state (keys, allocations)',
    sql: `
      CREATE TABLE module_state (
        module TEXT NOT NULL,
        key    TEXT NOT NULL,
        value  TEXT NOT NULL,
        PRIMARY KEY (module, key)
      );
    `,
  },
];
