/**
 * Attacker-style tamper tests: a real state dir is populated with the real CLI, then each
 * attack edits a copy of audit.db (or of an export) the way someone with write access to
 * the file could — dropping the append-only triggers first — and the real CLI's
 * `audit verify` must fail with the right kind at the right seq.
 */
import assert from "node:assert/strict";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  type AuditEntry,
  canonicalJson,
  decodeEntry,
  EXPORT_FILES,
  type FailureKind,
  formatCheckpoint,
  generateNoteKey,
  readCheckpointFile,
  signNote,
} from "../../audit/index.js";
import {
  type EntryRowRaw,
  recomputeHashes,
  replaceInBytes,
  runCliOk,
  tamperDb,
  treeRoot,
  TRIGGERS,
  verifyWithCli,
  type VerifyRun,
} from "../support/tamper-helpers.js";

/** One data value of a `net.fetch` entry, changed in place (same length, still canonical JSON). */
const GENUINE = '"status":200';
const FORGED = '"status":201';

function assertCaught(run: VerifyRun, kind: FailureKind, seq: number): void {
  const shown = JSON.stringify(run.report.failure ?? run.report);
  assert.equal(run.code, 1, `audit verify should exit 1, exited ${run.code}: ${shown}\n${run.stderr}`);
  assert.equal(run.report.ok, false, `tampering went undetected: ${shown}`);
  assert.deepEqual(
    { kind: run.report.failure?.kind, seq: run.report.failure?.seq },
    { kind, seq },
    `expected ${kind} at seq ${seq}, verify reported ${shown}`,
  );
}

function assertClean(run: VerifyRun): void {
  assert.equal(run.code, 0, `audit verify should exit 0, exited ${run.code}: ${JSON.stringify(run.report)}\n${run.stderr}`);
  assert.equal(run.report.ok, true, `clean log failed verification: ${JSON.stringify(run.report.failure)}`);
  assert.equal(run.report.failure, undefined);
}

