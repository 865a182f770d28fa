import { z } from "zod";
import { assertJsonValue, canonicalJsonOfChecked, type JsonObject, LONE_SURROGATE } from "./canonical.js";
import { AuditError } from "./errors.js";

export const ENTRY_KINDS = ["saw", "decided", "touched", "system"] as const;
export type EntryKind = (typeof ENTRY_KINDS)[number];

/** Entries stay small: large content belongs in blobs, which can be redacted. */
export const MAX_ENTRY_BYTES = 20 * 1024;
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

const JsonObjectSchema = z.custom<JsonObject>((v) => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  try {
    assertJsonValue(v);
    return true;
  } catch {
    return false;
  }
}, "data must be a plain JSON object (finite numbers, well-formed strings)");

const WellFormed = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine((s) => !LONE_SURROGATE.test(s), "string has a lone surrogate");

export const EntrySchema = z
  .object({
    v: z.literal(1),
    seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    ts: z.iso.datetime({ offset: false }),
    session: WellFormed(512).nullable(),
    actor: WellFormed(256),
    kind: z.enum(ENTRY_KINDS),
    type: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/),
    data: JsonObjectSchema,
    blobs: z.array(BlobRefSchema).max(MAX_BLOBS_PER_ENTRY),
    /** Running chain hash of everything before this entry (hex); zeros for seq 0. */
    prev: Sha256Hex,
  })
  .strict();
export type AuditEntry = z.infer<typeof EntrySchema>;

/**
 * RFC 8785 text of an entry. The envelope's keys are fixed, so they are written in JCS
 * order directly and only the open-ended parts (`data`, `blobs`) go through the general
 * canonicaliser; for well-formed strings and safe integers JSON.stringify already emits
 * exactly what JCS requires. A property test holds this equal to the library's output.
 * The entry must already have passed the schema (which walks `data` as I-JSON).
 */
export function canonicalEntryText(e: AuditEntry): string {
  return (
    `{"actor":${JSON.stringify(e.actor)},"blobs":${e.blobs.length === 0 ? "[]" : canonicalJsonOfChecked(e.blobs)}` +
    `,"data":${canonicalJsonOfChecked(e.data)},"kind":"${e.kind}","prev":"${e.prev}","seq":${e.seq}` +
    `,"session":${JSON.stringify(e.session)},"ts":"${e.ts}","type":"${e.type}","v":1}`
  );
}

function invalidEntry(error: z.ZodError): AuditError {
  const issue = error.issues[0];
  return new AuditError("AUDIT_INVALID_ENTRY", `${issue?.path.join(".") ?? ""}: ${issue?.message ?? "invalid"}`);
}

function validate(value: unknown): AuditEntry {
  const parsed = EntrySchema.safeParse(value);
  if (!parsed.success) throw invalidEntry(parsed.error);
  return parsed.data;
}

/** What a caller supplies; the log fills in seq, ts, blobs' hashes and prev itself. */
export const AppendFieldsSchema = z.object({
  session: WellFormed(512).nullable(),
  actor: WellFormed(256),
  kind: z.enum(ENTRY_KINDS),
  type: z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/),
  data: JsonObjectSchema,
});

/**
 * Encodes an entry the log itself assembled. Only the caller-supplied fields need
 * checking here (seq, ts, prev and blob refs are computed by the log), which keeps
 * the append path cheap; stored bytes are always re-validated in full by decodeEntry.
 */
export function encodeAssembledEntry(entry: AuditEntry): Buffer {
  const fields = AppendFieldsSchema.safeParse(entry);
  if (!fields.success) throw invalidEntry(fields.error);
  return checkSize(Buffer.from(canonicalEntryText(entry), "utf8"));
}

function checkSize(bytes: Buffer): Buffer {
  if (bytes.length > MAX_ENTRY_BYTES) {
    throw new AuditError("AUDIT_INVALID_ENTRY", `entry is ${bytes.length} bytes; put large content in a blob`);
  }
  return bytes;
}

export function encodeEntry(entry: AuditEntry): Buffer {
  return checkSize(Buffer.from(canonicalEntryText(validate(entry)), "utf8"));
}

/** Decodes stored bytes; refuses anything that is not a canonical, well-formed entry. */
export function decodeEntry(bytes: Uint8Array): AuditEntry {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AuditError("AUDIT_NOT_JSON", "not valid JSON");
  }
  const entry = validate(value);
  if (canonicalEntryText(entry) !== text) throw new AuditError("AUDIT_NOT_JSON", "entry is not in RFC 8785 canonical form");
  return entry;
}
