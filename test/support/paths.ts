import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root, found from the compiled test file's location. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above the tests");
    dir = parent;
  }
  return dir;
}

/** Test data shared across the organisation lives beside the repository, in ../shared. */
export function sharedPath(...parts: string[]): string {
  return resolve(repoRoot(), "..", "shared", ...parts);
}

export const CLI_PATH = join(repoRoot(), "dist", "runtime", "cli", "main.js");
