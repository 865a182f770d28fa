export type SandboxErrorCode =
  | "SANDBOX_UNAVAILABLE"
  | "SANDBOX_NEEDS_NO_SNAPSHOT"
  | "WORKER_CRASHED"
  | "WORKER_PROTOCOL"
  | "MEMORY_LIMIT"
  | "CPU_LIMIT"
  | "WALL_LIMIT"
  | "OUTPUT_LIMIT"
  | "CALL_LIMIT"
  | "NOT_CAPABLE"
  | "TOOL_NOT_FOUND"
  | "INVALID_INPUT"
  | "SKILL_LOAD_FAILED"
  | "SKILL_ERROR"
  | "SANDBOX_CLOSED";

export class SandboxError extends Error {
  readonly code: SandboxErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(code: SandboxErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options);
    this.name = "SandboxError";
    this.code = code;
    if (options?.details) this.details = options.details;
  }
}
