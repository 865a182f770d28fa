import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type AppendInput, AuditLog, generateNoteKey } from "../audit/index.js";
import { CompactRange } from "../audit/merkle/compact-range.js";
import { leafHash, sha256 } from "../audit/merkle/hash.js";
import { LogStore } from "../audit/store/log-store.js";
import { type SqlValue, Sqlite } from "../audit/store/sqlite.js";
import { type Area, figure } from "./figure.js";
import { repeat } from "./measure.js";

function sampleInput(i: number, session = `agent:bench:group:${i % 64}`): AppendInput {
  return {
    session,
    actor: "broker",
    kind: "touched",
    type: "net.fetch",
    data: { host: "api.example.com", method: "GET", path: `/v1/items/${i}`, status: 200, bytes: 1024 + (i % 512) },
  };
}

/** Appends `count` entries with `concurrency` callers in flight, as a busy gateway would; returns ms. */
export async function appendMany(log: AuditLog, count: number, concurrency: number, session?: (caller: number) => string): Promise<number> {
  let next = 0;
  const start = performance.now();
  const caller = async (c: number) => {
    while (next < count) {
      const i = next++;
      await log.append(sampleInput(i, session?.(c)));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, c) => caller(c)));
  return performance.now() - start;
}

/**
 * Inserts rows in the given batches per transaction and 500 per statement, with the
 * log's pragmas; `values` runs inside the timing, so per-row work is measured; returns ms.
 */
