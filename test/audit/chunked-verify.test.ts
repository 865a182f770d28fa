/**
 * The chunked (worker-thread) verification walk against the sequential one, on real
 * SQLite files: on a clean log both must report exactly the same thing, and on a
 * tampered one the chunked walk must decline (never accept) so the sequential
 * classifier names the failure.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { AuditLog, type AuditEntry, canonicalJson, decodeEntry, generateNoteKey, type NoteSignerKey, verifyLog } from "../../audit/index.js";
import { leafHash, sha256 } from "../../audit/merkle/hash.js";
import { LogStore } from "../../audit/store/log-store.js";
import { walkInChunks } from "../../audit/verify/chunked-walk.js";
import { DatabaseSource } from "../../audit/verify/db-source.js";
import { recomputeHashes, replaceInBytes, tamperDb, TRIGGERS } from "../support/tamper-helpers.js";

const SEQUENTIAL = { workers: 0 };
const CHUNKED = { workers: 2, chunkLevel: 3 };

interface Built {
  path: string;
  signer: NoteSignerKey;
  notes: string[];
}

/** A log of `size` entries with blobs, a redaction and checkpoints at awkward sizes. */
async function buildLog(dir: string, size: number, checkpointAt: number[]): Promise<Built> {
  const signer = generateNoteKey("test.local/chunked");
  const path = join(dir, `audit-${size}.db`);
  const log = await AuditLog.open({ path, signer });
  const notes: string[] = [];
  let redactable = "";
  while (log.size < size) {
    const i = log.size;
    if (i % 11 === 5) {
      const appended = await log.append({ actor: "tool", kind: "saw", type: "tool.result", blobs: [{ content: `result ${i}`, type: "text/plain" }] });
      const entry = await log.entry(appended.seq);
      redactable = redactable || (entry?.entry.blobs[0]?.sha256 ?? "");
    } else if (i === Math.floor(size / 2) && redactable) {
      await log.redact(redactable, "personal data", "operator");
    } else {
      await log.append({ session: `s${i % 3}`, actor: "agent", kind: "decided", type: "tool.call", data: { i, note: `n${i}` } });
    }
    if (checkpointAt.includes(log.size)) notes.push((await log.checkpoint()).note);
  }
  await log.close();
  return { path, signer, notes };
}

async function verifyPath(built: Built, options: { workers: number; chunkLevel?: number }, trusted: string[] = []) {
  const store = await LogStore.open(built.path, { readonly: true });
  try {
    const source = new DatabaseSource(store, built.signer.name, built.signer.vkey);
    return await verifyLog(source, { key: built.signer, keyPinned: true, trustedCheckpoints: trusted, ...options });
  } finally {
    await store.close();
  }
}

async function chunkedState(path: string, signer: NoteSignerKey) {
  const store = await LogStore.open(path, { readonly: true });
  try {
    return await walkInChunks(new DatabaseSource(store, signer.name, signer.vkey), new Map(), new Map(), CHUNKED);
  } finally {
    await store.close();
  }
}

