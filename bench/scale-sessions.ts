import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditLog, generateNoteKey } from "../audit/index.js";
import { SandboxPool } from "../sandbox/index.js";
import { appendMany, entryBytes, rawInserts } from "./audit.js";
import type { Curve } from "./curve.js";
import { ECHO_SKILL as skill } from "./echo-skill.js";
import { median, rssKb, summarize, timeEach } from "./measure.js";
import { fmt } from "./report.js";
import { ipcRoundTrips } from "./sandbox.js";

interface AtSessions {
  sessions: number;
  p50: number;
  p99: number;
  workerMiB: number;
  appends: number;
  raw: number;
}

/** Appends from `sessions` concurrent sessions (one caller each), beside raw inserts batched `sessions` per transaction. */
async function auditAt(sessions: number, total: number): Promise<{ appends: number; raw: number }> {
  const dir = mkdtempSync(join(tmpdir(), "sg-bench-scale-"));
  try {
    const log = await AuditLog.open({ path: join(dir, "audit.db"), signer: generateNoteKey("bench.local/audit") });
    const ms = await appendMany(log, total, sessions, (c) => `agent:bench:session:${c}`);
    const entries = await entryBytes(log);
    await log.close();
    const rawMs = await rawInserts(join(dir, "raw.db"), entries, sessions);
    return { appends: (total / ms) * 1000, raw: (entries.length / rawMs) * 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Warm invoke latency, worker memory and audit append rate as live sessions grow: one
 * worker holding one warm isolate per session, calls spread round-robin over all of them.
 */
export async function scaleSessions(options: { quick: boolean }): Promise<Curve[]> {
  const steps = options.quick ? [1, 10, 50] : [1, 10, 100, 1000];
  const calls = options.quick ? 100 : 2000;
  const pool = await SandboxPool.start({ size: 1, capabilityHandler: async () => null, idleTtlMs: 3_600_000 });
  const points: AtSessions[] = [];
  let warmed = 0;
  try {
    for (const sessions of steps) {
      for (; warmed < sessions; warmed++) await pool.invoke({ session: `s${warmed}`, skill, tool: "echo", input: { n: 0 } });
      const us = await timeEach(calls, (i) => pool.invoke({ session: `s${i % sessions}`, skill, tool: "echo", input: { n: i } }));
      const latency = summarize([us], "lower");
      const workerMiB = rssKb(pool.workerPid("s0", skill.digest) as number) / 1024;
      const total = Math.min(50_000, (options.quick ? 1 : 10) * Math.max(500, sessions * 20));
      points.push({ sessions, p50: latency.p50, p99: latency.p99, workerMiB, ...(await auditAt(sessions, total)) });
    }
  } finally {
    await pool.close();
  }
  const floor = median(await ipcRoundTrips(calls));
  const first = points[0] as AtSessions;
  const last = points[points.length - 1] as AtSessions;
  const series = (name: string, y: (p: AtSessions) => number) => ({ name, points: points.map((p) => ({ x: p.sessions, y: y(p) })) });
  const command = `npm run bench -- --only scale-sessions${options.quick ? " --quick" : ""}`;
  const x = { title: "live sessions", log: true };
  const perIsolate = (last.workerMiB - first.workerMiB) / Math.max(1, last.sessions - first.sessions);
  return [
    {
      id: "sessions-invoke-latency",
      title: "Warm invoke latency vs live sessions",
      command,
      x,
      y: { title: "µs per call" },
      series: [series("skillgate p50", (p) => p.p50), series("skillgate p99", (p) => p.p99), { ...series("bare IPC round trip p50 (floor)", () => floor), reference: true }],
      reading: `From ${first.sessions} to ${last.sessions.toLocaleString("en-US")} warm sessions the p50 goes ${fmt(first.p50)} → ${fmt(last.p50)} µs and the p99 ${fmt(first.p99)} → ${fmt(last.p99)} µs; a bare IPC round trip is ${fmt(floor)} µs.`,
    },
    {
      id: "sessions-worker-memory",
      title: "Sandbox worker memory vs live sessions",
      command,
      x,
      y: { title: "worker RSS, MiB" },
      series: [series("worker RSS (one isolate per session)", (p) => p.workerMiB)],
      reading: `${fmt(first.workerMiB)} MiB with ${first.sessions} warm isolate, ${fmt(last.workerMiB)} MiB with ${last.sessions.toLocaleString("en-US")}: about ${fmt(perIsolate * 1024)} KiB per warm session. Idle isolates are disposed after the idle TTL (60 s by default), so this is the peak for that many sessions active within a minute.`,
    },
    {
      id: "sessions-audit-append",
      title: "Durable audit appends vs concurrent sessions",
      command,
      x,
      y: { title: "entries/s", log: true },
      series: [series("skillgate append() (group commit)", (p) => p.appends), series("raw SQLite inserts, one txn per N", (p) => p.raw)],
      reading: `One session appending alone waits for its own fsync (${fmt(first.appends)}/s); ${last.sessions.toLocaleString("en-US")} sessions share group commits (${fmt(last.appends)}/s). Raw inserts batched the same way: ${fmt(first.raw)} → ${fmt(last.raw)}/s.`,
    },
  ];
}
