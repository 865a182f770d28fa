export type SandboxErrorCode = "SANDBOX_UNAVAILABLE" | "SANDBOX_NEEDS_NO_SNAPSHOT";

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;

  constructor(code: SandboxErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SandboxError";
    this.code = code;
  }
}
