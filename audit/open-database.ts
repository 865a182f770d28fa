import { access } from "node:fs/promises";
import { AuditError } from "./errors.js";
import { LogStore } from "./store/log-store.js";
import { DatabaseSource } from "./verify/db-source.js";
import type { LogSource } from "./verify/source.js";

/**
 * Opens an audit database read-only for verification, without the signing key: the
 * auditor's path. Returns a source plus a close function.
 */
export async function openAuditDatabase(path: string): Promise<{ source: LogSource; close: () => Promise<void> }> {
  try {
    await access(path);
  } catch {
    throw new AuditError("AUDIT_STORAGE", `no audit database at ${path}`);
  }
  const store = await LogStore.open(path, { readonly: true });
  try {
    const origin = await store.meta("origin");
    const vkey = await store.meta("vkey");
    if (!origin || !vkey) throw new AuditError("AUDIT_STORAGE", `${path} is not an audit log (no origin or key)`);
    return { source: new DatabaseSource(store, origin, vkey), close: () => store.close() };
  } catch (err) {
    await store.close();
    throw err;
  }
}
