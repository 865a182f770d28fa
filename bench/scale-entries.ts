import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog, generateNoteKey } from "../audit/index.js";
import { appendMany } from "./audit.js";
import type { Curve } from "./curve.js";
import { picker, summarize, timeEach } from "./measure.js";
import { fmt } from "./report.js";

interface AtSize {
  entries: number;
  appends: number;
  inclusionHashes: number;
  consistencyHashes: number;
  inclusionUs: { p50: number; p99: number };
  consistencyUs: { p50: number; p99: number };
}

/** RFC 6962 bounds: inclusion ≤ ⌈log2 n⌉ hashes, consistency ≤ 2⌈log2 n⌉. */
function logarithmic(points: AtSize[]): boolean {
  return points.every((p) => p.inclusionHashes <= Math.ceil(Math.log2(p.entries)) && p.consistencyHashes <= 2 * Math.ceil(Math.log2(p.entries)));
}

/**
 * One log grown from 10^3 to 10^6 entries (10^4 in the quick run). At each size: the
 * durable append rate of a fixed batch, then inclusion and consistency proofs for random
 * entries and earlier sizes: how many hashes they hold and how long the log takes to make one.
 */
export async function scaleEntries(options: { quick: boolean }): Promise<Curve[]> {
  const sizes = options.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000];
  const batch = options.quick ? 1_000 : 10_000;
  const proofs = options.quick ? 50 : 500;
  const pick = picker(7);
  const dir = mkdtempSync(join(tmpdir(), "sg-bench-entries-"));
  const points: AtSize[] = [];
  try {
    const log = await AuditLog.open({ path: join(dir, "audit.db"), signer: generateNoteKey("bench.local/audit") });
    try {
      for (const size of sizes) {
        // The timed batch is what takes the log to this size (at most `batch` entries).
        const timed = Math.min(batch, size);
        if (log.size < size - timed) await appendMany(log, size - timed - log.size, 4096);
        const ms = await appendMany(log, timed, 1024);
        const n = log.size;
        let inclusionHashes = 0;
        let consistencyHashes = 0;
        const inclusion = await timeEach(proofs, async () => {
          inclusionHashes = Math.max(inclusionHashes, (await log.proveInclusion(pick(n), n)).proof.length);
        });
        const consistency = await timeEach(proofs, async () => {
          consistencyHashes = Math.max(consistencyHashes, (await log.proveConsistency(1 + pick(n - 1), n)).proof.length);
        });
        const i = summarize([inclusion], "lower");
        const c = summarize([consistency], "lower");
        points.push({ entries: n, appends: (timed / ms) * 1000, inclusionHashes, consistencyHashes, inclusionUs: i, consistencyUs: c });
      }
    } finally {
      await log.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const first = points[0] as AtSize;
  const last = points[points.length - 1] as AtSize;
  const series = (name: string, y: (p: AtSize) => number) => ({ name, points: points.map((p) => ({ x: p.entries, y: y(p) })) });
  const command = `npm run bench -- --only scale-entries${options.quick ? " --quick" : ""}`;
  const x = { title: "entries in the log", log: true };
  return [
    {
      id: "entries-append-rate",
      title: "Durable audit appends vs log size",
      command,
      x,
      y: { title: "entries/s" },
      series: [series(`append() rate, the last ${batch.toLocaleString("en-US")} entries (or all, below that) from 1,024 callers`, (p) => p.appends)],
      reading: `${fmt(first.appends)}/s at ${first.entries.toLocaleString("en-US")} entries, ${fmt(last.appends)}/s at ${last.entries.toLocaleString("en-US")} (${Math.round((100 * last.appends) / first.appends)}%). An append hashes only the tree's right edge; what it costs to grow is SQLite's B-tree depth and the WAL.`,
    },
    {
      id: "entries-proof-size",
      title: "Proof size vs log size (logarithmic)",
      command,
      x,
      y: { title: "hashes in the proof (32 bytes each)" },
      series: [
        series("inclusion proof, largest seen", (p) => p.inclusionHashes),
        series("consistency proof, largest seen", (p) => p.consistencyHashes),
        { ...series("⌈log2 n⌉ (RFC 6962 bound for inclusion)", (p) => Math.ceil(Math.log2(p.entries))), reference: true },
      ],
      reading: `A straight line on a log axis is logarithmic growth: ${first.inclusionHashes} → ${last.inclusionHashes} hashes per inclusion proof (${last.inclusionHashes * 32} bytes) while the log grew ${Math.round(last.entries / first.entries).toLocaleString("en-US")}-fold. ${logarithmic(points) ? "Every proof stayed within ⌈log2 n⌉ hashes (inclusion) and 2⌈log2 n⌉ (consistency)." : "**Some proof exceeded its logarithmic bound.**"}`,
    },
    {
      id: "entries-proof-time",
      title: "Time to make a proof vs log size",
      command,
      x,
      y: { title: "µs per proof" },
      series: [series("inclusion p50", (p) => p.inclusionUs.p50), series("inclusion p99", (p) => p.inclusionUs.p99), series("consistency p50", (p) => p.consistencyUs.p50)],
      reading: `Proofs read O(log n) stored nodes: inclusion p50 ${fmt(first.inclusionUs.p50)} → ${fmt(last.inclusionUs.p50)} µs, consistency p50 ${fmt(first.consistencyUs.p50)} → ${fmt(last.consistencyUs.p50)} µs from ${first.entries.toLocaleString("en-US")} to ${last.entries.toLocaleString("en-US")} entries.`,
    },
  ];
}
