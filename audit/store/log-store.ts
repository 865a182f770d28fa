import { AUDIT_SCHEMA, ROWS_PER_STATEMENT } from "./schema.js";
import { type SqlValue, Sqlite, WriteQueue } from "./sqlite.js";

export interface EntryRow {
  seq: number;
  bytes: Buffer;
  nodes: Buffer;
}

const ENTRY_COLUMNS = "seq, bytes, nodes";

export interface BlobRow {
  sha256: string;
  type: string;
  size: number;
  content: Buffer;
}

export interface CheckpointRow {
  size: number;
  note: string;
  created_at: string;
}

/** Writes inside an open transaction (same connection, so it sees its own rows). */
export interface LogWriteTx {
  insert(entries: EntryRow[], blobs: BlobRow[]): Promise<void>;
  nodeRows(seqs: number[]): Promise<Map<number, Buffer>>;
}

async function insertRows(db: Sqlite, entries: EntryRow[], blobs: BlobRow[]): Promise<void> {
  for (let i = 0; i < entries.length; i += ROWS_PER_STATEMENT) {
    const chunk = entries.slice(i, i + ROWS_PER_STATEMENT);
    const params: SqlValue[] = [];
    for (const e of chunk) params.push(e.seq, e.bytes, e.nodes);
    const values = chunk.map(() => "(?,?,?)").join(",");
    await db.run(`INSERT INTO entries (${ENTRY_COLUMNS}) VALUES ${values}`, params);
  }
  for (const b of blobs) {
    await db.run("INSERT OR IGNORE INTO blobs (sha256, type, size, content) VALUES (?,?,?,?)", [b.sha256, b.type, b.size, b.content]);
  }
}

/** Lowest seq we scan from: below any row an attacker could plausibly insert. */
const SCAN_START = -9e18;

/** All SQL the audit log runs, in one place. */
export class LogStore {
  private readonly writes: WriteQueue;

  private constructor(
    readonly db: Sqlite,
    readonly path: string,
  ) {
    this.writes = new WriteQueue(db);
  }

  static async open(path: string, options: { readonly?: boolean } = {}): Promise<LogStore> {
    const db = await Sqlite.open(path, options);
    if (!options.readonly) await db.exec(AUDIT_SCHEMA);
    return new LogStore(db, path);
  }

  async meta(key: string): Promise<string | undefined> {
    const row = await this.db.get<{ value: string }>("SELECT value FROM meta WHERE key = ?", [key]);
    return row?.value;
  }

  setMeta(values: Record<string, string>): Promise<void> {
    return this.writes.transaction(async (db) => {
      for (const [key, value] of Object.entries(values)) {
        await db.run("INSERT INTO meta (key, value) VALUES (?, ?)", [key, value]);
      }
    });
  }

  /** One durable transaction in which entries can be inserted chunk by chunk. */
  transaction<T>(work: (tx: LogWriteTx) => Promise<T>): Promise<T> {
    return this.writes.transaction((db) =>
      work({ insert: (entries, blobs) => insertRows(db, entries, blobs), nodeRows: (seqs) => this.nodeRows(seqs) }),
    );
  }

  insertCheckpoint(size: number, note: string, createdAt: string): Promise<void> {
    return this.writes.transaction(async (db) => {
      await db.run("INSERT OR IGNORE INTO checkpoints (size, note, created_at) VALUES (?,?,?)", [size, note, createdAt]);
    });
  }

  deleteBlob(sha256: string): Promise<boolean> {
    return this.writes.transaction(async (db) => {
      const { changes } = await db.run("DELETE FROM blobs WHERE sha256 = ?", [sha256]);
      return changes > 0;
    });
  }

  lastEntry(): Promise<EntryRow | undefined> {
    return this.db.get<EntryRow & Record<string, SqlValue>>(`SELECT ${ENTRY_COLUMNS} FROM entries ORDER BY seq DESC LIMIT 1`);
  }

  /** Rows by seq; the caller slices node hashes out of `nodes`. */
  async nodeRows(seqs: number[]): Promise<Map<number, Buffer>> {
    const found = new Map<number, Buffer>();
    for (let i = 0; i < seqs.length; i += ROWS_PER_STATEMENT) {
      const chunk = seqs.slice(i, i + ROWS_PER_STATEMENT);
      const rows = await this.db.all<{ seq: number; nodes: Buffer }>(
        `SELECT seq, nodes FROM entries WHERE seq IN (${chunk.map(() => "?").join(",")})`,
        chunk,
      );
      for (const row of rows) found.set(row.seq, row.nodes);
    }
    return found;
  }

  entry(seq: number): Promise<EntryRow | undefined> {
    return this.db.get<EntryRow & Record<string, SqlValue>>(`SELECT ${ENTRY_COLUMNS} FROM entries WHERE seq = ?`, [seq]);
  }

  /** Every stored row in storage order, a page at a time so memory stays flat on big logs. */
  async *scan(pageSize = 5000): AsyncGenerator<EntryRow[]> {
    let after = SCAN_START;
    for (;;) {
      const rows = await this.db.all<EntryRow & Record<string, SqlValue>>(
        `SELECT ${ENTRY_COLUMNS} FROM entries WHERE seq > ? ORDER BY seq LIMIT ?`,
        [after, pageSize],
      );
      if (rows.length > 0) yield rows;
      if (rows.length < pageSize) return;
      after = (rows[rows.length - 1] as EntryRow).seq;
    }
  }

  /** Row count and seq bounds: the rows are exactly seq 0..count-1 when min is 0 and max is count-1. */
  async seqBounds(): Promise<{ count: number; min: number | null; max: number | null }> {
    const row = await this.db.get<{ count: number; min: number | null; max: number | null }>(
      "SELECT count(*) AS count, min(seq) AS min, max(seq) AS max FROM entries",
    );
    return row ?? { count: 0, min: null, max: null };
  }

  /** Rows with from <= seq < to, in seq order. */
  range(from: number, to: number): Promise<EntryRow[]> {
    return this.db.all<EntryRow & Record<string, SqlValue>>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE seq >= ? AND seq < ? ORDER BY seq`,
      [from, to],
    );
  }

  query(filter: { session?: string; kind?: string; fromSeq?: number; limit: number }): Promise<EntryRow[]> {
    const where: string[] = ["seq >= ?"];
    const params: SqlValue[] = [filter.fromSeq ?? 0];
    if (filter.session !== undefined) {
      where.push("session = ?");
      params.push(filter.session);
    }
    if (filter.kind !== undefined) {
      where.push("kind = ?");
      params.push(filter.kind);
    }
    params.push(filter.limit);
    return this.db.all<EntryRow & Record<string, SqlValue>>(
      `SELECT ${ENTRY_COLUMNS} FROM entries WHERE ${where.join(" AND ")} ORDER BY seq LIMIT ?`,
      params,
    );
  }

  blob(sha256: string): Promise<BlobRow | undefined> {
    return this.db.get<BlobRow & Record<string, SqlValue>>("SELECT * FROM blobs WHERE sha256 = ?", [sha256]);
  }

  checkpoints(): Promise<CheckpointRow[]> {
    return this.db.all<CheckpointRow & Record<string, SqlValue>>("SELECT * FROM checkpoints ORDER BY size");
  }

  latestCheckpoint(): Promise<CheckpointRow | undefined> {
    return this.db.get<CheckpointRow & Record<string, SqlValue>>("SELECT * FROM checkpoints ORDER BY size DESC LIMIT 1");
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
