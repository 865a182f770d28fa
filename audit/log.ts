import { formatCheckpoint } from "./checkpoint.js";
import type { JsonObject } from "./canonical.js";
import { type AuditEntry, type BlobRef, decodeEntry, type EntryKind, encodeAssembledEntry } from "./entry.js";
import { AuditError } from "./errors.js";
import { appendCheckpointFile } from "./export/checkpoint-file.js";
import { writeExport, type ExportSummary } from "./export/write-export.js";
import { CompactRange, perfectSubtreeLevels } from "./merkle/compact-range.js";
import { HASH_SIZE, leafHash, sha256 } from "./merkle/hash.js";
import { consistencyPath, inclusionPath, type NodeId, nodeKey, subtreeHash, withFetchedNodes } from "./merkle/prove.js";
import type { NoteSignerKey } from "./note/keys.js";
import { signNote } from "./note/signed-note.js";
import { type BlobRow, type EntryRow, LogStore } from "./store/log-store.js";
import { ROWS_PER_STATEMENT } from "./store/schema.js";
import { acquireWriterLock } from "./store/writer-lock.js";
import type { ChunkedOptions } from "./verify/chunked-walk.js";
import { DatabaseSource } from "./verify/db-source.js";
import type { VerifyReport } from "./verify/report.js";
import { verifyLog } from "./verify/verify-log.js";

export interface AuditLogOptions {
  /** Path of the SQLite file (created 0600 if missing). */
  path: string;
  /** Ed25519 key that signs checkpoints; its name is the log's origin. */
  signer: NoteSignerKey;
  /** A file outside the database that every checkpoint is appended to. */
  checkpointFile?: string;
  /** Sign a checkpoint once this many entries are past the last one (0: never by count). */
  checkpointEvery?: number;
  /** Sign a checkpoint this often while the log grows (0: never by time). */
  checkpointIntervalMs?: number;
  clock?: () => Date;
}

export interface BlobInput {
  content: Uint8Array | string;
  /** Media type, e.g. `text/plain` or `application/json`. */
  type: string;
}

export interface AppendInput {
  session?: string | null;
  actor: string;
  kind: EntryKind;
  type: string;
  data?: JsonObject;
  blobs?: BlobInput[];
}

export interface Appended {
  seq: number;
  ts: string;
  leafHash: string;
}

export interface SignedCheckpoint {
  size: number;
  rootHex: string;
  note: string;
}

export interface InclusionProof {
  seq: number;
  size: number;
  leafHash: string;
  rootHex: string;
  proof: string[];
}

export interface ConsistencyProof {
  oldSize: number;
  newSize: number;
  proof: string[];
}

interface Pending {
  row: EntryRow;
  blobs: BlobRow[];
  result: Appended;
  resolve: (value: Appended) => void;
  reject: (reason: unknown) => void;
}

/** Entries per transaction at most, so a sustained stream still commits regularly. */
const MAX_BATCH = 8192;
/** Callers released per turn of the event loop. */
const RELEASE_SLICE = 512;

function settleLater(): void {
  // Replaced by the promise's own resolve/reject before the entry is queued.
}

async function releaseInSlices(batch: Pending[]): Promise<void> {
  for (let i = 0; i < batch.length; i += RELEASE_SLICE) {
    if (i > 0) await new Promise((next) => setImmediate(next));
    for (const p of batch.slice(i, i + RELEASE_SLICE)) p.resolve(p.result);
  }
}

/** Node (level, index) lives in the row of the last leaf it covers, at offset level × 32. */
function rowOfNode(id: NodeId): number {
  return (id.index + 1) * 2 ** id.level - 1;
}

/** The node's hash sliced out of its row, or undefined when the row is missing or short. */
function nodeFromRows(rows: Map<number, Buffer>, id: NodeId): Buffer | undefined {
  const hash = rows.get(rowOfNode(id))?.subarray(id.level * HASH_SIZE, (id.level + 1) * HASH_SIZE);
  return hash?.length === HASH_SIZE ? hash : undefined;
}

export class AuditLog {
  private pending: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private failure: AuditError | undefined;
  private closed = false;
  private durable: { size: number; root: Buffer };
  private lastCheckpointSize: number;
  private checkpointing: Promise<SignedCheckpoint> | undefined;
  private autoCheckpointRunning = false;
  private timer: NodeJS.Timeout | undefined;
  private lastTs = { ms: Number.NaN, text: "" };
  private readonly clock: () => Date;

