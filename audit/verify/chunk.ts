import { z } from "zod";
import { type AuditEntry, decodeEntry, EntrySchema } from "../entry.js";
import { CompactRange } from "../merkle/compact-range.js";
import { HASH_SIZE, leafHash, sha256 } from "../merkle/hash.js";
import { isRedaction } from "./walk-state.js";

/**
 * One aligned slice of the log, checked on its own: entries [start, end) where start is
 * a multiple of 2^level, so every tree node of level ≤ level completed inside it lies
 * wholly inside it. What spans chunks (the chain's joins, higher nodes, roots at
 * checkpoint sizes) is left for the caller to join from the results.
 */
export const ChunkTaskSchema = z
  .object({
    index: z.number().int().nonnegative(),
    start: z.number().int().nonnegative(),
    end: z.number().int().positive(),
    level: z.number().int().min(0).max(40),
    /** Sizes strictly inside the chunk whose perfect subtrees (from `start`) are wanted. */
    sizes: z.array(z.number().int().positive()),
  })
  .strict();
export type ChunkTask = z.infer<typeof ChunkTaskSchema>;

const Hex = z.string().regex(/^(?:[0-9a-f]{2})*$/);
const Hash = z.string().regex(/^[0-9a-f]{64}$/);

export const ChunkResultSchema = z.discriminatedUnion("ok", [
  z
    .object({
      ok: z.literal(true),
      index: z.number().int().nonnegative(),
      /** The first entry's `prev`, which the previous chunk's last chain hash must equal. */
      firstPrev: Hash,
      /** Chain hash after the last entry. */
      lastChain: Hash,
      /** Hash of the chunk's perfect subtree; only for a full chunk. */
      root: Hash.nullable(),
      partials: z.array(z.object({ size: z.number().int().positive(), hashes: z.array(Hash) }).strict()),
      /** Stored nodes above the chunk's level at its last leaf (hex), for the caller to check; null without stored nodes. */
      tailNodes: Hex.nullable(),
      /** Entries that reference blobs or record a redaction: the caller reads blobs, so it judges these. */
      specials: z.array(EntrySchema),
    })
    .strict(),
  z.object({ ok: z.literal(false), index: z.number().int().nonnegative() }).strict(),
]);
export type ChunkResult = z.infer<typeof ChunkResultSchema>;

export interface ChunkRow {
  /** The row's own seq where storage has one (a database); an export has only positions. */
  seq?: number;
  bytes: Buffer;
  nodes?: Buffer;
}

function isSpecial(entry: AuditEntry): boolean {
  return entry.blobs.length > 0 || isRedaction(entry);
}

/**
 * Checks a chunk the way the sequential walk checks each entry: canonical, in sequence,
 * chained, and (with stored nodes) matching the tree. Any doubt yields `ok: false`, never
 * a verdict: the caller then walks the whole log sequentially, which names the failure.
 */
export function checkChunk(task: ChunkTask, rows: ChunkRow[]): ChunkResult {
  const doubt: ChunkResult = { ok: false, index: task.index };
  const expected = task.end - task.start;
  const first = rows[0];
  if (rows.length !== expected || !first) return doubt;
  const range = new CompactRange();
  const wanted = new Set(task.sizes.map((size) => size - task.start));
  const partials: { size: number; hashes: string[] }[] = [];
  const specials: AuditEntry[] = [];
  let chain: Buffer | undefined;
  let firstPrev = "";
  let tailNodes: string | null = null;
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as ChunkRow;
    const position = task.start + i;
    if (row.seq !== undefined && row.seq !== position) return doubt;
    let entry: AuditEntry;
    try {
      entry = decodeEntry(row.bytes);
    } catch {
      return doubt;
    }
    if (entry.seq !== position) return doubt;
    if (chain === undefined) {
      firstPrev = entry.prev;
      chain = Buffer.from(entry.prev, "hex");
    } else if (entry.prev !== chain.toString("hex")) {
      return doubt;
    }
    const leaf = leafHash(row.bytes);
    const completed = range.append(leaf);
    if (row.nodes) {
      const mine = Buffer.concat(completed.map((c) => c.hash));
      if (!row.nodes.subarray(0, mine.length).equals(mine)) return doubt;
      const top = completed[completed.length - 1]?.level ?? 0;
      if (top === task.level) tailNodes = row.nodes.subarray(mine.length).toString("hex");
      else if (row.nodes.length !== mine.length) return doubt;
    }
    chain = sha256(chain, leaf);
    if (isSpecial(entry)) specials.push(entry);
    if (wanted.has(i + 1)) partials.push({ size: task.start + i + 1, hashes: range.subtreeHashes().map((h) => h.toString("hex")) });
  }
  const full = expected === 2 ** task.level;
  const nodesStored = first.nodes !== undefined;
  if (full && nodesStored && tailNodes === null) return doubt;
  if (!chain || (tailNodes !== null && tailNodes.length % (2 * HASH_SIZE) !== 0)) return doubt;
  return {
    ok: true,
    index: task.index,
    firstPrev,
    lastChain: chain.toString("hex"),
    root: full ? range.root().toString("hex") : null,
    partials,
    tailNodes: nodesStored ? (tailNodes ?? "") : null,
    specials,
  };
}
