/** Errors a user may see. `code` is stable; `message` is one line, safe to print. */
export class SkillgateError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SkillgateError";
    this.code = code;
  }
}

export interface ErrorSummary {
  code: string;
  message: string;
}

/** Any thrown value → a code and a single line, without stack or multi-line detail. */
export function summarizeError(err: unknown): ErrorSummary {
  if (err instanceof Error) {
    const maybe: unknown = (err as { code?: unknown }).code;
    const code = typeof maybe === "string" ? maybe : "INTERNAL";
    return { code, message: firstLine(err.message) || err.name };
  }
  return { code: "INTERNAL", message: firstLine(String(err)) };
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]?.trim() ?? "";
}