describe("audit log under attack by someone with write access to its files", () => {
  let root = "";
  let pristine = "";
  /** What the auditor holds outside the state dir: the verifier key and earlier checkpoints. */
  let vkeyFile = "";
  let auditorCheckpoints = "";
  let origin = "";
  let rows: EntryRowRaw[] = [];
  let entries: AuditEntry[] = [];
  let size = 0;
  let copies = 0;

  /** A fresh copy of the pristine state dir for one attack. */
  const copyOfPristine = (name: string): string => {
    copies += 1;
    const dir = join(root, `${String(copies).padStart(2, "0")}-${name}`);
    cpSync(pristine, dir, { recursive: true });
    return dir;
  };
  const dbOf = (home: string) => join(home, "audit.db");
  const verify = (home: string, withCheckpoint = false, exportDir?: string) =>
    verifyWithCli(home, {
      vkeyFile,
      ...(withCheckpoint ? { checkpointFile: auditorCheckpoints } : {}),
      ...(exportDir ? { exportDir } : {}),
    });
  const seqsOfType = (type: string) => entries.filter((e) => e.type === type).map((e) => e.seq);
  /** Every seq referencing each blob, in log order. */
  const blobRefs = (): Map<string, number[]> => {
    const refs = new Map<string, number[]>();
    for (const e of entries) for (const b of e.blobs) refs.set(b.sha256, [...(refs.get(b.sha256) ?? []), e.seq]);
    return refs;
  };
  /** A blob referenced by at least two entries, so "the first seq referencing it" means something. */
  const sharedBlobs = (): [string, number[]][] => [...blobRefs()].filter(([, seqs]) => seqs.length >= 2);

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "sg-tamper-"));
    pristine = join(root, "pristine");
    await runCliOk(["--home", pristine, "init"]);
    await runCliOk(["--home", pristine, "demo"]);
    await runCliOk(["--home", pristine, "demo"]);

    const auditor = join(root, "auditor");
    mkdirSync(auditor);
    vkeyFile = join(auditor, "audit.vkey");
    copyFileSync(join(pristine, "keys", "audit.vkey"), vkeyFile);
    auditorCheckpoints = join(auditor, "audit.checkpoints");
    copyFileSync(join(pristine, "audit.checkpoints"), auditorCheckpoints);
    origin = readFileSync(vkeyFile, "utf8").trim().split("+")[0] ?? "";

    await tamperDb(dbOf(pristine), async (db) => {
      rows = await db.entries();
    });
    entries = rows.map((row) => decodeEntry(row.bytes));
    size = rows.length;

    // The attacks below pick their targets from this shape; fail loudly if the demo changes.
    assert.ok(size >= 15, `two demo runs should leave at least 15 entries, got ${size}`);
    assert.deepEqual(
      rows.map((r) => r.seq),
      [...Array(size).keys()],
    );
    assert.ok(seqsOfType("net.fetch").length >= 2, "the demo should record two net.fetch entries");
    assert.ok(sharedBlobs().length >= 2, "the two demo turns should share at least two blobs");
    const held = (await readCheckpointFile(auditorCheckpoints)).map((note) => Number(note.split("\n")[1]));
    assert.ok(held.length >= 2 && held.includes(size), `auditor's checkpoints cover sizes ${held.join(", ")}`);
  });

  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("control: an untouched copy verifies, with and without the auditor's checkpoints", async () => {
    const home = copyOfPristine("control");
    const plain = await verify(home);
    assertClean(plain);
    assert.equal(plain.report.entries, size);
    assert.equal(plain.report.signedSize, size);
    assert.ok(plain.report.checkpointsVerified >= 2);
    assert.equal(plain.report.keyPinned, true);
    const audited = await verify(home, true);
    assertClean(audited);
    assert.ok(audited.report.trustedCheckpointsVerified >= 2);
  });

  it("1. one byte changed inside an entry's data is 'modified' at that seq", async () => {
    const home = copyOfPristine("modify-byte");
    const target = seqsOfType("net.fetch")[1] as number;
    await tamperDb(dbOf(home), async (db) => {
      await db.dropTriggers(...TRIGGERS.entries);
      const row = await db.entry(target);
      const changes = await db.run("UPDATE entries SET bytes = ? WHERE seq = ?", [replaceInBytes(row.bytes, GENUINE, FORGED), target]);
      assert.equal(changes, 1);
    });
    assertCaught(await verify(home), "modified", target);
  });

  it("2. one entry deleted from the middle is 'missing' at that seq", async () => {
    const home = copyOfPristine("delete-middle");
    const target = Math.floor(size / 2);
    await tamperDb(dbOf(home), async (db) => {
      await db.dropTriggers(...TRIGGERS.entries);
      assert.equal(await db.run("DELETE FROM entries WHERE seq = ?", [target]), 1);
    });
    assertCaught(await verify(home), "missing", target);

    // Closing the gap in the seq column changes nothing: positions are what count.
    const closed = copyOfPristine("delete-middle-renumbered");
    await tamperDb(dbOf(closed), async (db) => {
      await db.dropTriggers(...TRIGGERS.entries);
      assert.equal(await db.run("DELETE FROM entries WHERE seq = ?", [target]), 1);
      for (let seq = target + 1; seq < size; seq += 1) {
        assert.equal(await db.run("UPDATE entries SET seq = seq - 1 WHERE seq = ?", [seq]), 1);
      }
    });
    assertCaught(await verify(closed), "missing", target);
  });

  it("3. a forged entry inserted at k (later rows renumbered) is 'inserted' at k", async () => {
    const home = copyOfPristine("insert");
    const k = seqsOfType("net.fetch")[0] as number;
    await tamperDb(dbOf(home), async (db) => {
      await db.dropTriggers(...TRIGGERS.entries);
      const genuine = await db.entry(k);
      for (let seq = size - 1; seq >= k; seq -= 1) {
        assert.equal(await db.run("UPDATE entries SET seq = seq + 1 WHERE seq = ?", [seq]), 1);
      }
      await db.insertEntry({ ...genuine, bytes: replaceInBytes(genuine.bytes, GENUINE, FORGED) });
      assert.equal((await db.entries()).length, size + 1);
    });
    assertCaught(await verify(home), "inserted", k);
  });

  it("4. two adjacent entries swapped is 'reordered' at the lower seq", async () => {
    const home = copyOfPristine("swap");
    const low = Math.floor(size / 2) + 2;
    await tamperDb(dbOf(home), async (db) => {
      await db.dropTriggers(...TRIGGERS.entries);
      const a = await db.entry(low);
      const b = await db.entry(low + 1);
      const swap = "UPDATE entries SET bytes = ?, nodes = ? WHERE seq = ?";
      await db.run(swap, [b.bytes, b.nodes, low]);
      await db.run(swap, [a.bytes, a.nodes, low + 1]);
    });
    assertCaught(await verify(home), "reordered", low);
  });

  it("5. a truncated tail with its checkpoints removed passes alone, but is 'truncated' against the auditor's checkpoint", async () => {
    const home = copyOfPristine("truncate");
    const newSize = size - 4;
    await tamperDb(dbOf(home), async (db) => {
      await db.dropTriggers(...TRIGGERS.entries, ...TRIGGERS.checkpoints);
      assert.equal(await db.run("DELETE FROM entries WHERE seq >= ?", [newSize]), size - newSize);
      assert.ok((await db.run("DELETE FROM checkpoints WHERE size > ?", [newSize])) >= 1);
      const left = await db.all<{ size: number }>("SELECT size FROM checkpoints");
      assert.ok(left.length >= 1, "a checkpoint below the cut should remain, so the log still looks signed");
    });
    // Documented limitation: a cut that also removes the covering checkpoints is
    // self-consistent; only a checkpoint held elsewhere reveals it.
    const alone = await verify(home);
    assertClean(alone);
    assert.equal(alone.report.entries, newSize);
    assertCaught(await verify(home, true), "truncated", newSize);
  });

  it("6. a blob's content replaced (same size) is 'modified' at the first seq referencing it", async () => {
    const home = copyOfPristine("replace-blob");
    const [sha, seqs] = sharedBlobs()[0] as [string, number[]];
    await tamperDb(dbOf(home), async (db) => {
      await db.dropTriggers(...TRIGGERS.blobs);
      const [blob] = await db.all<{ content: Buffer }>("SELECT content FROM blobs WHERE sha256 = ?", [sha]);
      assert.ok(blob);
      const forged = Buffer.from(blob.content);
      forged[0] = (forged[0] as number) ^ 0x20;
      assert.equal(await db.run("UPDATE blobs SET content = ? WHERE sha256 = ?", [forged, sha]), 1);
    });
    assertCaught(await verify(home), "modified", seqs[0] as number);
  });

  it("7. a blob deleted without a redaction entry is 'modified'; the CLI's redaction verifies", async () => {
    const [sha, seqs] = sharedBlobs()[1] as [string, number[]];

    const attacked = copyOfPristine("delete-blob");
    await tamperDb(dbOf(attacked), async (db) => {
      assert.equal(await db.run("DELETE FROM blobs WHERE sha256 = ?", [sha]), 1);
    });
    assertCaught(await verify(attacked), "modified", seqs[0] as number);

    const redacted = copyOfPristine("redact");
    await runCliOk(["--home", redacted, "audit", "redact", sha, "--reason", "gdpr request"]);
    const run = await verify(redacted);
    assertClean(run);
    assert.equal(run.report.entries, size + 1);
    assert.deepEqual(run.report.redacted, [{ sha256: sha, seq: seqs[0], redactedAt: size, reason: "gdpr request" }]);
  });

  it("8. a checkpoint signed by another key under the same origin is 'bad-signature'", async () => {
    const forger = generateNoteKey(origin);
    assert.notEqual(forger.vkey, readFileSync(vkeyFile, "utf8").trim());
    const forgedAt = (n: number) => {
      const root = treeRoot(rows.slice(0, n).map((r) => r.bytes));
      return signNote(formatCheckpoint({ origin, size: n, root }), forger);
    };

    // Replacing the genuine checkpoint at the current size (size is the table's key).
    const replaced = copyOfPristine("forge-checkpoint");
    await tamperDb(dbOf(replaced), async (db) => {
      await db.dropTriggers(...TRIGGERS.checkpoints);
      assert.equal(await db.run("DELETE FROM checkpoints WHERE size = ?", [size]), 1);
      await db.run("INSERT INTO checkpoints (size, note, created_at) VALUES (?,?,?)", [size, forgedAt(size), new Date().toISOString()]);
    });
    // A bad checkpoint is reported at the last seq it claims to cover.
    assertCaught(await verify(replaced), "bad-signature", size - 1);

    // Adding one at a size the log never signed, next to the genuine ones.
    const added = copyOfPristine("add-forged-checkpoint");
    const at = size - 3;
    await tamperDb(dbOf(added), async (db) => {
      await db.run("INSERT INTO checkpoints (size, note, created_at) VALUES (?,?,?)", [at, forgedAt(at), new Date().toISOString()]);
    });
    assertCaught(await verify(added), "bad-signature", at - 1);
  });

  it("9. an export with one entry altered and nothing recomputed is 'modified' at that seq", async () => {
    const home = copyOfPristine("export");
    const exportDir = join(root, "export-tampered");
    await runCliOk(["--home", home, "audit", "export", "--out", exportDir]);
    assertClean(await verify(home, false, exportDir));

    const target = seqsOfType("net.fetch")[0] as number;
    const file = join(exportDir, EXPORT_FILES.entries);
    const lines = readFileSync(file, "utf8").split("\n");
    lines[target] = replaceInBytes(Buffer.from(lines[target] ?? "", "utf8"), GENUINE, FORGED).toString("utf8");
    writeFileSync(file, lines.join("\n"));
    assertCaught(await verify(home, false, exportDir), "modified", target);
  });

  describe("stronger attackers: every hash an attacker can compute without the key, recomputed", () => {

    it("a forged entry inserted at k with its own leaf, nodes and chain recomputed is 'inserted' at k", async () => {
      const home = copyOfPristine("insert-recomputed");
      const k = seqsOfType("net.fetch")[1] as number;
      await tamperDb(dbOf(home), async (db) => {
        await db.dropTriggers(...TRIGGERS.entries);
        const genuine = await db.entry(k);
        const bytes = replaceInBytes(genuine.bytes, GENUINE, FORGED);
        const hashes = recomputeHashes([...rows.slice(0, k).map((r) => r.bytes), bytes])[k];
        assert.ok(hashes);
        for (let seq = size - 1; seq >= k; seq -= 1) {
          assert.equal(await db.run("UPDATE entries SET seq = seq + 1 WHERE seq = ?", [seq]), 1);
        }
        await db.insertEntry({ ...genuine, bytes, ...hashes });
      });
      assertCaught(await verify(home), "inserted", k);
    });

    it("a forged line inserted into an export at k is 'inserted' at k", async () => {
      const home = copyOfPristine("export-insert");
      const exportDir = join(root, "export-inserted");
      await runCliOk(["--home", home, "audit", "export", "--out", exportDir]);
      const k = seqsOfType("net.fetch")[0] as number;
      const file = join(exportDir, EXPORT_FILES.entries);
      const lines = readFileSync(file, "utf8").split("\n");
      const forged = replaceInBytes(Buffer.from(lines[k] ?? "", "utf8"), GENUINE, FORGED).toString("utf8");
      lines.splice(k, 0, forged);
      writeFileSync(file, lines.join("\n"));
      assertCaught(await verify(home, false, exportDir), "inserted", k);
    });

    it("history rewritten from seq k with every hash recomputed and later checkpoints dropped is 'rolled-back' against the auditor's checkpoint", async () => {
      const home = copyOfPristine("rewrite");
      const k = seqsOfType("net.fetch")[1] as number;
      const notes = await readCheckpointFile(auditorCheckpoints);
      const signedSizes = notes.map((note) => Number(note.split("\n")[1]));
      const lastGood = Math.max(...signedSizes.filter((n) => n <= k));
      await tamperDb(dbOf(home), async (db) => {
        await db.dropTriggers(...TRIGGERS.entries, ...TRIGGERS.checkpoints);
        // Rewriting an entry changes its bytes, so every later prev must change too.
        const rewritten: Buffer[] = [];
        for (const [seq, row] of rows.entries()) {
          let bytes = row.bytes;
          if (seq === k) bytes = replaceInBytes(bytes, GENUINE, FORGED);
          if (seq > k) {
            const prev = recomputeHashes(rewritten)[seq - 1]?.chain.toString("hex") ?? "";
            bytes = replaceInBytes(bytes, `"prev":"${entries[seq]?.prev ?? ""}"`, `"prev":"${prev}"`);
          }
          rewritten.push(bytes);
        }
        const hashes = recomputeHashes(rewritten);
        for (let seq = k; seq < size; seq += 1) {
          const h = hashes[seq];
          assert.ok(h);
          await db.run("UPDATE entries SET bytes = ?, nodes = ? WHERE seq = ?", [rewritten[seq] as Buffer, h.nodes, seq]);
        }
        await db.run("DELETE FROM checkpoints WHERE size > ?", [k]);
      });
      // Alone, the rewritten log is consistent; only the shrunken signed prefix hints at it.
      const alone = await verify(home);
      assertClean(alone);
      assert.equal(alone.report.entries, size);
      assert.equal(alone.report.signedSize, lastGood);
      assertCaught(await verify(home, true), "rolled-back", lastGood);
    });

    it("a blob deleted behind a keyless, unsigned redaction entry is 'modified'", async () => {
      const home = copyOfPristine("forged-redaction");
      const [sha, seqs] = sharedBlobs()[0] as [string, number[]];
      await tamperDb(dbOf(home), async (db) => {
        const last = decodeEntry((rows[size - 1] as EntryRowRaw).bytes);
        const chainBefore = recomputeHashes(rows.map((r) => r.bytes))[size - 1]?.chain.toString("hex") ?? "";
        const forged: AuditEntry = {
          v: 1,
          seq: size,
          ts: last.ts,
          session: null,
          actor: "operator:cli",
          kind: "system",
          type: "blob.redacted",
          data: { reason: "gdpr request", sha256: sha, size: 1 },
          blobs: [],
          prev: chainBefore,
        };
        const bytes = Buffer.from(canonicalJson(forged), "utf8");
        const h = recomputeHashes([...rows.map((r) => r.bytes), bytes])[size];
        assert.ok(h);
        await db.insertEntry({ seq: size, bytes, nodes: h.nodes });
        assert.equal(await db.run("DELETE FROM blobs WHERE sha256 = ?", [sha]), 1);
      });
      // Anyone with write access can append a redaction entry; only the key holder can
      // sign one. An unsigned redaction does not excuse missing content.
      assertCaught(await verify(home, true), "modified", seqs[0] as number);
    });

    it("a substituted log key with re-signed checkpoints passes only when the verifier key is not pinned", async () => {
      const home = copyOfPristine("key-substitution");
      const forger = generateNoteKey(origin);
      const signedSizes = (await readCheckpointFile(auditorCheckpoints)).map((note) => Number(note.split("\n")[1]));
      await tamperDb(dbOf(home), async (db) => {
        await db.dropTriggers(...TRIGGERS.meta, ...TRIGGERS.checkpoints);
        assert.equal(await db.run("UPDATE meta SET value = ? WHERE key = 'vkey'", [forger.vkey]), 1);
        await db.run("DELETE FROM checkpoints");
        for (const n of signedSizes) {
          const note = signNote(formatCheckpoint({ origin, size: n, root: treeRoot(rows.slice(0, n).map((r) => r.bytes)) }), forger);
          await db.run("INSERT INTO checkpoints (size, note, created_at) VALUES (?,?,?)", [n, note, new Date().toISOString()]);
        }
      });
      const unpinned = await verifyWithCli(home, {});
      assertClean(unpinned);
      assert.equal(unpinned.report.keyPinned, false, "an unpinned key must be reported as such");
      assertCaught(await verify(home), "bad-signature", Math.min(...signedSizes) - 1);
    });
  });
});