describe("chunked verification", () => {
  let dir = "";
  let built: Built;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "sg-chunked-"));
    built = await buildLog(dir, 70, [7, 8, 16, 17, 40, 64]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("runs on worker threads and reports exactly what the sequential walk reports", async () => {
    const state = await chunkedState(built.path, built.signer);
    assert.ok(state, "the chunked walk declined a clean log");
    const sequential = await verifyPath(built, SEQUENTIAL, built.notes.slice(0, 2));
    const chunked = await verifyPath(built, CHUNKED, built.notes.slice(0, 2));
    assert.equal(sequential.ok, true, JSON.stringify(sequential.failure));
    assert.equal(state.range.root().toString("hex"), sequential.rootHex);
    assert.deepEqual(chunked, sequential);
    assert.equal(chunked.redacted.length, 1);
    assert.ok(chunked.checkpointsVerified >= built.notes.length);
    assert.equal(chunked.trustedCheckpointsVerified, 2);
  });

  it("agrees with the sequential walk for any size, chunk level and checkpoint sizes", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 9, max: 90 }),
        fc.integer({ min: 0, max: 4 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 90 }), { maxLength: 5 }),
        async (size, chunkLevel, at) => {
          const one = mkdtempSync(join(dir, "p-"));
          const log = await buildLog(one, size, at);
          const sequential = await verifyPath(log, SEQUENTIAL, log.notes);
          const chunked = await verifyPath(log, { workers: 2, chunkLevel }, log.notes);
          assert.deepEqual(chunked, sequential);
          assert.equal(chunked.ok, true);
        },
      ),
      { numRuns: 8 },
    );
  });

  /** Copies the clean log, attacks the copy, and checks both walks on it. */
  async function attacked(name: string, attack: Parameters<typeof tamperDb>[1]) {
    const path = join(dir, `${name}.db`);
    copyFileSync(built.path, path);
    await tamperDb(path, async (db) => {
      await db.dropTriggers(...TRIGGERS.entries);
      await attack(db);
    });
    const copy = { ...built, path };
    return {
      state: await chunkedState(path, built.signer),
      sequential: await verifyPath(copy, SEQUENTIAL),
      chunked: await verifyPath(copy, CHUNKED),
    };
  }

  it("declines a modified entry deep inside a chunk; the sequential walk names it", async () => {
    const run = await attacked("modified", async (db) => {
      const row = await db.entry(42);
      await db.run("UPDATE entries SET bytes = ? WHERE seq = 42", [replaceInBytes(row.bytes, '"note":"n42"', '"note":"n24"')]);
    });
    assert.equal(run.state, undefined);
    assert.equal(run.sequential.ok, false);
    assert.deepEqual(run.chunked, run.sequential);
    assert.deepEqual({ kind: run.chunked.failure?.kind, seq: run.chunked.failure?.seq }, { kind: "modified", seq: 42 });
  });

  it("declines a forged tree node above chunk level, which no single chunk can see", async () => {
    // Row 31 completes nodes of levels 0..5; with 8-entry chunks, levels 4 and 5 span chunks.
    const run = await attacked("high-node", async (db) => {
      const row = await db.entry(31);
      const nodes = Buffer.from(row.nodes);
      nodes[5 * 32] = (nodes[5 * 32] ?? 0) ^ 0xff;
      await db.run("UPDATE entries SET nodes = ? WHERE seq = 31", [nodes]);
    });
    assert.equal(run.state, undefined);
    assert.equal(run.sequential.failure?.kind, "modified");
    assert.deepEqual(run.chunked, run.sequential);
  });

  it("declines a log whose chain breaks exactly at a chunk edge, with every chunk consistent inside", async () => {
    // The attacker rewrites everything from seq 16 (the first entry of chunk 2) on a forged
    // `prev`, recomputing the later chain links and all stored nodes: only the join sees it.
    const run = await attacked("edge", async (db) => {
      const rows = await db.entries();
      const entries: AuditEntry[] = rows.map((row) => decodeEntry(row.bytes));
      const bytes: Buffer[] = rows.map((row) => row.bytes);
      let prev = "ab".repeat(32);
      for (let seq = 16; seq < entries.length; seq++) {
        const forged = { ...(entries[seq] as AuditEntry), prev };
        bytes[seq] = Buffer.from(canonicalJson(forged), "utf8");
        prev = sha256(Buffer.from(prev, "hex"), leafHash(bytes[seq] as Buffer)).toString("hex");
      }
      const hashes = recomputeHashes(bytes);
      for (let seq = 16; seq < entries.length; seq++) {
        await db.run("UPDATE entries SET bytes = ?, nodes = ? WHERE seq = ?", [bytes[seq] as Buffer, (hashes[seq] as { nodes: Buffer }).nodes, seq]);
      }
    });
    assert.equal(run.state, undefined);
    assert.deepEqual({ kind: run.sequential.failure?.kind, seq: run.sequential.failure?.seq }, { kind: "modified", seq: 15 });
    assert.deepEqual(run.chunked, run.sequential);
  });

  it("declines a log with an entry deleted at a chunk edge", async () => {
    const run = await attacked("deleted", async (db) => {
      await db.run("DELETE FROM entries WHERE seq = 16");
    });
    assert.equal(run.state, undefined);
    assert.deepEqual({ kind: run.sequential.failure?.kind, seq: run.sequential.failure?.seq }, { kind: "missing", seq: 16 });
    assert.deepEqual(run.chunked, run.sequential);
  });
});
