import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { RegistryError } from "../errors.js";
import { PACKAGE_LIMITS, type PackageLimits } from "./limits.js";
import { checkPackageJson, checkPackagePath, foldedPath } from "./package-rules.js";

export interface PackFile {
  /** POSIX path relative to the skill directory. */
  path: string;
  content: Buffer;
}

/** Left out of every package without complaint: VCS data and earlier build outputs. */
function ignored(rel: string, isDir: boolean): boolean {
  if (isDir) return rel === ".git" || rel.endsWith("/.git");
  return !rel.includes("/") && (rel.endsWith(".tgz") || rel.endsWith(".sigstore.json"));
}

/**
 * Reads a skill directory into memory, refusing anything a package may not hold. Files
 * are read once here, so what is checked is exactly what is packed.
 */
export async function collectSkillFiles(dir: string, limits: PackageLimits = PACKAGE_LIMITS): Promise<PackFile[]> {
  const files: PackFile[] = [];
  const seen = new Set<string>();
  let total = 0;
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const stat = await lstat(join(dir, path));
      if (ignored(path, stat.isDirectory())) continue;
      if (stat.isSymbolicLink()) throw new RegistryError("SKILL_PACK_REFUSED", `${path} is a symbolic link; packages hold regular files only`);
      if (stat.isDirectory()) {
        checkPackagePath(path, limits);
        await walk(path);
        continue;
      }
      if (!stat.isFile()) throw new RegistryError("SKILL_PACK_REFUSED", `${path} is not a regular file (device, FIFO or socket)`);
      if (stat.nlink > 1) throw new RegistryError("SKILL_PACK_REFUSED", `${path} is a hard link; packages hold regular files only`);
      checkPackagePath(path, limits);
      if (seen.has(foldedPath(path))) throw new RegistryError("SKILL_PACK_REFUSED", `${path} differs from another file only in letter case`);
      seen.add(foldedPath(path));
      if (stat.size > limits.maxFileBytes) throw new RegistryError("SKILL_PACK_REFUSED", `${path} is ${stat.size} bytes; the limit is ${limits.maxFileBytes}`);
      if (files.length + 1 > limits.maxFiles) throw new RegistryError("SKILL_PACK_REFUSED", `more than ${limits.maxFiles} files`);
      const content = await readFile(join(dir, path));
      total += content.length;
      if (total > limits.maxTotalBytes) throw new RegistryError("SKILL_PACK_REFUSED", `files total more than ${limits.maxTotalBytes} bytes`);
      if (name === "package.json") checkPackageJson(content, path);
      files.push({ path, content });
    }
  };
  await walk("");
  // Byte order of paths, independent of locale, so every machine packs the same order.
  return files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}
