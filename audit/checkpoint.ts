import { AuditError } from "./errors.js";
import { HASH_SIZE } from "./merkle/hash.js";

export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** Lines after the root (C2SP tlog-checkpoint extension lines), kept verbatim. */
  extensions: string[];
}

/** C2SP tlog-checkpoint body: `origin\nsize\nbase64(root)\n` and optional extension lines. */
export function formatCheckpoint(cp: Pick<Checkpoint, "origin" | "size" | "root"> & { extensions?: string[] }): string {
  if (cp.origin.length === 0 || cp.origin.includes("\n")) throw new AuditError("AUDIT_BAD_CHECKPOINT", "bad origin");
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw new AuditError("AUDIT_BAD_CHECKPOINT", "bad size");
  if (cp.root.length !== HASH_SIZE) throw new AuditError("AUDIT_BAD_CHECKPOINT", "bad root");
  const ext = (cp.extensions ?? []).map((line) => `${line}\n`).join("");
  return `${cp.origin}\n${cp.size}\n${cp.root.toString("base64")}\n${ext}`;
}

export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith("\n")) throw new AuditError("AUDIT_BAD_CHECKPOINT", "checkpoint must end with a newline");
  const [origin, sizeText, rootText, ...extensions] = text.slice(0, -1).split("\n");
  if (!origin || sizeText === undefined || rootText === undefined) {
    throw new AuditError("AUDIT_BAD_CHECKPOINT", "checkpoint needs origin, size and root lines");
  }
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw new AuditError("AUDIT_BAD_CHECKPOINT", "size is not a decimal");
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw new AuditError("AUDIT_BAD_CHECKPOINT", "size is too large");
  const root = Buffer.from(rootText, "base64");
  if (root.length !== HASH_SIZE || root.toString("base64") !== rootText) {
    throw new AuditError("AUDIT_BAD_CHECKPOINT", "root is not a base64 SHA-256 hash");
  }
  if (extensions.some((line) => line.length === 0)) throw new AuditError("AUDIT_BAD_CHECKPOINT", "empty extension line");
  return { origin, size, root, extensions };
}
