import { closeSync, openSync } from "node:fs";
import sqlite3 from "sqlite3";

export type SqlValue = string | number | bigint | Buffer | null;
export type Row = Record<string, SqlValue>;

/** A minimal promise face over one sqlite3 connection. */
export class Sqlite {
  private constructor(private readonly db: sqlite3.Database) {}

  /**
   * Opens (or creates, mode 0600) a database. SQLite gives its -wal and -shm files the
   * main file's permissions, so creating the file ourselves first is what keeps all
   * three private.
   */
  static async open(path: string, options: { readonly?: boolean } = {}): Promise<Sqlite> {
    if (!options.readonly) closeSync(openSync(path, "a", 0o600));
    const mode = options.readonly ? sqlite3.OPEN_READONLY : sqlite3.OPEN_READWRITE;
    const db = await new Promise<sqlite3.Database>((resolve, reject) => {
      const handle = new sqlite3.Database(path, mode, (err) => (err ? reject(err) : resolve(handle)));
    });
    db.configure("busyTimeout", 5000);
    return new Sqlite(db);
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  run(sql: string, params: SqlValue[] = []): Promise<{ changes: number }> {
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function (err) {
        if (err) reject(err);
        else resolve({ changes: this.changes });
      }),
    );
  }

  all<T extends Row = Row>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return new Promise((resolve, reject) =>
      this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[]))),
    );
  }

  async get<T extends Row = Row>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    const rows = await this.all<T>(sql, params);
    return rows[0];
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}

/** Serialises async write transactions on one connection. */
export class WriteQueue {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: Sqlite) {}

  transaction<T>(work: (db: Sqlite) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      await this.db.exec("BEGIN IMMEDIATE");
      try {
        const result = await work(this.db);
        await this.db.exec("COMMIT");
        return result;
      } catch (err) {
        await this.db.exec("ROLLBACK").catch(() => undefined);
        throw err;
      }
    };
    const next = this.tail.then(run, run);
    this.tail = next.catch(() => undefined);
    return next;
  }
}
