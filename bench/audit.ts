import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type AppendInput, AuditLog, generateNoteKey } from "../audit/index.js";
import { Sqlite } from "../audit/store/sqlite.js";
import { printTable, type Row } from "./report.js";

function sampleInput(i: number): AppendInput {
  return {
    session: `agent:bench:group:${i % 64}`,
    actor: "broker",
    kind: "touched",
    type: "net.fetch",
    data: { host: "api.example.com", method: "GET", path: `/v1/items/${i}`, status: 200, bytes: 1024 + (i % 512) },
  };
}

/** Appends with `concurrency` callers in flight, as a busy gateway would. */
async function appendMany(log: AuditLog, count: number, concurrency: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await log.append(sampleInput(i));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return performance.now() - start;
}

/** The same entry bytes inserted with the same driver, pragmas and batch sizes, no hashing. */
async function rawInserts(path: string, rows: Buffer[], batch: number): Promise<number> {
  const db = await Sqlite.open(path);
  await db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (seq INTEGER PRIMARY KEY, bytes BLOB NOT NULL) STRICT;");
  const start = performance.now();
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    await db.exec("BEGIN IMMEDIATE");
    for (let j = 0; j < chunk.length; j += 500) {
      const part = chunk.slice(j, j + 500);
      const params = part.flatMap((bytes, k) => [i + j + k, bytes]);
      await db.run(`INSERT INTO t (seq, bytes) VALUES ${part.map(() => "(?,?)").join(",")}`, params);
    }
    await db.exec("COMMIT");
  }
  const ms = performance.now() - start;
  await db.close();
  return ms;
}

export async function benchAudit(options: { quick: boolean }): Promise<Row[]> {
  const count = options.quick ? 5_000 : 200_000;
  const concurrency = options.quick ? 256 : 4096;
  const dir = mkdtempSync(join(tmpdir(), "sg-bench-audit-"));
  try {
    const log = await AuditLog.open({ path: join(dir, "audit.db"), signer: generateNoteKey("bench.local/audit") });
    const appendMs = await appendMany(log, count, concurrency);
    const entries: Buffer[] = [];
    for (let seq = 0; seq < log.size; seq++) {
      const stored = await log.entry(seq);
      if (stored) entries.push(stored.bytes);
    }
    const verifyStart = performance.now();
    const report = await log.verify();
    const verifyMs = performance.now() - verifyStart;
    if (!report.ok) throw new Error(`bench log failed verification: ${report.failure?.message}`);
    await log.close();

    const batch = Math.max(1, Math.round(count / Math.ceil(count / concurrency)));
    const rawMs = await rawInserts(join(dir, "raw.db"), entries, batch);
    const hashStart = performance.now();
    for (const bytes of entries) createHash("sha256").update(bytes).digest();
    const hashMs = performance.now() - hashStart;

    const perSecond = (n: number, ms: number) => (n / ms) * 1000;
    return [
      {
        what: `durable appends (${concurrency} concurrent callers)`,
        ours: perSecond(count, appendMs),
        baseline: perSecond(entries.length, rawMs),
        unit: "entries/s",
        baselineName: `raw SQLite inserts, ${batch}/txn`,
        target: 0.5,
        floor: 50_000,
      },
      {
        what: "verify whole log",
        ours: perSecond(entries.length, verifyMs),
        baseline: perSecond(entries.length, hashMs),
        unit: "entries/s",
        baselineName: "raw SHA-256 of the entry bytes",
        target: 0.5,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  printTable(`Audit log (${quick ? "quick" : "full"})`, await benchAudit({ quick }));
}
