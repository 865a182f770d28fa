import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, it } from "node:test";
import { AuditLog, generateNoteKey, type NoteSignerKey, readCheckpointFile } from "../../audit/index.js";
import { repoRoot } from "../support/paths.js";

const APPENDER = join(repoRoot(), "dist", "test", "support", "crash-appender.js");
const ROUNDS = 6;
const MIN_DELAY_MS = 50;
const MAX_DELAY_MS = 400;
const READY_TIMEOUT_MS = 10_000;

interface RoundResult {
  acked: number[];
  delayMs: number;
}

/** Kills the child unless it is already gone; safe to call any number of times. */
function killHard(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/**
 * One life of the appender: start it on the shared database, let it append for a random
 * while after `ready`, SIGKILL it, and return every seq it acknowledged before dying.
 */
async function crashRound(
  args: string[],
  track: (child: ChildProcess | undefined) => void,
): Promise<RoundResult> {
  const child = spawn(process.execPath, [APPENDER, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  track(child);
  try {
    const acked: number[] = [];
    const garbage: string[] = [];
    let stderr = "";
    let partial = "";
    let ready = false;
    let onReady: (() => void) | undefined;

    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      // A line without its newline was not fully written: it proves nothing, so it is dropped.
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const ack = /^ack (0|[1-9][0-9]*)$/.exec(line);
        if (ack) acked.push(Number(ack[1]));
        else if (line === "ready" && !ready) {
          ready = true;
          onReady?.();
        } else garbage.push(line);
      }
    });
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on("error", reject);
      child.on("close", (code, signal) => resolve({ code, signal }));
    });

    const readyOrExit = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      if (ready) resolve();
      closed.then(
        ({ code, signal }) => reject(new Error(`appender exited before ready (code ${code}, signal ${signal}):\n${stderr}`)),
        reject,
      );
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`appender not ready after ${READY_TIMEOUT_MS} ms:\n${stderr}`)), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([readyOrExit, timeout]);
    } finally {
      clearTimeout(timer);
    }

    const delayMs = MIN_DELAY_MS + Math.floor(Math.random() * (MAX_DELAY_MS - MIN_DELAY_MS + 1));
    await sleep(delayMs);
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`appender died on its own (code ${child.exitCode}, signal ${child.signalCode}):\n${stderr}`);
    }
    assert.ok(child.kill("SIGKILL"), "SIGKILL was not delivered");
    // `close` waits for the pipes to drain, so every line the child wrote has been read.
    const { signal } = await closed;
    assert.equal(signal, "SIGKILL", `appender ended by ${signal}, not by our SIGKILL:\n${stderr}`);
    assert.deepEqual(garbage, [], "unexpected output from the appender");
    return { acked, delayMs };
  } finally {
    killHard(child);
    track(undefined);
  }
}

describe("audit log durability under SIGKILL", () => {
  let dir = "";
  let key: NoteSignerKey;
  let child: ChildProcess | undefined;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "sg-crash-"));
    key = generateNoteKey("crash.test/log");
    // The skey is a secret: the child gets it through a private file, not argv or env.
    writeFileSync(join(dir, "log.skey"), key.skey, { mode: 0o600 });
  });

  after(() => {
    killHard(child);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged entry across ${ROUNDS} kills of the appender`, { timeout: 60_000 }, async (t) => {
    assert.ok(existsSync(APPENDER), `${APPENDER} is missing: compile with 'npx tsc -p .' first`);
    const dbPath = join(dir, "audit.db");
    const checkpointFile = join(dir, "checkpoints.txt");
    const args = [dbPath, join(dir, "log.skey"), checkpointFile];
    let previousSize = 0;
    let totalAcked = 0;

    for (let round = 1; round <= ROUNDS; round += 1) {
      const { acked, delayMs } = await crashRound(args, (c) => (child = c));
      assert.ok(acked.length > 0, `round ${round}: nothing was acknowledged in ${delayMs} ms`);
      assert.equal(new Set(acked).size, acked.length, `round ${round}: a seq was acknowledged twice`);
      const minAcked = Math.min(...acked);
      const maxAcked = Math.max(...acked);
      // Entries made durable by an earlier life (acked or not) must never be reused.
      assert.ok(minAcked >= previousSize, `round ${round}: seq ${minAcked} acked again after the log reached ${previousSize}`);

      const log = await AuditLog.open({ path: dbPath, signer: key });
      try {
        const size = log.size;
        assert.ok(size > maxAcked, `round ${round}: log size ${size} but seq ${maxAcked} was acknowledged`);
        assert.ok(size > previousSize, `round ${round}: log did not grow (${previousSize} -> ${size})`);
        for (const seq of acked) {
          const found = await log.entry(seq);
          assert.ok(found, `round ${round}: acknowledged seq ${seq} is missing after SIGKILL`);
          assert.equal(found.entry.seq, seq);
          assert.equal(found.entry.type, "crash.test");
        }

        const report = await log.verify();
        assert.equal(report.ok, true, `round ${round}: verify failed: ${JSON.stringify(report.failure)}`);
        assert.equal(report.entries, size);

        const notes = existsSync(checkpointFile) ? await readCheckpointFile(checkpointFile) : [];
        const trusted = await log.verify({ trustedCheckpoints: notes });
        assert.equal(trusted.ok, true, `round ${round}: external checkpoints rejected: ${JSON.stringify(trusted.failure)}`);
        assert.equal(trusted.trustedCheckpointsVerified, notes.length);

        t.diagnostic(
          `round ${round}: killed after ${delayMs} ms, ${acked.length} acked (seq ${minAcked}..${maxAcked}), ` +
            `log size ${previousSize} -> ${size}, ${size - previousSize - acked.length} durable but unacked, ` +
            `${notes.length} external checkpoints, ${report.checkpointsVerified} stored checkpoints`,
        );
        previousSize = size;
        totalAcked += acked.length;
      } finally {
        await log.close();
      }
    }

    const notes = await readCheckpointFile(checkpointFile);
    assert.ok(notes.length > 0, "no checkpoint reached the external file in any round");
    t.diagnostic(`${totalAcked} entries acknowledged in ${ROUNDS} rounds; final size ${previousSize}`);
  });
});
