import { z } from "zod";
import { canonicalJson, type JsonObject, parseCanonical } from "./canonical.js";
import { AuditError } from "./errors.js";

export const ENTRY_KINDS = ["saw", "decided", "touched", "system"] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** Canonical `data` is capped: large content belongs in blobs so it can be redacted. */
export const MAX_DATA_BYTES = 16 * 1024;
export const MAX_BLOBS_PER_ENTRY = 32;

const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

export const BlobRefSchema = z
  .object({
    sha256: Sha256Hex,
    size: z.number().int().nonnegative(),
    type: z.string().min(1).max(127),
  })
  .strict();
export type BlobRef = z.infer<typeof BlobRefSchema>;

const JsonObjectSchema = z.custom<JsonObject>(
  (v) => typeof v === "object" && v !== null && !Array.isArray(v),
  "data must be a JSON object",
);

export const EntrySchema = z
  .object({
    v: z.literal(1),
    seq: z.number().int().nonnegative(),
    ts: z.string().datetime({ offset: false }),
    session: z.string().min(1).max(512).nullable(),
    actor: z.string().min(1).max(256),
    kind: z.enum(ENTRY_KINDS),
    type: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/),
    data: JsonObjectSchema,
    blobs: z.array(BlobRefSchema).max(MAX_BLOBS_PER_ENTRY),
    /** Running chain hash of everything before this entry (hex); zeros for seq 0. */
    prev: Sha256Hex,
  })
  .strict();
export type AuditEntry = z.infer<typeof EntrySchema>;

export function encodeEntry(entry: AuditEntry): Buffer {
  const parsed = EntrySchema.safeParse(entry);
  if (!parsed.success) throw new AuditError("AUDIT_INVALID_ENTRY", parsed.error.issues[0]?.message ?? "invalid entry");
  const dataBytes = Buffer.byteLength(canonicalJson(entry.data));
  if (dataBytes > MAX_DATA_BYTES) {
    throw new AuditError("AUDIT_INVALID_ENTRY", `data is ${dataBytes} bytes; put content over ${MAX_DATA_BYTES} in a blob`);
  }
  return Buffer.from(canonicalJson(entry), "utf8");
}

/** Decodes stored bytes; refuses anything that is not a canonical, well-formed entry. */
export function decodeEntry(bytes: Uint8Array): AuditEntry {
  const value = parseCanonical(bytes);
  const parsed = EntrySchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new AuditError("AUDIT_INVALID_ENTRY", `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}
