/**
 * Child program for test/audit/crash.test.ts: appends to an audit log as fast as it can
 * until it is killed.
 *
 *   node dist/test/support/crash-appender.js <db path> <key file> <checkpoint file>
 *
 * The signing key is read from a file (0600, written by the test), never from argv or the
 * environment. Prints `ready` once the log is open, then `ack <seq>` after each append has
 * resolved, i.e. after the entry is durable. Stdout to a pipe is synchronous on Linux, so
 * every line the parent reads was acknowledged before the process died.
 */
import { readFileSync } from "node:fs";
import { AuditLog, parseSignerKey } from "../../audit/index.js";

/** Concurrent appenders: enough that group commit batches many entries per transaction. */
const WORKERS = 32;
/** Small, so checkpoints are being signed and written to the external file when we die. */
const CHECKPOINT_EVERY = 200;

function die(message: string, code: number): never {
  process.stderr.write(`crash-appender: ${message}\n`);
  process.exit(code);
}

const [dbPath, keyFile, checkpointFile] = process.argv.slice(2);
if (!dbPath || !keyFile || !checkpointFile) die("usage: crash-appender <db path> <key file> <checkpoint file>", 2);

async function worker(log: AuditLog, id: number): Promise<never> {
  for (let n = 0; ; n += 1) {
    const { seq } = await log.append({
      session: `crash-${process.pid}`,
      actor: `worker-${id}`,
      kind: "touched",
      type: "crash.test",
      data: { pid: process.pid, worker: id, n },
    });
    process.stdout.write(`ack ${seq}\n`);
  }
}

async function main(path: string, keyPath: string, checkpointPath: string): Promise<void> {
  const signer = parseSignerKey(readFileSync(keyPath, "utf8"));
  const log = await AuditLog.open({ path, signer, checkpointFile: checkpointPath, checkpointEvery: CHECKPOINT_EVERY });
  process.stdout.write("ready\n");
  await Promise.all(Array.from({ length: WORKERS }, (_, id) => worker(log, id)));
}

main(dbPath, keyFile, checkpointFile).catch((err: unknown) => die(err instanceof Error ? (err.stack ?? err.message) : String(err), 1));
