/**
 * An in-memory SQLite database on each runtime's own driver: `bun:sqlite` on Bun, `node:sqlite`
 * on Node 24 and Deno. Only what the tests use: run a script, and read rows with parameters.
 */

/** A value a statement's `?` takes. */
export type SqlValue = number | string | null;

/** An open in-memory database. */
export interface MemoryDatabase {
  /** Runs statements that return nothing (the schema, the rows). */
  exec(sql: string): void;
  /** The rows one query returns, each as an object keyed by column. */
  all(sql: string, ...params: SqlValue[]): Record<string, SqlValue>[];
  close(): void;
}

/** Opens a fresh in-memory database. */
export async function openMemoryDatabase(): Promise<MemoryDatabase> {
  if ("Bun" in globalThis) {
    // A computed specifier: `deno check` must not try to resolve Bun's own module.
    const specifier = "bun:sqlite";
    const { Database } = await import(specifier);
    const db = new Database(":memory:");
    return {
      exec: (sql) => db.exec(sql),
      all: (sql, ...params) => db.query(sql).all(...params),
      close: () => db.close(),
    };
  }
  const { DatabaseSync } = await import("node:sqlite");
  const db = new DatabaseSync(":memory:");
  return {
    exec: (sql) => db.exec(sql),
    all: (sql, ...params) => db.prepare(sql).all(...params) as Record<string, SqlValue>[],
    close: () => db.close(),
  };
}
