import { type AuditEntry, decodeEntry } from "../entry.js";
import { HASH_SIZE, leafHash, sha256 } from "../merkle/hash.js";
import type { NoteVerifierKey } from "../note/keys.js";
import { checkCheckpoint } from "./checkpoints.js";
import type { FailureKind, RedactedBlob, VerifyFailure, VerifyReport } from "./report.js";
import { type ChunkedOptions, walkInChunks } from "./chunked-walk.js";
import { entriesOf, type LogSource, type SourceEntry } from "./source.js";
import { checkBlobs, checkRootsAt, Failed, fail, newWalkState, noteRedaction, type WalkState } from "./walk-state.js";

export interface VerifyOptions extends ChunkedOptions {
  key: NoteVerifierKey;
  keyPinned: boolean;
  /** Signed checkpoints the auditor holds from earlier (detects truncation and rollback). */
  trustedCheckpoints?: string[];
}

/** Returns size → root for every checkpoint that verifies; a bad one fails verification. */
function checkedRoots(notes: string[], origin: string, key: NoteVerifierKey, kind: FailureKind): Map<number, Buffer> {
  const roots = new Map<number, Buffer>();
  for (const note of notes) {
    const checked = checkCheckpoint(note, origin, key);
    if (!checked.ok) fail("bad-signature", Math.max(0, checked.size - 1), checked.message);
    const { size, root } = checked.checkpoint;
    const seen = roots.get(size);
    if (seen && !seen.equals(root)) {
      fail(kind, Math.max(0, size - 1), `two validly signed checkpoints disagree about size ${size}`);
    }
    roots.set(size, root);
  }
  return roots;
}

/** Why entry `position` carries the wrong seq: looks at the whole log once to tell. */
async function classifySeqMismatch(
  source: LogSource,
  position: number,
  found: number,
  state: WalkState,
  prev: string,
): Promise<never> {
  // The genuine entry follows a forged copy of itself: it still chains from the state
  // before that copy, so the log stopped being trustworthy at the copy, one back.
  if (found === position - 1 && prev === state.chainBeforeLast.toString("hex")) {
    fail("inserted", position - 1, `an extra entry claiming seq ${found} was inserted at position ${found}`);
  }
  const positions = new Map<number, number>();
  for await (const stored of entriesOf(source)) {
    try {
      const { seq } = decodeEntry(stored.bytes);
      if (!positions.has(seq)) positions.set(seq, stored.position);
    } catch {
      // Unreadable rows are judged when the main walk reaches them.
    }
  }
  if (found < position) fail("inserted", position, `entry at position ${position} repeats seq ${found}`);
  const laterPosition = positions.get(position);
  if (laterPosition !== undefined && laterPosition > position) {
    fail("reordered", position, `seq ${position} is stored at position ${laterPosition}, after seq ${found}`);
  }
  fail("missing", position, `seq ${position} is missing (next stored entry is seq ${found})`);
}

/**
 * An entry that breaks the chain at position p, followed by one carrying the same seq,
 * was put in front of the genuine entry: an insertion, not a modification.
 */
async function failIfInsertedAt(source: LogSource, position: number, seq: number): Promise<void> {
  for await (const stored of entriesOf(source)) {
    if (stored.position < position + 1) continue;
    try {
      if (decodeEntry(stored.bytes).seq === seq) fail("inserted", position, `an extra entry claiming seq ${seq} was inserted at position ${position}`);
    } catch (err) {
      if (err instanceof Failed) throw err;
    }
    return;
  }
}

/**
 * Checks one entry against the walk so far. Synchronous on the common path; only a
 * failure (to classify it) or a blob reference (to read its content) needs the source.
 */
function checkEntry(source: LogSource, stored: SourceEntry, state: WalkState): Promise<void> | undefined {
  const p = stored.position;
  let entry: AuditEntry;
  try {
    entry = decodeEntry(stored.bytes);
  } catch (err) {
    fail("modified", p, `entry ${p} is not a canonical audit entry (${(err as Error).message})`);
  }
  const leaf = leafHash(stored.bytes);
  const chainHex = state.chain.toString("hex");
  const leafMatches = !stored.nodes || stored.nodes.subarray(0, HASH_SIZE).equals(leaf);
  if (entry.seq !== p || entry.prev !== chainHex || !leafMatches) return explainBadEntry(source, stored, entry, leaf, state);
  advance(stored, leaf, state);
  noteRedaction(entry, state);
  return entry.blobs.length > 0 ? checkBlobs(source, entry, state) : undefined;
}

