import type { AuditEntry } from "../entry.js";
import { CompactRange } from "../merkle/compact-range.js";
import { HASH_SIZE, sha256 } from "../merkle/hash.js";
import type { FailureKind, VerifyFailure } from "./report.js";
import type { LogSource } from "./source.js";

/** What a walk over the log has established so far; shared by the sequential and chunked walks. */
export interface WalkState {
  range: CompactRange;
  chain: Buffer;
  chainBeforeLast: Buffer;
  /** Blobs whose content is absent: sha256 → first referencing seq. */
  absentBlobs: Map<string, number>;
  redactions: Map<string, { seq: number; reason: string }>;
  lastStoredMatch: number;
  lastTrustedMatch: number;
  checkpointsVerified: number;
  trustedVerified: number;
}

/** Nothing established yet, over the given tree (an empty one for a walk from the start). */
export function newWalkState(range: CompactRange = new CompactRange()): WalkState {
  return {
    range,
    chain: Buffer.alloc(HASH_SIZE),
    chainBeforeLast: Buffer.alloc(HASH_SIZE),
    absentBlobs: new Map(),
    redactions: new Map(),
    lastStoredMatch: 0,
    lastTrustedMatch: 0,
    checkpointsVerified: 0,
    trustedVerified: 0,
  };
}

/** A verdict found mid-walk; caught at the top and turned into the report's failure. */
export class Failed extends Error {
  constructor(readonly failure: VerifyFailure) {
    super(failure.message);
  }
}

export function fail(kind: FailureKind, seq: number, message: string): never {
  throw new Failed({ kind, seq, message });
}

/** The `system` entry that records a blob's deletion. */
export function isRedaction(entry: AuditEntry): boolean {
  return entry.kind === "system" && entry.type === "blob.redacted";
}

export function noteRedaction(entry: AuditEntry, state: WalkState): void {
  if (!isRedaction(entry)) return;
  const sha = entry.data.sha256;
  const reason = entry.data.reason;
  if (typeof sha === "string") state.redactions.set(sha, { seq: entry.seq, reason: typeof reason === "string" ? reason : "" });
}

export async function checkBlobs(source: LogSource, entry: AuditEntry, state: WalkState): Promise<void> {
  for (const ref of entry.blobs) {
    const content = await source.blob(ref.sha256);
    if (content === undefined) {
      if (!state.absentBlobs.has(ref.sha256)) state.absentBlobs.set(ref.sha256, entry.seq);
    } else if (content.length !== ref.size || sha256(content).toString("hex") !== ref.sha256) {
      fail("modified", entry.seq, `content of blob ${ref.sha256} referenced by seq ${entry.seq} was replaced`);
    }
  }
}

/**
 * Checks the recomputed root at `size` against the signed checkpoints (the log's own and
 * the auditor's) of that size; `root` is called only when there is one, since computing
 * it costs hashes.
 */
export function checkRootsAt(size: number, root: () => Buffer, state: WalkState, stored: Map<number, Buffer>, trusted: Map<number, Buffer>): void {
  const storedRoot = stored.get(size);
  const trustedRoot = trusted.get(size);
  if (!storedRoot && !trustedRoot) return;
  const recomputed = root();
  if (storedRoot) {
    if (!storedRoot.equals(recomputed)) {
      fail("modified", state.lastStoredMatch, `entries ${state.lastStoredMatch}..${size - 1} do not match the signed checkpoint at size ${size}`);
    }
    state.lastStoredMatch = size;
    state.checkpointsVerified += 1;
  }
  if (trustedRoot) {
    if (!trustedRoot.equals(recomputed)) {
      fail("rolled-back", state.lastTrustedMatch, `the log's history after seq ${state.lastTrustedMatch - 1} differs from a trusted checkpoint at size ${size}`);
    }
    state.lastTrustedMatch = size;
    state.trustedVerified += 1;
  }
}
