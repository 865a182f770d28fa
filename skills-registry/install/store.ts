import { createHash, randomBytes } from "node:crypto";
import { mkdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { RegistryError } from "../errors.js";
import { collectSkillFiles, type PackFile } from "../pack/collect.js";

/**
 * A digest of a package's files (each path with the sha256 of its bytes, in byte order),
 * independent of tar and gzip: recorded at install, checked at every load, so a file
 * changed in the store after install is caught.
 */
export function contentDigest(files: PackFile[]): string {
  const lines = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => `${createHash("sha256").update(f.content).digest("hex")}  ${f.path}\n`);
  return createHash("sha256").update(lines.join("")).digest("hex");
}

/** The content digest of what is in the store now, read under the same rules as packing. */
export async function storedContentDigest(storeDir: string, sha256: string): Promise<string> {
  return contentDigest(await collectSkillFiles(skillDir(storeDir, sha256)));
}

/** Where a package's files live: `<store>/<sha256>/`, named by the tarball's digest. */
export function skillDir(storeDir: string, sha256: string): string {
  return join(storeDir, sha256);
}

export function bundlePath(storeDir: string, sha256: string): string {
  return join(storeDir, `${sha256}.sigstore.json`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes checked files into the content-addressed store. Files land in a staging
 * directory first and are renamed into place, so a half-written skill never appears
 * under its digest. Every path is resolved and must stay inside the staging directory.
 */
export async function storePackage(storeDir: string, sha256: string, files: PackFile[], bundleJson: string): Promise<string> {
  const target = skillDir(storeDir, sha256);
  await mkdir(storeDir, { recursive: true, mode: 0o700 });
  if (!(await exists(target))) {
    const staging = join(storeDir, `.staging-${randomBytes(8).toString("hex")}`);
    await mkdir(staging, { mode: 0o700 });
    try {
      const root = resolve(staging) + sep;
      for (const file of files) {
        const dest = resolve(staging, file.path);
        if (!dest.startsWith(root)) throw new RegistryError("SKILL_UNSAFE_ARCHIVE", `${JSON.stringify(file.path)} resolves outside the store`);
        await mkdir(dirname(dest), { recursive: true, mode: 0o700 });
        // 'wx': never follow or replace something already there.
        await writeFile(dest, file.content, { mode: 0o444, flag: "wx" });
      }
      await rename(staging, target);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      if (err instanceof RegistryError) throw err;
      throw new RegistryError("SKILL_UNSAFE_ARCHIVE", `cannot store package: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  await writeFile(bundlePath(storeDir, sha256), bundleJson, { mode: 0o600 });
  return target;
}
