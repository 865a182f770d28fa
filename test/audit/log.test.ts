import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { AuditLog, generateNoteKey, type NoteSignerKey, openNote, parseCheckpoint, readCheckpointFile } from "../../audit/index.js";
import { repoRoot } from "../support/paths.js";
import { treeRoot } from "../support/tamper-helpers.js";

describe("audit log behaviour", () => {
  let dir: string;
  let key: NoteSignerKey;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sg-log-"));
    key = generateNoteKey("test.local/log");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("signs checkpoints on a timer while the log grows, and once more at shutdown", async () => {
    const checkpointFile = join(dir, "timer.checkpoints");
    const log = await AuditLog.open({ path: join(dir, "timer.db"), signer: key, checkpointFile, checkpointIntervalMs: 40 });
    await log.append({ actor: "t", kind: "saw", type: "a" });
    await sleep(200);
    const afterTimer = await readCheckpointFile(checkpointFile);
    assert.ok(afterTimer.length >= 1, "the interval should have signed a checkpoint");
    const sizeAfterTimer = parseCheckpoint(openNote(afterTimer.at(-1) as string, [key]).text).size;
    assert.equal(sizeAfterTimer, 2);
    await sleep(150);
    assert.equal((await readCheckpointFile(checkpointFile)).length, afterTimer.length, "no new checkpoint without growth");
    await log.append({ actor: "t", kind: "saw", type: "b" });
    await log.append({ actor: "t", kind: "saw", type: "c" });
    await log.close();
    const notes = await readCheckpointFile(checkpointFile);
    assert.equal(parseCheckpoint(openNote(notes.at(-1) as string, [key]).text).size, 4, "close signs the final size");
  });

  it("signs a checkpoint every N entries", async () => {
    const checkpointFile = join(dir, "every.checkpoints");
    const log = await AuditLog.open({ path: join(dir, "every.db"), signer: key, checkpointFile, checkpointEvery: 10 });
    for (let i = 0; i < 35; i++) await log.append({ actor: "t", kind: "decided", type: "x", data: { i } });
    await sleep(50);
    const sizes = (await readCheckpointFile(checkpointFile)).map((n) => parseCheckpoint(openNote(n, [key]).text).size);
    assert.ok(sizes.length >= 3, `expected ≥ 3 checkpoints, got ${sizes.join(",")}`);
    for (let i = 1; i < sizes.length; i++) assert.ok((sizes[i] as number) - (sizes[i - 1] as number) >= 10);
    await log.close();
  });

  it("orders concurrent appends by call order and stores blobs by hash", async () => {
    const log = await AuditLog.open({ path: join(dir, "order.db"), signer: key });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        log.append({ session: "agent:a:main", actor: "t", kind: "saw", type: "msg", data: { i }, blobs: [{ content: `body ${i % 7}`, type: "text/plain" }] }),
      ),
    );
    assert.deepEqual(
      results.map((r) => r.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const stored = await log.entry(42);
    assert.equal(stored?.entry.data.i, 41);
    const ref = stored?.entry.blobs[0];
    assert.equal((await log.blob(ref?.sha256 ?? ""))?.toString(), `body ${41 % 7}`);
    assert.equal((await log.query({ session: "agent:a:main", limit: 1000 })).length, 200);
    await log.close();
  });

  it("splits a burst bigger than one transaction, and signs the true root of each committed prefix", async () => {
    const log = await AuditLog.open({ path: join(dir, "burst.db"), signer: key });
    const total = 20_000;
    let firstCheckpoint: Promise<{ size: number; rootHex: string }> | undefined;
    const appends = Array.from({ length: total }, (_, i) =>
      log.append({ actor: "t", kind: "touched", type: "burst", data: { i } }).then((r) => {
        firstCheckpoint ??= log.checkpoint();
        return r;
      }),
    );
    await Promise.all(appends);
    const early = await (firstCheckpoint as Promise<{ size: number; rootHex: string }>);
    assert.ok(early.size > 1 && early.size < total + 1, `the first commit should hold part of the burst, held ${early.size}`);
    const bytes: Buffer[] = [];
    for (let seq = 0; seq < early.size; seq++) bytes.push((await log.entry(seq))?.bytes as Buffer);
    assert.equal(early.rootHex, treeRoot(bytes).toString("hex"));
    assert.equal(log.size, total + 1);
    assert.equal((await log.verify()).ok, true);
    await log.close();
  });

  it("rejects invalid input without consuming a sequence number", async () => {
    const log = await AuditLog.open({ path: join(dir, "invalid.db"), signer: key });
    await assert.rejects(log.append({ actor: "", kind: "saw", type: "x" }), { code: "AUDIT_INVALID_ENTRY" });
    await assert.rejects(log.append({ actor: "t", kind: "saw", type: "Bad Type" }), { code: "AUDIT_INVALID_ENTRY" });
    await assert.rejects(log.append({ actor: "t", kind: "saw", type: "x", data: { n: Number.NaN } }), { code: "AUDIT_INVALID_ENTRY" });
    assert.equal((await log.append({ actor: "t", kind: "saw", type: "x" })).seq, 1);
    assert.equal((await log.verify()).ok, true);
    await log.close();
  });

  it("redaction deletes content, keeps proofs and verifies as redacted", async () => {
    const log = await AuditLog.open({ path: join(dir, "redact.db"), signer: key });
    const secret = await log.append({ actor: "t", kind: "saw", type: "msg", blobs: [{ content: "my phone is 555-0100", type: "text/plain" }] });
    const sha = (await log.entry(secret.seq))?.entry.blobs[0]?.sha256 ?? "";
    const before = await log.proveInclusion(secret.seq);
    await log.redact(sha, "erasure request", "operator:test");
    assert.equal(await log.blob(sha), undefined);
    const after = await log.proveInclusion(secret.seq, before.size);
    assert.deepEqual(after, before);
    const report = await log.verify();
    assert.equal(report.ok, true);
    assert.deepEqual(report.redacted.map((r) => [r.sha256, r.seq, r.reason]), [[sha, secret.seq, "erasure request"]]);
    await assert.rejects(log.redact(sha, "again", "operator:test"), { code: "AUDIT_BLOB_NOT_FOUND" });
    await log.close();
  });

  it("refuses a second writer, and a key that does not belong to the log", async () => {
    const path = join(dir, "single.db");
    const log = await AuditLog.open({ path, signer: key });
    const script = `
      const { AuditLog, generateNoteKey } = await import(${JSON.stringify(join(repoRoot(), "dist", "audit", "index.js"))});
      try { await AuditLog.open({ path: ${JSON.stringify(path)}, signer: generateNoteKey("x.local/y") }); console.log("opened"); }
      catch (err) { console.log(err.code); }
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    assert.equal(child.stdout.trim(), "AUDIT_LOCKED");
    await log.close();
    await assert.rejects(AuditLog.open({ path, signer: generateNoteKey("test.local/other") }), { code: "AUDIT_KEY_MISMATCH" });
    const reopened = await AuditLog.open({ path, signer: key });
    assert.equal(reopened.size, 1);
    await reopened.close();
    await assert.rejects(reopened.append({ actor: "t", kind: "saw", type: "x" }), { code: "AUDIT_CLOSED" });
    assert.ok(readFileSync(path).length > 0);
  });
});
