import { type SqlValue, Sqlite, WriteQueue } from "../../audit/index.js";

const SCHEMA = `
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS sessions (key TEXT PRIMARY KEY, agent TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS messages (
  session TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (session, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS turns (
  id TEXT PRIMARY KEY, session TEXT NOT NULL, state TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT, error TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS turns_by_state ON turns (state);
CREATE TABLE IF NOT EXISTS tool_calls (
  turn TEXT NOT NULL, idx INTEGER NOT NULL, tool TEXT NOT NULL, args TEXT NOT NULL, status TEXT NOT NULL, result TEXT,
  PRIMARY KEY (turn, idx)
) STRICT;
CREATE TABLE IF NOT EXISTS session_state (
  session TEXT PRIMARY KEY, tainted_by TEXT, tool_calls INTEGER NOT NULL DEFAULT 0, egress_bytes INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS secrets (
  ref TEXT PRIMARY KEY, version INTEGER NOT NULL, nonce BLOB NOT NULL, sealed BLOB NOT NULL, binding TEXT NOT NULL,
  created_at TEXT NOT NULL, updated_at TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS vault (name TEXT PRIMARY KEY, nonce BLOB NOT NULL, sealed BLOB NOT NULL) STRICT;
`;

export type TurnState = "queued" | "running" | "waiting-approval" | "done" | "failed" | "cancelled";
export type ToolCallStatus = "running" | "done" | "failed" | "denied";

/** A message as the model sees it (OpenAI-style roles), stored as JSON. */
export interface StoredMessage {
  role: "user" | "assistant" | "tool";
  content: string;
  toolCalls?: { id: string; name: string; arguments: string }[];
  toolCallId?: string;
}

/** A secret as stored: sealed with AES-256-GCM; `binding` is the operator's JSON binding. */
export type SecretRow = {
  ref: string;
  version: number;
  nonce: Buffer;
  sealed: Buffer;
  binding: string;
  created_at: string;
  updated_at: string;
};

/** What the policy needs to know about a session beyond its transcript. */
export interface SessionState {
  /** Why the session is tainted (its first untrusted input), or null. */
  taintedBy: string | null;
  toolCalls: number;
  egressBytes: number;
}

export interface InterruptedTurn {
  id: string;
  session: string;
  completed: { tool: string; status: string }[];
}

/** The gateway's own state (sessions, transcripts, turns), written by the gateway alone. */
export class StateDb {
  private readonly writes: WriteQueue;

  private constructor(private readonly db: Sqlite) {
    this.writes = new WriteQueue(db);
  }

  static async open(path: string): Promise<StateDb> {
    const db = await Sqlite.open(path);
    await db.exec(SCHEMA);
    return new StateDb(db);
  }

  private write(sql: string, params: SqlValue[]): Promise<void> {
    return this.writes.transaction(async (db) => {
      await db.run(sql, params);
    });
  }

  async touchSession(key: string, agent: string, now: string): Promise<void> {
    await this.write(
      "INSERT INTO sessions (key, agent, created_at, updated_at) VALUES (?,?,?,?) ON CONFLICT(key) DO UPDATE SET updated_at = excluded.updated_at",
      [key, agent, now, now],
    );
  }

  async sessions(): Promise<{ key: string; agent: string; updated_at: string }[]> {
    return this.db.all("SELECT key, agent, updated_at FROM sessions ORDER BY updated_at DESC");
  }

  async appendMessage(session: string, message: StoredMessage, now: string): Promise<void> {
    await this.writes.transaction(async (db) => {
      const row = await db.get<{ next: number }>("SELECT COALESCE(MAX(seq) + 1, 0) AS next FROM messages WHERE session = ?", [session]);
      await db.run("INSERT INTO messages (session, seq, role, content, at) VALUES (?,?,?,?,?)", [session, row?.next ?? 0, message.role, JSON.stringify(message), now]);
    });
  }

  /** The newest `limit` messages, oldest first. */
  async messages(session: string, limit = 200): Promise<StoredMessage[]> {
    const rows = await this.db.all<{ content: string }>("SELECT content FROM (SELECT seq, content FROM messages WHERE session = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq", [session, limit]);
    return rows.map((r) => JSON.parse(r.content) as StoredMessage);
  }

  startTurn(id: string, session: string, now: string): Promise<void> {
    return this.write("INSERT INTO turns (id, session, state, started_at) VALUES (?,?,?,?)", [id, session, "running", now]);
  }

  /** A state change mid-turn (running ⇄ waiting-approval). */
  setTurnState(id: string, state: TurnState): Promise<void> {
    return this.write("UPDATE turns SET state = ? WHERE id = ?", [state, id]);
  }

