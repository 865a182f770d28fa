import { RegistryError, type RegistryErrorCode } from "../errors.js";
import { LIFECYCLE_SCRIPTS, PACKAGE_LIMITS, type PackageLimits } from "./limits.js";

/**
 * Rules shared by pack (refuse to build) and install (refuse to accept): they decide
 * what may be inside a skill package at all, independent of how it got there.
 */
export function checkPackagePath(path: string, limits: PackageLimits = PACKAGE_LIMITS): void {
  const fail = (why: string, code: RegistryErrorCode = "SKILL_UNSAFE_ARCHIVE") => {
    throw new RegistryError(code, `${JSON.stringify(path)}: ${why}`);
  };
  if (path.length === 0) fail("empty path");
  if (Buffer.byteLength(path) > limits.maxPathBytes) fail(`path longer than ${limits.maxPathBytes} bytes`);
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) fail("absolute path");
  if (path.includes("\\")) fail("backslash in path");
  // Plain ASCII only: anything else needs tar extension headers and normalises differently per OS.
  if (/[^\x20-\x7e]/.test(path)) fail("control or non-ASCII character in path");
  const segments = path.split("/");
  if (segments.includes("..")) fail("path traversal (..)");
  if (segments.some((s) => s === "" || s === ".")) fail("empty or '.' path segment");
  if (segments.includes("node_modules")) fail("node_modules is not allowed in a skill package", "SKILL_FORBIDDEN_CONTENT");
  if (path.endsWith(".node")) fail("native addons (.node) are not allowed", "SKILL_FORBIDDEN_CONTENT");
  if (segments.at(-1) === "binding.gyp") fail("native build files (binding.gyp) are not allowed", "SKILL_FORBIDDEN_CONTENT");
}

/** A package.json may travel as metadata, but never with anything npm would run. */
export function checkPackageJson(content: Buffer, path: string): void {
  let value: unknown;
  try {
    value = JSON.parse(content.toString("utf8"));
  } catch {
    throw new RegistryError("SKILL_FORBIDDEN_CONTENT", `${path} is not valid JSON`);
  }
  if (typeof value !== "object" || value === null) return;
  const scripts = (value as { scripts?: unknown }).scripts;
  if (typeof scripts === "object" && scripts !== null) {
    const found = LIFECYCLE_SCRIPTS.filter((name) => Object.hasOwn(scripts, name));
    if (found.length > 0) {
      throw new RegistryError("SKILL_FORBIDDEN_CONTENT", `${path} declares lifecycle script(s) ${found.join(", ")}; skills never run install scripts`);
    }
  }
  if ((value as { gypfile?: unknown }).gypfile === true) {
    throw new RegistryError("SKILL_FORBIDDEN_CONTENT", `${path} declares a native build (gypfile)`);
  }
}

/** Case and Unicode folding, so two names one file system would merge count as duplicates. */
export function foldedPath(path: string): string {
  return path.normalize("NFC").toLowerCase();
}
