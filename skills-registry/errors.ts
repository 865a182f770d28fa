/** Stable codes: the CLI and the gateway switch on these, never on message text. */
export type RegistryErrorCode =
  | "SKILL_BAD_MANIFEST"
  | "SKILL_BAD_SKILL_MD"
  | "SKILL_PACK_REFUSED"
  | "SKILL_BAD_PACKAGE"
  | "SKILL_BAD_KEY"
  | "SKILL_SIGN_FAILED"
  | "SKILL_BAD_BUNDLE"
  | "SKILL_UNSIGNED"
  | "SKILL_SIGNATURE_INVALID"
  | "SKILL_UNTRUSTED_SIGNER"
  | "SKILL_OUT_OF_SCOPE"
  | "SKILL_REVOKED"
  | "SKILL_DIGEST_MISMATCH"
  | "SKILL_SUBJECT_MISMATCH"
  | "SKILL_UNSAFE_ARCHIVE"
  | "SKILL_FORBIDDEN_CONTENT"
  | "SKILL_DOWNGRADE"
  | "SKILL_CAPABILITIES_CHANGED"
  | "SKILL_ALREADY_INSTALLED"
  | "SKILL_NOT_INSTALLED"
  | "SKILL_BAD_TRUST_POLICY"
  | "SKILL_BAD_REGISTRY"
  | "SKILL_NOT_FOUND";

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;

  constructor(code: RegistryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RegistryError";
    this.code = code;
  }
}