async function batchedInserts(path: string, rows: Buffer[], batch: number, columns: string[], values: (bytes: Buffer) => SqlValue[]): Promise<number> {
  const db = await Sqlite.open(path);
  const declared = columns.map((c) => `, ${c} BLOB NOT NULL`).join("");
  await db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (seq INTEGER PRIMARY KEY${declared}) STRICT;`);
  const tuple = `(${["?", ...columns.map(() => "?")].join(",")})`;
  const start = performance.now();
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    await db.exec("BEGIN IMMEDIATE");
    for (let j = 0; j < chunk.length; j += 500) {
      const part = chunk.slice(j, j + 500);
      const params = part.flatMap((bytes, k) => [i + j + k, ...values(bytes)]);
      await db.run(`INSERT INTO t (seq, ${columns.join(", ")}) VALUES ${part.map(() => tuple).join(",")}`, params);
    }
    await db.exec("COMMIT");
  }
  const ms = performance.now() - start;
  await db.close();
  return ms;
}

/** The same entry bytes inserted with the same driver, pragmas and batch sizes, no hashing; returns ms. */
export function rawInserts(path: string, rows: Buffer[], batch: number): Promise<number> {
  return batchedInserts(path, rows, batch, ["bytes"], (bytes) => [bytes]);
}

/**
 * The least any append of this format can cost: the three SHA-256 calls per entry (leaf,
 * chain link, tree node on average) and the insert of the bytes with the nodes they
 * complete, in the same batches, with no validation, encoding or acknowledgement; returns ms.
 */
export function appendFloor(path: string, rows: Buffer[], batch: number): Promise<number> {
  const range = new CompactRange();
  let chain: Buffer = Buffer.alloc(32);
  return batchedInserts(path, rows, batch, ["bytes", "nodes"], (bytes) => {
    const leaf = leafHash(bytes);
    chain = sha256(chain, leaf);
    return [bytes, Buffer.concat(range.append(leaf).map((n) => n.hash))];
  });
}

/** The least a verification of this format can cost on one thread: read every row back, three SHA-256 per entry; returns ms. */
export async function verifyFloor(path: string): Promise<{ ms: number; count: number }> {
  const store = await LogStore.open(path, { readonly: true });
  const range = new CompactRange();
  let chain: Buffer = Buffer.alloc(32);
  let count = 0;
  const start = performance.now();
  for await (const rows of store.scan()) {
    for (const row of rows) {
      const leaf = leafHash(row.bytes);
      chain = sha256(chain, leaf);
      range.append(leaf);
    }
    count += rows.length;
  }
  const ms = performance.now() - start;
  await store.close();
  return { ms, count };
}

export async function entryBytes(log: AuditLog): Promise<Buffer[]> {
  const entries: Buffer[] = [];
  for (let seq = 0; seq < log.size; seq++) {
    const stored = await log.entry(seq);
    if (stored) entries.push(stored.bytes);
  }
  return entries;
}

const perSecond = (n: number, ms: number) => (n / ms) * 1000;

interface AuditRun {
  append: number;
  raw: number;
  verify: number;
  hash: number;
  appendFloor: number;
  verifyFloor: number;
  batch: number;
}

async function oneRun(count: number, concurrency: number): Promise<AuditRun> {
  const dir = mkdtempSync(join(tmpdir(), "sg-bench-audit-"));
  try {
    const log = await AuditLog.open({ path: join(dir, "audit.db"), signer: generateNoteKey("bench.local/audit") });
    const appendMs = await appendMany(log, count, concurrency);
    const entries = await entryBytes(log);
    const verifyStart = performance.now();
    const report = await log.verify();
    const verifyMs = performance.now() - verifyStart;
    if (!report.ok) throw new Error(`bench log failed verification: ${report.failure?.message}`);
    await log.close();
    const floorRead = await verifyFloor(join(dir, "audit.db"));

    // Group commit can batch at most as many entries as there are callers in flight.
    const batch = Math.max(1, Math.round(count / Math.ceil(count / concurrency)));
    const rawMs = await rawInserts(join(dir, "raw.db"), entries, batch);
    const hashStart = performance.now();
    for (const bytes of entries) createHash("sha256").update(bytes).digest();
    const hashMs = performance.now() - hashStart;
    const floorMs = await appendFloor(join(dir, "floor.db"), entries, batch);
    return {
      append: perSecond(count, appendMs),
      raw: perSecond(entries.length, rawMs),
      verify: perSecond(entries.length, verifyMs),
      hash: perSecond(entries.length, hashMs),
      appendFloor: perSecond(entries.length, floorMs),
      verifyFloor: perSecond(floorRead.count, floorRead.ms),
      batch,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchAudit(options: { quick: boolean }): Promise<Area> {
  const count = options.quick ? 3_000 : 100_000;
  const concurrency = options.quick ? 256 : 4096;
  const runs = await repeat(options.quick ? 2 : 3, () => oneRun(count, concurrency));
  const each = (key: keyof AuditRun) => runs.map((r) => [r[key]]);
  return {
    title: "Audit log",
    command: `npm run bench -- --only audit${options.quick ? " --quick" : ""}`,
    figures: [
      figure({
        what: `durable appends, ${count.toLocaleString("en-US")} entries from ${concurrency.toLocaleString("en-US")} concurrent callers`,
        unit: "entries/s",
        better: "higher",
        ours: each("append"),
        baseline: each("raw"),
        baselineName: `raw SQLite inserts of the same bytes, ${runs[0]?.batch.toLocaleString("en-US")}/txn, same pragmas`,
        target: { ratio: 0.5, value: 50_000 },
      }),
      figure({
        what: "verify the whole log (chain, Merkle root, checkpoints)",
        unit: "entries/s",
        better: "higher",
        ours: each("verify"),
        baseline: each("hash"),
        baselineName: "raw SHA-256 of the same entry bytes",
        target: { ratio: 0.5 },
      }),
      figure({
        what: "format floor for appends: 3 SHA-256 per entry + insert of bytes and nodes, nothing else",
        unit: "entries/s",
        better: "higher",
        ours: each("appendFloor"),
        baseline: each("raw"),
        baselineName: "raw SQLite inserts of the same bytes",
      }),
      figure({
        what: "format floor for verify: read every row back + 3 SHA-256 per entry, one thread",
        unit: "entries/s",
        better: "higher",
        ours: each("verifyFloor"),
        baseline: each("hash"),
        baselineName: "raw SHA-256 of the same entry bytes",
      }),
    ],
    notes: [
      "The two floor rows are what this log format costs before any of our code runs: every entry needs a leaf hash, a chain link and (on average) one tree node, and its row written or read. A target ratio above the floor's own ratio cannot be met by the implementation, only by changing the format or the storage.",
      `Verify runs on ${availableParallelism()} worker threads once the log holds more than two chunks of 16,384 entries; the floor row is one thread.`,
    ],
  };
}