  private constructor(
    private readonly store: LogStore,
    private readonly options: AuditLogOptions,
    private range: CompactRange,
    private chain: Buffer,
    lastCheckpointSize: number,
    private readonly releaseLock: () => Promise<void>,
  ) {
    this.clock = options.clock ?? (() => new Date());
    this.durable = { size: range.size, root: range.root() };
    this.lastCheckpointSize = lastCheckpointSize;
    const interval = options.checkpointIntervalMs ?? 0;
    if (interval > 0) {
      this.timer = setInterval(() => void this.checkpointIfGrown(), interval);
      this.timer.unref();
    }
  }

  static async open(options: AuditLogOptions): Promise<AuditLog> {
    const releaseLock = await acquireWriterLock(options.path);
    let store: LogStore;
    try {
      store = await LogStore.open(options.path);
    } catch (err) {
      await releaseLock();
      throw new AuditError("AUDIT_STORAGE", `cannot open audit log: ${(err as Error).message}`, { cause: err });
    }
    try {
      const origin = options.signer.name;
      const storedVkey = await store.meta("vkey");
      if (storedVkey === undefined) {
        await store.setMeta({ origin, vkey: options.signer.vkey, created: new Date().toISOString() });
      } else if (storedVkey !== options.signer.vkey) {
        throw new AuditError("AUDIT_KEY_MISMATCH", "the signing key does not belong to this audit log");
      }
      const { range, chain } = await AuditLog.loadHead(store);
      const latest = await store.latestCheckpoint();
      const log = new AuditLog(store, options, range, chain, latest?.size ?? 0, releaseLock);
      if (range.size === 0) {
        await log.append({
          actor: "skillgate",
          kind: "system",
          type: "log.created",
          data: { origin, vkey: options.signer.vkey },
        });
      }
      return log;
    } catch (err) {
      await store.close().catch(() => undefined);
      await releaseLock();
      throw err;
    }
  }

  /** Rebuilds the in-memory right edge of the tree from the stored perfect subtrees. */
  private static async loadHead(store: LogStore): Promise<{ range: CompactRange; chain: Buffer }> {
    const last = await store.lastEntry();
    if (!last) return { range: new CompactRange(), chain: Buffer.alloc(HASH_SIZE) };
    const size = last.seq + 1;
    const ids: NodeId[] = [];
    let start = 0;
    for (const level of perfectSubtreeLevels(size)) {
      ids.push({ level, index: start / 2 ** level });
      start += 2 ** level;
    }
    const rows = await store.nodeRows(ids.map(rowOfNode));
    const hashes = ids.map((id) => {
      const hash = nodeFromRows(rows, id);
      if (!hash) {
        throw new AuditError("AUDIT_STORAGE", `audit log is damaged near seq ${rowOfNode(id)}; run 'skillgate audit verify'`);
      }
      return hash;
    });
    let prev: string;
    try {
      prev = decodeEntry(last.bytes).prev;
    } catch {
      throw new AuditError("AUDIT_STORAGE", `audit log is damaged at seq ${last.seq}; run 'skillgate audit verify'`);
    }
    const chain = sha256(Buffer.from(prev, "hex"), leafHash(last.bytes));
    return { range: CompactRange.fromPerfectSubtrees(size, hashes), chain };
  }

  get origin(): string {
    return this.options.signer.name;
  }

  get vkey(): string {
    return this.options.signer.vkey;
  }

  /** Entries acknowledged as durable. */
  get size(): number {
    return this.durable.size;
  }

  /**
   * Appends one entry. Resolves once it is committed to disk; concurrent callers share a
   * transaction (group commit). Sequence, chain and tree are assigned synchronously here,
   * so entries are ordered by call order.
   */
  append(input: AppendInput): Promise<Appended> {
    if (this.closed) return Promise.reject(new AuditError("AUDIT_CLOSED", "audit log is closed"));
    if (this.failure) return Promise.reject(this.failure);
    let prepared: Pending;
    try {
      prepared = this.prepare(input);
    } catch (err) {
      return Promise.reject(err);
    }
    const done = new Promise<Appended>((resolve, reject) => {
      prepared.resolve = resolve;
      prepared.reject = reject;
    });
    this.pending.push(prepared);
    if (!this.flushing) this.flushing = new Promise((finished) => setImmediate(() => void this.flush().then(finished)));
    return done;
  }

  /** ISO time of now; formatting a Date costs as much as a hash, so reuse it within a millisecond. */
  private timestamp(): string {
    const now = this.clock();
    const ms = now.getTime();
    if (ms !== this.lastTs.ms) this.lastTs = { ms, text: now.toISOString() };
    return this.lastTs.text;
  }

