/** How a log failed verification; stable names an auditor's tooling can switch on. */
export const FAILURE_KINDS = [
  "modified",
  "missing",
  "inserted",
  "reordered",
  "truncated",
  "bad-signature",
  "rolled-back",
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

export interface VerifyFailure {
  kind: FailureKind;
  /** The first sequence number at which the log stops being trustworthy. */
  seq: number;
  message: string;
}

export interface RedactedBlob {
  sha256: string;
  /** First entry that referenced the blob. */
  seq: number;
  /** The `system` entry that recorded the redaction. */
  redactedAt: number;
  reason: string;
}

export interface VerifyReport {
  ok: boolean;
  origin: string;
  entries: number;
  rootHex: string;
  /** Signed checkpoints inside the log that verified and matched. */
  checkpointsVerified: number;
  /** Checkpoints from outside the log (an auditor's file) that verified and matched. */
  trustedCheckpointsVerified: number;
  /** Largest size covered by a signature; entries past it are hash-chained but unsigned. */
  signedSize: number;
  /** True when the verifier key came from the caller, not from the log being checked. */
  keyPinned: boolean;
  redacted: RedactedBlob[];
  failure?: VerifyFailure;
}
