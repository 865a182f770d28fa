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

/**
 * Thrown by a capability handler to refuse a call (as opposed to failing it): the pool
 * reports it as a `refused` event, like its own manifest refusals, so it is audited.
 */
export class CapabilityRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly refusal: { capability: string; op: string; request: string; need: string },
  ) {
    super(message);
    this.name = "CapabilityRefused";
  }
}