  private prepare(input: AppendInput): Pending {
    const blobs: BlobRow[] = [];
    const refs: BlobRef[] = [];
    for (const blob of input.blobs ?? []) {
      const content = typeof blob.content === "string" ? Buffer.from(blob.content, "utf8") : Buffer.from(blob.content);
      const digest = sha256(content).toString("hex");
      refs.push({ sha256: digest, size: content.length, type: blob.type });
      blobs.push({ sha256: digest, type: blob.type, size: content.length, content });
    }
    const seq = this.range.size;
    const ts = this.timestamp();
    const entry: AuditEntry = {
      v: 1,
      seq,
      ts,
      session: input.session ?? null,
      actor: input.actor,
      kind: input.kind,
      type: input.type,
      data: input.data ?? {},
      blobs: refs,
      prev: this.chain.toString("hex"),
    };
    const bytes = encodeAssembledEntry(entry);
    const leaf = leafHash(bytes);
    const nodes = Buffer.concat(this.range.append(leaf).map((node) => node.hash));
    this.chain = sha256(this.chain, leaf);
    return {
      row: { seq, bytes, nodes },
      blobs,
      result: { seq, ts, leafHash: leaf.toString("hex") },
      resolve: settleLater,
      reject: settleLater,
    };
  }

  /**
   * Group commit, pipelined: a transaction stays open while entries keep arriving, and
   * each chunk is handed to SQLite (which works on its own thread) as soon as it is
   * ready, so preparing the next entries overlaps writing the last ones. Callers are
   * released a slice at a time for the same reason: their next appends then reach the
   * database while later slices are still being released.
   */
  private async flush(): Promise<void> {
    while (this.pending.length > 0 && !this.failure) {
      const batch: Pending[] = [];
      let head: { size: number; root: Buffer } | undefined;
      try {
        head = await this.store.transaction(async (tx) => {
          for (;;) {
            const chunk = this.pending.splice(0, ROWS_PER_STATEMENT);
            for (const p of chunk) batch.push(p);
            await tx.insert(
              chunk.map((p) => p.row),
              chunk.flatMap((p) => p.blobs),
            );
            if (this.pending.length === 0) await new Promise((next) => setImmediate(next));
            if (this.pending.length === 0 || batch.length >= MAX_BATCH) break;
          }
          const size = (batch[batch.length - 1] as Pending).row.seq + 1;
          // Entries past the batch may already be prepared; their nodes are not ours to sign.
          const root = size === this.range.size ? this.range.root() : await this.rootFromNodes(size, (ids) => tx.nodeRows(ids));
          return { size, root };
        });
      } catch (err) {
        // Memory is now ahead of disk: refuse every further append rather than write a fork.
        this.failure = new AuditError("AUDIT_FAILED", "audit log write failed; the log refuses further appends", {
          cause: err,
        });
        for (const p of [...batch, ...this.pending]) p.reject(this.failure);
        this.pending = [];
        break;
      }
      this.durable = head;
      void releaseInSlices(batch);
      const every = this.options.checkpointEvery ?? 0;
      if (every > 0 && head.size - this.lastCheckpointSize >= every) void this.checkpointIfGrown();
    }
    this.flushing = undefined;
  }

  /** Automatic checkpoints: at most one in flight, so a burst of commits signs once. */
  private async checkpointIfGrown(): Promise<void> {
    if (this.autoCheckpointRunning || this.durable.size <= this.lastCheckpointSize || this.failure) return;
    this.autoCheckpointRunning = true;
    try {
      await this.checkpoint();
    } catch {
      // A failed automatic checkpoint is retried at the next trigger; appends are unaffected.
    } finally {
      this.autoCheckpointRunning = false;
    }
  }

  /** Signs a checkpoint of everything durable now, stores it and appends it to the external file. */
  checkpoint(): Promise<SignedCheckpoint> {
    if (this.failure) return Promise.reject(this.failure);
    const run = async (): Promise<SignedCheckpoint> => {
      const { size, root } = this.durable;
      const latest = await this.store.latestCheckpoint();
      if (latest && latest.size === size) return { size, rootHex: root.toString("hex"), note: latest.note };
      const note = signNote(formatCheckpoint({ origin: this.origin, size, root }), this.options.signer);
      await this.store.insertCheckpoint(size, note, this.clock().toISOString());
      if (this.options.checkpointFile) await appendCheckpointFile(this.options.checkpointFile, note);
      this.lastCheckpointSize = Math.max(this.lastCheckpointSize, size);
      return { size, rootHex: root.toString("hex"), note };
    };
    const previous = this.checkpointing ?? Promise.resolve(undefined);
    const next = previous.then(run, run);
    this.checkpointing = next;
    return next;
  }

  /** Waits until every append made so far is durable (or failed). */
  async settle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private rootFromNodes(size: number, fetchRows: (seqs: number[]) => Promise<Map<number, Buffer>>): Promise<Buffer> {
    return withFetchedNodes((read) => subtreeHash(read, 0, size), (ids) => this.readNodes(ids, fetchRows));
  }

