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

  close(): Promise<void> {
    return this.db.close();
  }
}
