import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** Which way is good: latencies and memory want lower, rates want higher. */
export type Better = "lower" | "higher";

/**
 * One figure over repeated runs. `p50` and `p99` are over every sample of every run (a
 * sample is one timed operation, or one run's rate); `p99` is the tail in the bad direction,
 * so for a rate it is the value 99% of samples beat. `min`–`max` is the spread of the
 * per-run medians: how much the figure moved between runs.
 */
export interface Summary {
  p50: number;
  p99: number;
  min: number;
  max: number;
  runs: number;
  samples: number;
}

/** Linear interpolation between closest ranks, so the median of two samples is their mean. */
function quantile(sorted: number[], q: number): number {
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo);
}

export function median(values: number[]): number {
  return quantile([...values].sort((a, b) => a - b), 0.5);
}

export function summarize(runs: number[][], better: Better): Summary {
  const pooled = runs.flat().sort((a, b) => a - b);
  if (pooled.length === 0) throw new Error("no samples to summarize");
  const medians = runs.filter((r) => r.length > 0).map(median);
  return {
    p50: quantile(pooled, 0.5),
    p99: quantile(pooled, better === "lower" ? 0.99 : 0.01),
    min: Math.min(...medians),
    max: Math.max(...medians),
    runs: medians.length,
    samples: pooled.length,
  };
}

/** Runs `once` n times in sequence and returns each call's wall time in µs. */
export async function timeEach(n: number, once: (i: number) => unknown): Promise<number[]> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await once(i);
    us.push((performance.now() - start) * 1000);
  }
  return us;
}

/** Collects `runs` independent runs of a measurement. */
export async function repeat<T>(runs: number, once: (run: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < runs; i++) out.push(await once(i));
  return out;
}

/** A /proc figure (kB) of a process and its descendants (the worker runs under an `unshare` parent). */
/** Direct children of a process (none where the kernel has no children file). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function treeKb(pid: number, file: string, field: RegExp): number {
  const own = Number(field.exec(readFileSync(`/proc/${pid}/${file}`, "utf8"))?.[1] ?? 0);
  return childPids(pid).reduce((total, child) => total + treeKb(child, file, field), own);
}

/** Resident set of a process tree: pages shared between its processes (the node binary) count once per process. */
export function rssKb(pid: number): number {
  return treeKb(pid, "status", /VmRSS:\s+(\d+)/);
}

/** Proportional set size of a process tree: shared pages split between the processes sharing them. */
export function pssKb(pid: number): number {
  return treeKb(pid, "smaps_rollup", /^Pss:\s+(\d+)/m);
}

/** Deterministic pseudo-random numbers below a bound, so two runs use the same data. */
export function picker(seed: number): (below: number) => number {
  let state = seed;
  return (below) => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % below;
  };
}
