/** The tamper-evident audit log: the only surface other modules may import. */
export { assertJsonValue, canonicalJson, type JsonObject, type JsonValue } from "./canonical.js";
export { type Checkpoint, formatCheckpoint, parseCheckpoint } from "./checkpoint.js";
export { type AuditEntry, type BlobRef, decodeEntry, ENTRY_KINDS, type EntryKind, MAX_ENTRY_BYTES } from "./entry.js";
export { AuditError, type AuditErrorCode } from "./errors.js";
export { readCheckpointFile } from "./export/checkpoint-file.js";
export { ExportSource } from "./export/export-source.js";
export { EXPORT_FILES } from "./export/layout.js";
export type { ExportSummary } from "./export/write-export.js";
export {
  type AppendInput,
  type Appended,
  AuditLog,
  type AuditLogOptions,
  type BlobInput,
  type ConsistencyProof,
  type InclusionProof,
  type SignedCheckpoint,
} from "./log.js";
export { EMPTY_ROOT, leafHash, nodeHash, sha256 } from "./merkle/hash.js";
export { ProofError, rootFromInclusionProof, verifyConsistency, verifyInclusion } from "./merkle/verify.js";
export {
  generateNoteKey,
  keyIdFor,
  type NoteSignerKey,
  type NoteVerifierKey,
  parseSignerKey,
  parseVerifierKey,
} from "./note/keys.js";
export { openNote, signNote, splitNotes } from "./note/signed-note.js";
export { type CheckedTlogProof, formatTlogProof, verifyTlogProof } from "./tlog-proof.js";
export { AuditReader, type EntryFilter } from "./reader.js";
export type { FailureKind, RedactedBlob, VerifyFailure, VerifyReport } from "./verify/report.js";
export type { LogSource, SourceEntry } from "./verify/source.js";
export { verifyLog } from "./verify/verify-log.js";
/** SQLite access (promise face, serialized write transactions), shared with the gateway's state DB. */
export { type Row, Sqlite, type SqlValue, WriteQueue } from "./store/sqlite.js";