  finishTurn(id: string, state: TurnState, now: string, error?: string): Promise<void> {
    return this.write("UPDATE turns SET state = ?, finished_at = ?, error = ? WHERE id = ?", [state, now, error ?? null, id]);
  }

  recordToolCall(turn: string, idx: number, tool: string, args: string, status: ToolCallStatus, result?: string): Promise<void> {
    return this.write(
      "INSERT INTO tool_calls (turn, idx, tool, args, status, result) VALUES (?,?,?,?,?,?) ON CONFLICT(turn, idx) DO UPDATE SET status = excluded.status, result = excluded.result",
      [turn, idx, tool, args, status, result ?? null],
    );
  }

  async turn(id: string): Promise<{ state: string; error: string | null; calls: { tool: string; status: string }[] } | undefined> {
    const row = await this.db.get<{ state: string; error: string | null }>("SELECT state, error FROM turns WHERE id = ?", [id]);
    if (!row) return undefined;
    const calls = await this.db.all<{ tool: string; status: string }>("SELECT tool, status FROM tool_calls WHERE turn = ? ORDER BY idx", [id]);
    return { ...row, calls };
  }

  /**
   * After a crash or restart: every turn that was still in flight is marked failed, with
   * the effects it completed listed. It is never silently re-run.
   */
  async failInterruptedTurns(now: string): Promise<InterruptedTurn[]> {
    const open = await this.db.all<{ id: string; session: string }>("SELECT id, session FROM turns WHERE state IN ('queued','running','waiting-approval')");
    const result: InterruptedTurn[] = [];
    for (const t of open) {
      const completed = await this.db.all<{ tool: string; status: string }>("SELECT tool, status FROM tool_calls WHERE turn = ? ORDER BY idx", [t.id]);
      const summary = completed.map((c) => `${c.tool}:${c.status}`).join(", ") || "no tool calls";
      await this.finishTurn(t.id, "failed", now, `interrupted by a gateway restart; tool calls: ${summary}`);
      result.push({ ...t, completed });
    }
    return result;
  }

  async sessionState(session: string): Promise<SessionState> {
    const row = await this.db.get<{ tainted_by: string | null; tool_calls: number; egress_bytes: number }>(
      "SELECT tainted_by, tool_calls, egress_bytes FROM session_state WHERE session = ?",
      [session],
    );
    return { taintedBy: row?.tainted_by ?? null, toolCalls: row?.tool_calls ?? 0, egressBytes: row?.egress_bytes ?? 0 };
  }

  /** Marks the session as having taken in untrusted content; the first reason is kept. */
  taint(session: string, reason: string): Promise<void> {
    return this.write(
      "INSERT INTO session_state (session, tainted_by) VALUES (?, ?) ON CONFLICT(session) DO UPDATE SET tainted_by = COALESCE(tainted_by, excluded.tainted_by)",
      [session, reason.slice(0, 256)],
    );
  }

  countUsage(session: string, usage: { toolCalls?: number; egressBytes?: number }): Promise<void> {
    const calls = usage.toolCalls ?? 0;
    const bytes = usage.egressBytes ?? 0;
    return this.write(
      "INSERT INTO session_state (session, tool_calls, egress_bytes) VALUES (?, ?, ?) ON CONFLICT(session) DO UPDATE SET tool_calls = tool_calls + excluded.tool_calls, egress_bytes = egress_bytes + excluded.egress_bytes",
      [session, calls, bytes],
    );
  }

  secret(ref: string): Promise<SecretRow | undefined> {
    return this.db.get<SecretRow>("SELECT * FROM secrets WHERE ref = ?", [ref]);
  }

  secrets(): Promise<SecretRow[]> {
    return this.db.all<SecretRow>("SELECT * FROM secrets ORDER BY ref");
  }

  putSecret(row: SecretRow): Promise<void> {
    return this.write(
      "INSERT INTO secrets (ref, version, nonce, sealed, binding, created_at, updated_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT(ref) DO UPDATE SET version = excluded.version, nonce = excluded.nonce, sealed = excluded.sealed, binding = excluded.binding, updated_at = excluded.updated_at",
      [row.ref, row.version, row.nonce, row.sealed, row.binding, row.created_at, row.updated_at],
    );
  }

  async deleteSecret(ref: string): Promise<boolean> {
    const existed = (await this.secret(ref)) !== undefined;
    await this.write("DELETE FROM secrets WHERE ref = ?", [ref]);
    return existed;
  }

  vaultCheck(): Promise<{ nonce: Buffer; sealed: Buffer } | undefined> {
    return this.db.get("SELECT nonce, sealed FROM vault WHERE name = 'check'");
  }

  setVaultCheck(nonce: Buffer, sealed: Buffer): Promise<void> {
    return this.write("INSERT OR IGNORE INTO vault (name, nonce, sealed) VALUES ('check', ?, ?)", [nonce, sealed]);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
