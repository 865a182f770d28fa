/**
 * Helpers for test/audit/tamper.test.ts: an attacker's raw handle on audit.db (plain
 * sqlite3, triggers droppable), the real CLI run as a child process, and keyless hash
 * recomputation (leaf, tree nodes, chain) — everything an attacker without the signing
 * key can do.
 */
import { spawn } from "node:child_process";
import sqlite3 from "sqlite3";
import { leafHash, sha256, type VerifyReport } from "../../audit/index.js";
import { CompactRange } from "../../audit/merkle/compact-range.js";
import type { BlobRow, EntryRow } from "../../audit/store/log-store.js";
import { CLI_PATH } from "./paths.js";

export type SqlParam = string | number | Buffer | null;

/** The attacker writes rows in exactly the layout the store uses. */
export type EntryRowRaw = EntryRow;
export type BlobRowRaw = BlobRow;

/** The append-only triggers from audit/store/schema.ts, by table. */
export const TRIGGERS = {
  entries: ["entries_no_update", "entries_no_delete"],
  checkpoints: ["checkpoints_no_update", "checkpoints_no_delete"],
  meta: ["meta_no_update", "meta_no_delete"],
  blobs: ["blobs_no_update"],
} as const;

/** A promise face over a raw sqlite3 connection, as an attacker with file access would use. */
export class AttackerDb {
  private constructor(private readonly db: sqlite3.Database) {}

  static open(path: string): Promise<AttackerDb> {
    return new Promise((resolve, reject) => {
      const db = new sqlite3.Database(path, sqlite3.OPEN_READWRITE, (err) => (err ? reject(err) : resolve(new AttackerDb(db))));
    });
  }

  exec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.db.exec(sql, (err) => (err ? reject(err) : resolve())));
  }

  run(sql: string, params: SqlParam[] = []): Promise<number> {
    return new Promise((resolve, reject) =>
      this.db.run(sql, params, function (err) {
        if (err) reject(err);
        else resolve(this.changes);
      }),
    );
  }

  all<T>(sql: string, params: SqlParam[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.db.all(sql, params, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  }

  async dropTriggers(...names: string[]): Promise<void> {
    for (const name of names) await this.exec(`DROP TRIGGER IF EXISTS ${name}`);
  }

  entries(): Promise<EntryRowRaw[]> {
    return this.all<EntryRowRaw>("SELECT seq, bytes, nodes FROM entries ORDER BY seq");
  }

  async entry(seq: number): Promise<EntryRowRaw> {
    const [row] = await this.all<EntryRowRaw>("SELECT seq, bytes, nodes FROM entries WHERE seq = ?", [seq]);
    if (!row) throw new Error(`no entry row with seq ${seq}`);
    return row;
  }

  insertEntry(row: EntryRowRaw): Promise<number> {
    return this.run("INSERT INTO entries (seq, bytes, nodes) VALUES (?,?,?)", [row.seq, row.bytes, row.nodes]);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.db.close((err) => (err ? reject(err) : resolve())));
  }
}

/** Opens audit.db raw, runs the attack, and closes it (also when the attack throws). */
export async function tamperDb(path: string, attack: (db: AttackerDb) => Promise<void>): Promise<void> {
  const db = await AttackerDb.open(path);
  try {
    await attack(db);
  } finally {
    await db.close();
  }
}

/** Replaces `from` with `to` (same length) in canonical entry bytes; throws if absent. */
export function replaceInBytes(bytes: Buffer, from: string, to: string): Buffer {
  if (from.length !== to.length) throw new Error("replacement must keep the length");
  const text = bytes.toString("utf8");
  if (!text.includes(from)) throw new Error(`entry does not contain ${from}: ${text}`);
  const changed = Buffer.from(text.replace(from, to), "utf8");
  if (changed.length !== bytes.length || changed.equals(bytes)) throw new Error("replacement did not change one value in place");
  return changed;
}

/**
 * Keyless recomputation of what the log stores beside each entry: for entry bytes in log
 * order, the tree nodes each leaf completes (leaf first) and the running chain hash.
 */
export function recomputeHashes(entryBytes: Buffer[]): { nodes: Buffer; chain: Buffer }[] {
  const range = new CompactRange();
  let chain: Buffer = Buffer.alloc(32);
  return entryBytes.map((bytes) => {
    const leaf = leafHash(bytes);
    const nodes = Buffer.concat(range.append(leaf).map((node) => node.hash));
    chain = sha256(chain, leaf);
    return { nodes, chain };
  });
}

/** Root of the Merkle tree over these entries, recomputed without any key. */
export function treeRoot(entryBytes: Buffer[]): Buffer {
  const range = new CompactRange();
  for (const bytes of entryBytes) range.append(leafHash(bytes));
  return range.root();
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the compiled CLI (`dist/runtime/cli/main.js`) as a child process. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI and insists it succeeded; returns its stdout. */
export async function runCliOk(args: string[]): Promise<string> {
  const result = await runCli(args);
  if (result.code !== 0) {
    throw new Error(`skillgate ${args.join(" ")} exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result.stdout;
}

export interface VerifyRun {
  code: number | null;
  report: VerifyReport;
  stderr: string;
}

/**
 * `skillgate --home <home> --json audit verify [exportDir] [--vkey <vkeyFile>] [--checkpoint <file>]`,
 * with stdout parsed as the VerifyReport.
 */
export async function verifyWithCli(
  home: string,
  options: { vkeyFile?: string; checkpointFile?: string; exportDir?: string },
): Promise<VerifyRun> {
  const args = ["--home", home, "--json", "audit", "verify"];
  if (options.exportDir) args.push(options.exportDir);
  if (options.vkeyFile) args.push("--vkey", options.vkeyFile);
  if (options.checkpointFile) args.push("--checkpoint", options.checkpointFile);
  const { code, stdout, stderr } = await runCli(args);
  let report: VerifyReport;
  try {
    report = JSON.parse(stdout) as VerifyReport;
  } catch {
    throw new Error(`audit verify printed no JSON report (exit ${code})\nstdout: ${stdout}\nstderr: ${stderr}`);
  }
  if (typeof report.ok !== "boolean") throw new Error(`audit verify printed something other than a report: ${stdout}`);
  return { code, report, stderr };
}