async function explainBadEntry(
  source: LogSource,
  stored: SourceEntry,
  entry: AuditEntry,
  leaf: Buffer,
  state: WalkState,
): Promise<never> {
  const p = stored.position;
  if (entry.seq !== p) await classifySeqMismatch(source, p, entry.seq, state, entry.prev);
  await failIfInsertedAt(source, p, entry.seq);
  if (entry.prev !== state.chain.toString("hex")) {
    // With stored leaf hashes (live DB) a modified entry fails its own check first; from
    // an export alone, the break shows at the successor, so the suspect is the entry before.
    const suspect = p === 0 ? 0 : p - 1;
    fail("modified", suspect, `hash chain breaks between seq ${suspect} and ${p}`);
  }
  fail("modified", p, `entry ${p} does not match its stored leaf hash (${leaf.toString("hex").slice(0, 12)}…)`);
}

/** Extends the recomputed tree and chain by one leaf, checking stored nodes as it goes. */
function advance(stored: SourceEntry, leaf: Buffer, state: WalkState): void {
  const completed = state.range.append(leaf);
  if (stored.nodes && !Buffer.concat(completed.map((c) => c.hash)).equals(stored.nodes)) {
    fail("modified", stored.position, `stored tree nodes at seq ${stored.position} do not match the entries`);
  }
  state.chainBeforeLast = state.chain;
  state.chain = sha256(state.chain, leaf);
}

/**
 * Absent blob content is accepted only with a redaction entry that a signature covers:
 * anyone with write access can append an unsigned entry, but not sign one.
 */
function resolveBlobs(state: WalkState, signedSize: number): RedactedBlob[] {
  const redacted: RedactedBlob[] = [];
  for (const [sha, seq] of state.absentBlobs) {
    const redaction = state.redactions.get(sha);
    if (!redaction || redaction.seq < seq) {
      fail("modified", seq, `content of blob ${sha} referenced by seq ${seq} was deleted without a redaction entry`);
    }
    if (redaction.seq >= signedSize) {
      fail("modified", seq, `content of blob ${sha} was deleted, but its redaction entry (seq ${redaction.seq}) is not covered by a signed checkpoint`);
    }
    redacted.push({ sha256: sha, seq, redactedAt: redaction.seq, reason: redaction.reason });
  }
  return redacted;
}

/**
 * Walks the whole log once: every entry canonical and in sequence, the hash chain and
 * Merkle tree recomputed from the entry bytes alone, every blob present or properly
 * redacted, and every signed checkpoint (the log's own and the auditor's) matching the
 * recomputed root at its size. Stops at the first failure and says where it is.
 */
export async function verifyLog(source: LogSource, options: VerifyOptions): Promise<VerifyReport> {
  let state = newWalkState();
  const report = (failure?: VerifyFailure, redacted: RedactedBlob[] = []): VerifyReport => ({
    ok: failure === undefined,
    origin: source.origin,
    entries: state.range.size,
    rootHex: state.range.root().toString("hex"),
    checkpointsVerified: state.checkpointsVerified,
    trustedCheckpointsVerified: state.trustedVerified,
    signedSize: Math.max(state.lastStoredMatch, state.lastTrustedMatch),
    keyPinned: options.keyPinned,
    redacted,
    ...(failure ? { failure } : {}),
  });
  try {
    const stored = checkedRoots(await source.checkpoints(), source.origin, options.key, "modified");
    const trusted = checkedRoots(options.trustedCheckpoints ?? [], source.origin, options.key, "rolled-back");
    const chunked = await walkInChunks(source, stored, trusted, options);
    if (chunked) state = chunked;
    else {
      for await (const page of source.pages()) {
        for (const entry of page) {
          const pending = checkEntry(source, entry, state);
          if (pending) await pending;
          checkRootsAt(state.range.size, () => state.range.root(), state, stored, trusted);
        }
      }
    }
    const size = state.range.size;
    const beyond = (roots: Map<number, Buffer>) => Math.max(0, ...[...roots.keys()].filter((s) => s > size));
    if (beyond(stored) > 0) {
      fail("truncated", size, `the log has ${size} entries but its own signed checkpoint covers ${beyond(stored)}`);
    }
    if (beyond(trusted) > 0) {
      fail("truncated", size, `the log has ${size} entries but a trusted checkpoint covers ${beyond(trusted)}: cut off or rolled back`);
    }
    return report(undefined, resolveBlobs(state, Math.max(state.lastStoredMatch, state.lastTrustedMatch)));
  } catch (err) {
    if (err instanceof Failed) return report(err.failure);
    throw err;
  }
}
