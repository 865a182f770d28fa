/** Stable codes: callers and the CLI switch on these, never on message text. */
export type AuditErrorCode =
  | "AUDIT_NOT_JSON"
  | "AUDIT_INVALID_ENTRY"
  | "AUDIT_CLOSED"
  | "AUDIT_FAILED"
  | "AUDIT_STORAGE"
  | "AUDIT_OUT_OF_RANGE"
  | "AUDIT_BAD_PROOF"
  | "AUDIT_BAD_KEY"
  | "AUDIT_BAD_NOTE"
  | "AUDIT_BAD_CHECKPOINT"
  | "AUDIT_BLOB_NOT_FOUND"
  | "AUDIT_BAD_EXPORT"
  | "AUDIT_KEY_MISMATCH"
  | "AUDIT_LOCKED";

export class AuditError extends Error {
  readonly code: AuditErrorCode;

  constructor(code: AuditErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AuditError";
    this.code = code;
  }
}
