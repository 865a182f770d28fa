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

// Errno and driver codes name a mechanism, not what went wrong for the user; these are
// the stable codes a user (or a script) sees instead.
const FILE_CODES: Record<string, [code: string, what: string]> = {
  ENOENT: ["FILE_NOT_FOUND", "no such file or directory"],
  ENOTDIR: ["NOT_A_DIRECTORY", "not a directory"],
  EISDIR: ["IS_A_DIRECTORY", "is a directory, not a file"],
  EEXIST: ["FILE_EXISTS", "already exists"],
  ENOTEMPTY: ["FILE_EXISTS", "directory is not empty"],
  ENAMETOOLONG: ["PATH_TOO_LONG", "path is too long"],
  EACCES: ["PERMISSION_DENIED", "permission denied"],
  EPERM: ["PERMISSION_DENIED", "operation not permitted"],
  EROFS: ["PERMISSION_DENIED", "read-only file system"],
  ENOSPC: ["DISK_FULL", "no space left on device"],
  ELOOP: ["FILE_LOOP", "too many levels of symbolic links"],
};

const DATABASE_CODES: Record<string, [code: string, what: string]> = {
  SQLITE_NOTADB: ["NOT_A_DATABASE", "the file is not a SQLite database"],
  SQLITE_CORRUPT: ["DATABASE_CORRUPT", "the database file is damaged"],
  SQLITE_BUSY: ["DATABASE_BUSY", "the database is locked by another process"],
  SQLITE_READONLY: ["PERMISSION_DENIED", "the database is read-only"],
  SQLITE_CANTOPEN: ["FILE_NOT_FOUND", "cannot open the database file"],
};

/** A path fit for one line of output: control characters masked, long paths cut in the middle. */
function printablePath(path: string): string {
  const clean = path.replace(/[\u0000-\u001f\u007f]/g, "?");
  return clean.length <= 200 ? clean : `${clean.slice(0, 96)}…${clean.slice(-96)}`;
}

function systemSummary(code: string, err: Error): ErrorSummary | undefined {
  const path: unknown = (err as { path?: unknown }).path;
  const where = typeof path === "string" ? `: ${printablePath(path)}` : "";
  const file = FILE_CODES[code];
  if (file) return { code: file[0], message: `${file[1]}${where}` };
  if (/^E[A-Z0-9]+$/.test(code) && typeof (err as { syscall?: unknown }).syscall === "string") {
    return { code: "FILE_ERROR", message: `${code.toLowerCase()} during ${String((err as { syscall?: unknown }).syscall)}${where}` };
  }
  if (code.startsWith("SQLITE_")) {
    const db = DATABASE_CODES[code] ?? ["DATABASE_ERROR", firstLine(err.message.replace(/^SQLITE_[A-Z_]+: /, ""))];
    return { code: db[0], message: db[1] };
  }
  return undefined;
}

/** Any thrown value → a code and a single line, without stack or multi-line detail. */
export function summarizeError(err: unknown): ErrorSummary {
  if (err instanceof Error) {
    const maybe: unknown = (err as { code?: unknown }).code;
    if (typeof maybe !== "string") return { code: "INTERNAL", message: firstLine(err.message) || err.name };
    return systemSummary(maybe, err) ?? { code: maybe, message: firstLine(err.message) || err.name };
  }
  return { code: "INTERNAL", message: firstLine(String(err)) };
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0]?.trim() ?? "";
}