  private async readNodes(
    ids: NodeId[],
    fetchRows: (seqs: number[]) => Promise<Map<number, Buffer>> = (seqs) => this.store.nodeRows(seqs),
  ): Promise<Map<string, Buffer>> {
    const rows = await fetchRows([...new Set(ids.map(rowOfNode))]);
    const nodes = new Map<string, Buffer>();
    for (const id of ids) {
      const hash = nodeFromRows(rows, id);
      if (hash) nodes.set(nodeKey(id), hash);
    }
    return nodes;
  }

  private checkSize(size: number, what: string): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.durable.size) {
      throw new AuditError("AUDIT_OUT_OF_RANGE", `${what} ${size} is outside the log (size ${this.durable.size})`);
    }
  }

  /** Root of the first `size` entries; O(log n) stored nodes. */
  async rootAt(size: number): Promise<Buffer> {
    this.checkSize(size, "size");
    if (size === this.durable.size) return this.durable.root;
    if (size === 0) return new CompactRange().root();
    return this.rootFromNodes(size, (seqs) => this.store.nodeRows(seqs));
  }

  async proveInclusion(seq: number, size: number = this.durable.size): Promise<InclusionProof> {
    this.checkSize(size, "tree size");
    if (!Number.isSafeInteger(seq) || seq < 0 || seq >= size) {
      throw new AuditError("AUDIT_OUT_OF_RANGE", `seq ${seq} is not in a tree of size ${size}`);
    }
    const proof = await withFetchedNodes(
      (read) => ({ path: inclusionPath(read, seq, 0, size), leaf: read({ level: 0, index: seq }) }),
      (ids) => this.readNodes(ids),
    );
    return {
      seq,
      size,
      leafHash: proof.leaf.toString("hex"),
      rootHex: (await this.rootAt(size)).toString("hex"),
      proof: proof.path.map((h) => h.toString("hex")),
    };
  }

  async proveConsistency(oldSize: number, newSize: number = this.durable.size): Promise<ConsistencyProof> {
    this.checkSize(newSize, "new size");
    this.checkSize(oldSize, "old size");
    if (oldSize > newSize) throw new AuditError("AUDIT_OUT_OF_RANGE", "old size is larger than new size");
    const path =
      oldSize === 0 || oldSize === newSize
        ? []
        : await withFetchedNodes(
            (read) => consistencyPath(read, oldSize, newSize),
            (ids) => this.readNodes(ids),
          );
    return { oldSize, newSize, proof: path.map((h) => h.toString("hex")) };
  }

  async entry(seq: number): Promise<{ entry: AuditEntry; bytes: Buffer } | undefined> {
    const row = await this.store.entry(seq);
    return row ? { entry: decodeEntry(row.bytes), bytes: row.bytes } : undefined;
  }

  async query(filter: { session?: string; kind?: string; fromSeq?: number; limit: number }): Promise<AuditEntry[]> {
    const rows = await this.store.query(filter);
    return rows.map((row) => decodeEntry(row.bytes));
  }

  async blob(sha256Hex: string): Promise<Buffer | undefined> {
    return (await this.store.blob(sha256Hex))?.content;
  }

  /**
   * Deletes a blob's content and records why, under a fresh signed checkpoint. The
   * entries that referenced it keep its hash, so proofs still hold and verification
   * reports the blob as redacted.
   */
  async redact(sha256Hex: string, reason: string, actor: string): Promise<Appended> {
    const blob = await this.store.blob(sha256Hex);
    if (!blob) throw new AuditError("AUDIT_BLOB_NOT_FOUND", `no stored blob ${sha256Hex}`);
    const appended = await this.append({
      actor,
      kind: "system",
      type: "blob.redacted",
      data: { sha256: sha256Hex, size: blob.size, reason },
    });
    // Sign the redaction before deleting: verification only honours signed redactions.
    await this.checkpoint();
    await this.store.deleteBlob(sha256Hex);
    return appended;
  }

  async verify(options: { trustedCheckpoints?: string[] } & ChunkedOptions = {}): Promise<VerifyReport> {
    await this.settle();
    const source = new DatabaseSource(this.store, this.origin, this.vkey);
    return verifyLog(source, { ...options, key: this.options.signer, keyPinned: true });
  }

  /** Writes a self-contained export (entries, blobs, checkpoints, vkey) after a fresh checkpoint. */
  async export(dir: string): Promise<ExportSummary> {
    await this.settle();
    await this.checkpoint();
    return writeExport(new DatabaseSource(this.store, this.origin, this.vkey), dir);
  }

  /** Flushes, writes a final checkpoint and closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.settle();
    if (!this.failure && this.durable.size > this.lastCheckpointSize) await this.checkpoint().catch(() => undefined);
    await this.checkpointing?.catch(() => undefined);
    await this.store.close();
    await this.releaseLock();
  }
}
