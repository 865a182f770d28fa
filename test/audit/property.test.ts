import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type Appended,
  type AppendInput,
  AuditLog,
  canonicalJson,
  ENTRY_KINDS,
  generateNoteKey,
  type JsonObject,
  leafHash,
  type NoteSignerKey,
  openNote,
  parseCheckpoint,
  ProofError,
  type SignedCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "../../audit/index.js";

const ORIGIN = "test.example/log";
const hex = (s: string): Buffer => Buffer.from(s, "hex");

// ---------------------------------------------------------------------------------------
// An independent RFC 6962 reference, built on node:crypto only, so that a root the log
// reports is checked against something the log did not compute itself.
// ---------------------------------------------------------------------------------------

function refNode(left: Buffer, right: Buffer): Buffer {
  return createHash("sha256").update(Buffer.from([0x01])).update(left).update(right).digest();
}

/** MTH(D[start:end]) over leaf hashes. */
function refRoot(leaves: Buffer[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 0) return createHash("sha256").digest();
  if (n === 1) return leaves[start] as Buffer;
  let k = 1;
  while (k * 2 < n) k *= 2;
  return refNode(refRoot(leaves, start, start + k), refRoot(leaves, start + k, end));
}

// ---------------------------------------------------------------------------------------
// Proof mutations.
// ---------------------------------------------------------------------------------------

interface Variant {
  label: string;
  proof: Buffer[];
}

function flipBit(h: Buffer, bit: number): Buffer {
  const out = Buffer.from(h);
  const byte = (bit >> 3) % out.length;
  out[byte] = (out[byte] ?? 0) ^ (1 << (bit & 7));
  return out;
}

/** Every structural corruption of a proof the brief lists; none of them may verify. */
function mutations(proof: Buffer[], salt: number): Variant[] {
  const out: Variant[] = [];
  proof.forEach((h, i) => {
    const bit = (salt + 97 * i) % 256;
    out.push({ label: `flip bit ${bit} of proof[${i}]`, proof: proof.map((x, j) => (j === i ? flipBit(h, bit) : x)) });
  });
  proof.forEach((_, i) => out.push({ label: `drop proof[${i}]`, proof: proof.filter((_x, j) => j !== i) }));
  const extra = createHash("sha256").update(`extra-${salt}`).digest();
  out.push({ label: "append an extra hash", proof: [...proof, extra] });
  out.push({ label: "prepend an extra hash", proof: [extra, ...proof] });
  if (proof.length > 0) out.push({ label: "repeat the last hash", proof: [...proof, proof[proof.length - 1] as Buffer] });
  for (let i = 0; i + 1 < proof.length; i += 1) {
    const a = proof[i] as Buffer;
    const b = proof[i + 1] as Buffer;
    if (a.equals(b)) continue;
    const swapped = [...proof];
    swapped[i] = b;
    swapped[i + 1] = a;
    out.push({ label: `swap proof[${i}] and proof[${i + 1}]`, proof: swapped });
  }
  return out;
}

function rejects(fn: () => void, message: string): void {
  assert.throws(fn, ProofError, message);
}

// ---------------------------------------------------------------------------------------
// Operation generators.
// ---------------------------------------------------------------------------------------

type Op = { t: "append"; input: AppendInput; wait: boolean } | { t: "checkpoint" };

const blobArb = fc.record({
  // A tiny content domain, so the same blob often appears in several entries.
  content: fc.oneof(
    fc.constantFrom("", "hello", "hello\n", "{\"a\":1}"),
    fc.string({ maxLength: 24 }),
    fc.uint8Array({ maxLength: 48 }),
  ),
  type: fc.constantFrom("text/plain", "application/json", "application/octet-stream"),
});

const appendInputArb: fc.Arbitrary<AppendInput> = fc
  .record({
    session: fc.constantFrom("agent:a:main", "agent:b:side", null),
    kind: fc.constantFrom(...ENTRY_KINDS),
    type: fc.constantFrom("x.y", "tool.call", "skill.loaded", "net-fetch", "a"),
    data: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    blobs: fc.option(fc.array(blobArb, { minLength: 1, maxLength: 2 }), { nil: undefined, freq: 3 }),
  })
  .map(({ session, kind, type, data, blobs }) => ({
    session,
    actor: "test",
    kind,
    type,
    data: data as JsonObject,
    ...(blobs ? { blobs } : {}),
  }));

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant("append" as const), input: appendInputArb, wait: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ t: "checkpoint" as const }) },
);

// ---------------------------------------------------------------------------------------
// Helpers over a real log.
// ---------------------------------------------------------------------------------------

