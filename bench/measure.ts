import { readFileSync } from "node:fs";

export interface Percentiles {
  p50: number;
  p99: number;
  min: number;
  max: number;
}

export function percentiles(samplesUs: number[]): Percentiles {
  const s = [...samplesUs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
  return { p50: at(0.5), p99: at(0.99), min: s[0] as number, max: s[s.length - 1] as number };
}

/** RSS of a process and its descendants (the worker runs under an `unshare` parent). */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  let total = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let children = "";
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8");
  } catch {
    // No children file on this kernel: the process alone.
  }
  for (const child of children.trim().split(/\s+/).filter(Boolean)) total += rssKb(Number(child));
  return total;
}

