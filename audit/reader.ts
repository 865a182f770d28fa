import { access } from "node:fs/promises";
import { type AuditEntry, decodeEntry } from "./entry.js";
import { AuditError } from "./errors.js";
import { LogStore } from "./store/log-store.js";
import { DatabaseSource } from "./verify/db-source.js";
import type { LogSource } from "./verify/source.js";

export interface EntryFilter {
  session?: string;
  kind?: string;
  fromSeq?: number;
  limit: number;
}

/**
 * Read-only access to an audit database, without the signing key: what auditors and
 * read commands use while the gateway, the single writer, keeps appending.
 */
export class AuditReader {
  private constructor(
    private readonly store: LogStore,
    readonly origin: string,
    readonly vkey: string,
  ) {}

  static async open(path: string): Promise<AuditReader> {
    try {
      await access(path);
    } catch {
      throw new AuditError("AUDIT_STORAGE", `no audit database at ${path}`);
    }
    const store = await LogStore.open(path, { readonly: true });
    try {
      const origin = await store.meta("origin");
      const vkey = await store.meta("vkey");
      if (!origin || !vkey) throw new AuditError("AUDIT_STORAGE", `${path} is not an audit log`);
      return new AuditReader(store, origin, vkey);
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  source(): LogSource {
    return new DatabaseSource(this.store, this.origin, this.vkey);
  }

  async query(filter: EntryFilter): Promise<AuditEntry[]> {
    return (await this.store.query(filter)).map((row) => decodeEntry(row.bytes));
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
