import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { CompactRange } from "../merkle/compact-range.js";
import { HASH_SIZE } from "../merkle/hash.js";
import { type ChunkResult, ChunkResultSchema, type ChunkTask } from "./chunk.js";
import type { ChunkSource, LogSource } from "./source.js";
import { checkBlobs, checkRootsAt, Failed, newWalkState, noteRedaction, type WalkState } from "./walk-state.js";

export interface ChunkedOptions {
  /** Worker threads; default one per available core. Fewer than 1 turns the chunked walk off. */
  workers?: number;
  /** Chunks hold 2^chunkLevel entries; default 14 (16,384). */
  chunkLevel?: number;
}

const DEFAULT_CHUNK_LEVEL = 14;
const ZERO_CHAIN = "00".repeat(HASH_SIZE);

/** Splits [0, size) into aligned chunks, each told which of the wanted sizes fall strictly inside it. */
function planChunks(size: number, level: number, wanted: number[]): ChunkTask[] {
  const span = 2 ** level;
  const tasks: ChunkTask[] = [];
  for (let start = 0, index = 0; start < size; start += span, index++) {
    const end = Math.min(size, start + span);
    tasks.push({ index, start, end, level, sizes: wanted.filter((s) => s > start && s < start + span && s <= end) });
  }
  return tasks;
}

/** Runs the tasks on a small pool of worker threads; resolves with results in task order, once every thread has exited. */
function runOnWorkers(source: ChunkSource, tasks: ChunkTask[], workers: number): Promise<ChunkResult[] | undefined> {
  const url = new URL("./chunk-worker.js", import.meta.url);
  const pool = Array.from({ length: Math.min(workers, tasks.length) }, () => new Worker(url, { workerData: { path: source.path } }));
  const results: ChunkResult[] = new Array(tasks.length);
  let next = 0;
  let done = 0;
  let outcome: ChunkResult[] | undefined;
  let closing = false;
  const close = (value: ChunkResult[] | undefined) => {
    if (closing) return;
    closing = true;
    outcome = value;
    for (const worker of pool) worker.postMessage("close");
  };
  const feed = (worker: Worker) => {
    const task = tasks[next++];
    if (task && !closing) worker.postMessage(task);
  };
  const exits = pool.map(
    (worker) =>
      new Promise<void>((exited) => {
        worker.on("message", (message: unknown) => {
          const parsed = ChunkResultSchema.safeParse(message);
          if (!parsed.success || !parsed.data.ok) return close(undefined);
          results[parsed.data.index] = parsed.data;
          if (++done === tasks.length) return close(results);
          feed(worker);
        });
        // A thread that cannot run (a locked file, a missing binding) only costs speed.
        worker.on("error", () => close(undefined));
        worker.on("exit", () => {
          close(undefined);
          exited();
        });
        feed(worker);
      }),
  );
  return Promise.all(exits).then(() => outcome);
}

/** Joins the chunks: the chain across their edges, the tree above them, and roots at the wanted sizes. */
function join(results: ChunkResult[], tasks: ChunkTask[]): { range: CompactRange; roots: Map<number, Buffer> } | undefined {
  const above = new CompactRange();
  const roots = new Map<number, Buffer>();
  let chain = ZERO_CHAIN;
  let last: string[] = [];
  for (const [i, result] of results.entries()) {
    const task = tasks[i] as ChunkTask;
    if (!result.ok || result.firstPrev !== chain) return undefined;
    chain = result.lastChain;
    for (const partial of result.partials) {
      const hashes = [...above.subtreeHashes(), ...partial.hashes.map((h) => Buffer.from(h, "hex"))];
      roots.set(partial.size, CompactRange.fromPerfectSubtrees(partial.size, hashes).root());
      if (partial.size === task.end) last = partial.hashes;
    }
    if (result.root === null) continue;
    const completed = above.append(Buffer.from(result.root, "hex"));
    if (result.tailNodes !== null) {
      const expected = Buffer.concat(completed.slice(1).map((c) => c.hash));
      if (!Buffer.from(result.tailNodes, "hex").equals(expected)) return undefined;
    }
    roots.set(task.end, above.root());
    last = [];
  }
  const size = tasks[tasks.length - 1]?.end ?? 0;
  const range = CompactRange.fromPerfectSubtrees(size, [...above.subtreeHashes(), ...last.map((h) => Buffer.from(h, "hex"))]);
  return { range, roots };
}

/**
 * The whole-log walk split across worker threads. It only ever accepts: on any doubt
 * (a chunk that does not check, a join that does not fit, a worker that fails) it
 * returns undefined and the caller walks sequentially, so every failure is named by the
 * one sequential classifier. Speed comes from the per-entry work (decoding, the leaf
 * and chain hashes, the tree below chunk level) running on all cores.
 */
export async function walkInChunks(
  source: LogSource,
  stored: Map<number, Buffer>,
  trusted: Map<number, Buffer>,
  options: ChunkedOptions,
): Promise<WalkState | undefined> {
  const workers = options.workers ?? availableParallelism();
  const level = options.chunkLevel ?? DEFAULT_CHUNK_LEVEL;
  if (workers < 1 || !source.chunkSource) return undefined;
  const chunkSource = await source.chunkSource();
  // Below two chunks, starting threads costs more than it saves.
  if (!chunkSource || chunkSource.size <= 2 ** level) return undefined;
  const size = chunkSource.size;
  const checkpointSizes = [...new Set([...stored.keys(), ...trusted.keys()])].sort((a, b) => a - b);
  // A checkpoint past the end means truncation; the sequential walk names it.
  if (checkpointSizes.some((s) => s > size)) return undefined;
  const wanted = [...checkpointSizes.filter((s) => s > 0), size];
  const tasks = planChunks(size, level, wanted);
  const results = await runOnWorkers(chunkSource, tasks, workers);
  const joined = results && join(results, tasks);
  if (!joined) return undefined;

  const state = newWalkState(joined.range);
  try {
    for (const s of checkpointSizes) {
      const root = joined.roots.get(s);
      if (root) checkRootsAt(s, () => root, state, stored, trusted);
    }
    for (const result of results) {
      if (!result.ok) return undefined;
      for (const entry of result.specials) {
        noteRedaction(entry, state);
        await checkBlobs(source, entry, state);
      }
    }
  } catch (err) {
    if (err instanceof Failed) return undefined;
    throw err;
  }
  return state;
}