async function withLog<T>(signer: NoteSignerKey, body: (log: AuditLog) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "sg-prop-"));
  const log = await AuditLog.open({ path: join(dir, "audit.db"), signer });
  try {
    return await body(log);
  } finally {
    await log.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

function signedRoot(cp: SignedCheckpoint, signer: NoteSignerKey): Buffer {
  const parsed = parseCheckpoint(openNote(cp.note, [signer]).text);
  assert.equal(parsed.origin, ORIGIN);
  assert.equal(parsed.size, cp.size, "the signed size is the size the checkpoint reports");
  assert.equal(parsed.root.toString("hex"), cp.rootHex, "the signed root is the root the checkpoint reports");
  return parsed.root;
}

/** Checks one inclusion proof and all its corruptions. */
async function checkInclusion(
  log: AuditLog,
  leaves: Buffer[],
  seq: number,
  size: number,
  signed: Buffer | undefined,
  salt: number,
): Promise<void> {
  const at = `seq ${seq} in size ${size}`;
  const got = await log.proveInclusion(seq, size);
  assert.equal(got.seq, seq);
  assert.equal(got.size, size);
  const leaf = hex(got.leafHash);
  const proof = got.proof.map(hex);
  const root = refRoot(leaves, 0, size);
  assert.ok(leaf.equals(leaves[seq] as Buffer), `${at}: leaf hash is the appended one`);
  assert.equal(got.rootHex, root.toString("hex"), `${at}: proof root is the RFC 6962 root`);
  assert.ok((await log.rootAt(size)).equals(root), `${at}: rootAt is the RFC 6962 root`);

  verifyInclusion(seq, size, leaf, proof, root);
  if (signed) verifyInclusion(seq, size, leaf, proof, signed);

  const target = signed ?? root;
  for (const v of mutations(proof, salt + seq)) {
    rejects(() => verifyInclusion(seq, size, leaf, v.proof, target), `${at}: ${v.label} must not verify`);
  }
  for (const other of [seq - 1, seq + 1]) {
    if (other < 0 || other >= size) continue;
    rejects(() => verifyInclusion(other, size, leaf, proof, target), `${at}: index ${other} must not verify`);
    const otherLeaf = leaves[other] as Buffer;
    rejects(() => verifyInclusion(other, size, otherLeaf, proof, target), `${at}: leaf ${other} at its own index`);
    rejects(() => verifyInclusion(seq, size, otherLeaf, proof, target), `${at}: leaf hash of ${other} must not verify`);
  }
  // A different size is checked against that size's own root: size is not bound into the
  // root, so (size ± 1, this root) is not a meaningful claim, but (size ± 1, its root) is.
  for (const other of [size - 1, size + 1]) {
    if (other < 1 || other > leaves.length) continue;
    const otherRoot = refRoot(leaves, 0, other);
    rejects(() => verifyInclusion(seq, other, leaf, proof, otherRoot), `${at}: size ${other} must not verify`);
  }
  rejects(() => verifyInclusion(seq, size, flipBit(leaf, salt), proof, target), `${at}: corrupted leaf hash`);
  rejects(() => verifyInclusion(seq, size, leaf, proof, flipBit(target, salt + 1)), `${at}: corrupted root`);
}

/** Checks one consistency proof (0 < oldSize ≤ newSize) and all its corruptions. */
async function checkConsistency(
  log: AuditLog,
  leaves: Buffer[],
  oldSize: number,
  newSize: number,
  signed: { old: Buffer; new: Buffer } | undefined,
  salt: number,
): Promise<void> {
  const at = `consistency ${oldSize} → ${newSize}`;
  const got = await log.proveConsistency(oldSize, newSize);
  const proof = got.proof.map(hex);
  const root1 = refRoot(leaves, 0, oldSize);
  const root2 = refRoot(leaves, 0, newSize);
  if (oldSize === newSize) assert.equal(proof.length, 0, `${at}: equal sizes have an empty proof`);
  verifyConsistency(oldSize, newSize, proof, root1, root2);
  if (signed) verifyConsistency(oldSize, newSize, proof, signed.old, signed.new);

  for (const v of mutations(proof, salt)) {
    rejects(() => verifyConsistency(oldSize, newSize, v.proof, root1, root2), `${at}: ${v.label} must not verify`);
  }
  for (const other of [oldSize - 1, oldSize + 1]) {
    if (other < 1 || other > leaves.length) continue;
    const r = refRoot(leaves, 0, other);
    rejects(() => verifyConsistency(other, newSize, proof, r, root2), `${at}: old size ${other} must not verify`);
  }
  for (const other of [newSize - 1, newSize + 1]) {
    if (other < 1 || other > leaves.length) continue;
    const r = refRoot(leaves, 0, other);
    rejects(() => verifyConsistency(oldSize, other, proof, root1, r), `${at}: new size ${other} must not verify`);
  }
  rejects(() => verifyConsistency(oldSize, newSize, proof, flipBit(root1, salt), root2), `${at}: corrupted old root`);
  rejects(() => verifyConsistency(oldSize, newSize, proof, root1, flipBit(root2, salt)), `${at}: corrupted new root`);
}

// ---------------------------------------------------------------------------------------

describe("audit log proofs (property-based, real SQLite log)", () => {
  it("inclusion and consistency proofs verify, and every corruption of them fails", async () => {
    const signer = generateNoteKey(ORIGIN);
    const stranger = generateNoteKey(ORIGIN);
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { maxLength: 40, size: "max" }),
        fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 8 }),
        fc.nat(),
        async (ops, pairs, salt) =>
          withLog(signer, async (log) => {
            assert.equal(log.size, 1, "a new log holds only its log.created entry");
            const inputs: AppendInput[] = [];
            const results: Promise<Appended>[] = [];
            const checkpoints: SignedCheckpoint[] = [];
            let lastAwaited = 0;
            for (const op of ops) {
              if (op.t === "append") {
                inputs.push(op.input);
                const p = log.append(op.input);
                results.push(p);
                if (op.wait) lastAwaited = (await p).seq;
              } else {
                const cp = await log.checkpoint();
                // Everything acknowledged is covered; nothing not yet issued can be.
                assert.ok(cp.size >= lastAwaited + 1, `checkpoint size ${cp.size} < ${lastAwaited + 1}`);
                assert.ok(cp.size <= inputs.length + 1, `checkpoint size ${cp.size} > ${inputs.length + 1}`);
                checkpoints.push(cp);
              }
            }
            const appended = await Promise.all(results);
            const final = await log.checkpoint();
            checkpoints.push(final);
            const size = inputs.length + 1;
            assert.equal(log.size, size);
            assert.equal(final.size, size);

            // Sequence numbers follow call order; the leaf hash is the hash of the stored bytes.
            const first = await log.entry(0);
            assert.ok(first, "entry 0 exists");
            assert.equal(first.entry.type, "log.created");
            const leaves: Buffer[] = [leafHash(first.bytes)];
            for (const [i, a] of appended.entries()) {
              assert.equal(a.seq, i + 1);
              const input = inputs[i] as AppendInput;
              const stored = await log.entry(a.seq);
              assert.ok(stored, `entry ${a.seq} is stored`);
              assert.equal(leafHash(stored.bytes).toString("hex"), a.leafHash, `leaf hash of entry ${a.seq}`);
              assert.equal(stored.entry.kind, input.kind);
              assert.equal(stored.entry.type, input.type);
              assert.equal(stored.entry.session, input.session ?? null);
              assert.equal(canonicalJson(stored.entry.data), canonicalJson(input.data ?? {}));
              assert.equal(stored.entry.blobs.length, input.blobs?.length ?? 0);
              for (const ref of stored.entry.blobs) {
                const content = await log.blob(ref.sha256);
                assert.ok(content, `blob ${ref.sha256} of entry ${a.seq} is stored`);
                assert.equal(content.length, ref.size);
              }
              leaves.push(hex(a.leafHash));
            }

            // Every checkpoint: a valid signature over the RFC 6962 root of its size.
            const signedRoots = new Map<number, Buffer>();
            for (const cp of checkpoints) {
              const root = signedRoot(cp, signer);
              assert.throws(() => openNote(cp.note, [stranger]), /no signature by a trusted key/);
              assert.ok(root.equals(refRoot(leaves, 0, cp.size)), `signed root of size ${cp.size}`);
              assert.ok((await log.rootAt(cp.size)).equals(root), `rootAt(${cp.size}) is the signed root`);
              const seen = signedRoots.get(cp.size);
              if (seen) assert.ok(seen.equals(root), `two checkpoints of size ${cp.size} agree`);
              signedRoots.set(cp.size, root);
            }

            // Inclusion of every entry in every checkpoint, against the signed root.
            for (const [cpSize, root] of signedRoots) {
              for (let seq = 0; seq < cpSize; seq += 1) await checkInclusion(log, leaves, seq, cpSize, root, salt);
            }
            // And at random (seq < size), sizes not necessarily checkpointed.
            for (const [x, y] of pairs) {
              const s = 1 + (y % size);
              await checkInclusion(log, leaves, x % s, s, signedRoots.get(s), salt);
            }

            // Consistency between every pair of checkpoint sizes.
            const sizes = [...signedRoots.keys()].sort((a, b) => a - b);
            for (const [i, a] of sizes.entries()) {
              for (const b of sizes.slice(i)) {
                const signedPair = { old: signedRoots.get(a) as Buffer, new: signedRoots.get(b) as Buffer };
                await checkConsistency(log, leaves, a, b, signedPair, salt);
              }
            }
            // And between random sizes.
            for (const [x, y] of pairs) {
              const a = 1 + (x % size);
              await checkConsistency(log, leaves, a, a + (y % (size - a + 1)), undefined, salt);
            }
            // Consistency with the empty tree proves nothing, by design.
            const fromEmpty = await log.proveConsistency(0, size);
            assert.deepEqual(fromEmpty.proof, []);
            rejects(
              () => verifyConsistency(0, size, [], refRoot(leaves, 0, 0), refRoot(leaves, 0, size)),
              "consistency from size 0 is refused",
            );

            const report = await log.verify();
            assert.equal(report.ok, true, `verify failed: ${JSON.stringify(report.failure)}`);
            assert.equal(report.entries, size);
            assert.equal(report.rootHex, refRoot(leaves, 0, size).toString("hex"));
            assert.equal(report.signedSize, size);
            assert.ok(report.checkpointsVerified >= signedRoots.size, "every checkpoint size was checked");
          }),
      ),
      { numRuns: 20 },
    );
  });

  it("proof lengths are logarithmic in the tree size (1,000 entries)", async () => {
    const signer = generateNoteKey(ORIGIN);
    await withLog(signer, async (log) => {
      const n = 1000;
      const appended = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          log.append({ session: "agent:a:main", actor: "test", kind: "saw", type: "x.y", data: { i } }),
        ),
      );
      appended.forEach((a, i) => assert.equal(a.seq, i + 1, "concurrent appends keep call order"));
      const size = n + 1;
      assert.equal(log.size, size);
      const first = await log.entry(0);
      assert.ok(first);
      const leaves = [leafHash(first.bytes), ...appended.map((a) => hex(a.leafHash))];
      const bound = (s: number): number => Math.ceil(Math.log2(s));
      const roots = new Map<number, Buffer>();
      const rootOf = (s: number): Buffer => {
        let r = roots.get(s);
        if (!r) {
          r = refRoot(leaves, 0, s);
          roots.set(s, r);
        }
        return r;
      };

      // Every leaf in the full tree.
      let longest = 0;
      for (let seq = 0; seq < size; seq += 1) {
        const p = await log.proveInclusion(seq, size);
        assert.ok(p.proof.length <= bound(size), `inclusion ${seq}/${size}: ${p.proof.length} > ${bound(size)}`);
        verifyInclusion(seq, size, leaves[seq] as Buffer, p.proof.map(hex), rootOf(size));
        longest = Math.max(longest, p.proof.length);
      }
      // The bound is reached, so it is not trivially satisfied.
      assert.equal(longest, bound(size));

      // Smaller trees, including powers of two and their neighbours.
      const sizes = new Set<number>([1, 2, 3]);
      for (let k = 2; k <= 1024; k *= 2) for (const s of [k - 1, k, k + 1]) if (s <= size) sizes.add(s);
      for (let s = 5; s <= size; s += 37) sizes.add(s);
      for (const s of sizes) {
        for (const seq of new Set([0, s >> 1, s - 1])) {
          const p = await log.proveInclusion(seq, s);
          assert.ok(p.proof.length <= bound(s), `inclusion ${seq}/${s}: ${p.proof.length} > ${bound(s)}`);
          verifyInclusion(seq, s, leaves[seq] as Buffer, p.proof.map(hex), rootOf(s));
        }
      }

      // Consistency from every old size to the full tree, and between sampled sizes.
      let longestConsistency = 0;
      for (let old = 1; old <= size; old += 1) {
        const c = await log.proveConsistency(old, size);
        assert.ok(c.proof.length <= bound(size) + 1, `consistency ${old}→${size}: ${c.proof.length} hashes`);
        verifyConsistency(old, size, c.proof.map(hex), rootOf(old), rootOf(size));
        longestConsistency = Math.max(longestConsistency, c.proof.length);
      }
      assert.ok(longestConsistency >= bound(size) - 1, `longest consistency proof is only ${longestConsistency}`);
      const sorted = [...sizes].sort((a, b) => a - b);
      for (const [i, a] of sorted.entries()) {
        for (const b of sorted.slice(i).filter((_, j) => j % 5 === 0)) {
          const c = await log.proveConsistency(a, b);
          assert.ok(c.proof.length <= bound(b) + 1, `consistency ${a}→${b}: ${c.proof.length} hashes`);
          verifyConsistency(a, b, c.proof.map(hex), rootOf(a), rootOf(b));
        }
      }
    });
  });
});
