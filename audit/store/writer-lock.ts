import { open, readFile, unlink } from "node:fs/promises";
import { AuditError } from "../errors.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * One writer per log. Two writers would each assign the same next seq from memory; the
 * second would fail its insert and stop, but only after its caller had started work.
 * A lock file with the holder's pid refuses the second writer up front; a lock left by
 * a dead process (crash, SIGKILL) is taken over.
 */
export async function acquireWriterLock(dbPath: string): Promise<() => Promise<void>> {
  const path = `${dbPath}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        await unlink(path).catch(() => undefined);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number((await readFile(path, "utf8").catch(() => "")).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && alive(holder)) {
        throw new AuditError("AUDIT_LOCKED", `the audit log is open for writing by process ${holder}`);
      }
      await unlink(path).catch(() => undefined);
    }
  }
  throw new AuditError("AUDIT_LOCKED", "could not take the audit log's writer lock");
}
