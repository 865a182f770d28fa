import { gunzipSync } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { RegistryError } from "../errors.js";
import type { PackFile } from "../pack/collect.js";
import { PACKAGE_LIMITS, type PackageLimits } from "../pack/limits.js";
import { checkPackageJson, checkPackagePath, foldedPath } from "../pack/package-rules.js";

const BLOCK = 512;

function unsafe(message: string): RegistryError {
  return new RegistryError("SKILL_UNSAFE_ARCHIVE", message);
}

/** Inflates with a hard ceiling, so a gzip bomb stops at the limit instead of at memory's end. */
function inflate(tarball: Buffer, limits: PackageLimits): Buffer {
  if (tarball.length > limits.maxTarballBytes) throw unsafe(`package is ${tarball.length} bytes; the limit is ${limits.maxTarballBytes}`);
  // Room for every allowed byte plus one header and one block of padding per file.
  const ceiling = limits.maxTotalBytes + (limits.maxFiles + 2) * 2 * BLOCK;
  try {
    return gunzipSync(tarball, { maxOutputLength: ceiling });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ERR_BUFFER_TOO_LARGE" || err instanceof RangeError) {
      throw unsafe(`package inflates past ${ceiling} bytes (decompression bomb)`);
    }
    throw new RegistryError("SKILL_BAD_PACKAGE", "package is not a gzip'd tarball");
  }
}

/**
 * The inflated bytes must be a plain ustar archive. tar's parser would otherwise sniff
 * and inflate a second compression layer by itself, outside the ceiling above.
 */
function requireUstar(tar: Buffer): void {
  if (tar.length < BLOCK || tar.length % BLOCK !== 0 || tar.toString("latin1", 257, 262) !== "ustar") {
    throw unsafe("package is not a plain ustar archive inside one gzip layer");
  }
}

/**
 * Reads a (verified) package into memory, refusing every entry a skill package may
 * not contain. Nothing touches the file system here: the caller writes the checked
 * files into the store, so an archive can never place a byte outside it.
 */
export function readPackage(tarball: Buffer, limits: PackageLimits = PACKAGE_LIMITS): Promise<PackFile[]> {
  const tar = inflate(tarball, limits);
  requireUstar(tar);
  return new Promise((resolve, reject) => {
    const files: PackFile[] = [];
    const seen = new Set<string>();
    let total = 0;
    let failed = false;
    const parser = new Parser({ strict: true });
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      parser.abort(err instanceof Error ? err : new Error(String(err)));
      reject(err instanceof RegistryError ? err : new RegistryError("SKILL_BAD_PACKAGE", `package is not a valid tarball: ${(err as Error).message}`));
    };
    parser.on("meta", () => fail(unsafe("package carries pax or GNU extension headers, which skill packages never have")));
    parser.on("ignoredEntry", (entry: ReadEntry) => fail(unsafe(`${JSON.stringify(entry.path)}: unsupported entry type ${entry.type}`)));
    parser.on("error", fail);
    parser.on("entry", (entry: ReadEntry) => {
      if (failed) return entry.resume();
      try {
        const path = entry.path;
        if (entry.type !== "File" && entry.type !== "OldFile") {
          const kind = { SymbolicLink: "symbolic link", Link: "hard link", Directory: "directory", FIFO: "FIFO", CharacterDevice: "device", BlockDevice: "device" }[entry.type as string];
          throw unsafe(`${JSON.stringify(path)}: ${kind ?? entry.type} entries are not allowed`);
        }
        checkPackagePath(path, limits);
        const folded = foldedPath(path);
        if (seen.has(folded)) throw unsafe(`${JSON.stringify(path)}: duplicate entry`);
        seen.add(folded);
        if (files.length + 1 > limits.maxFiles) throw unsafe(`more than ${limits.maxFiles} files`);
        if ((entry.size ?? 0) > limits.maxFileBytes) throw unsafe(`${JSON.stringify(path)}: ${entry.size} bytes; the limit is ${limits.maxFileBytes}`);
      } catch (err) {
        entry.resume();
        return fail(err);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      entry.on("data", (chunk: Buffer) => {
        size += chunk.length;
        total += chunk.length;
        if (size > limits.maxFileBytes) return fail(unsafe(`${JSON.stringify(entry.path)}: more than ${limits.maxFileBytes} bytes`));
        if (total > limits.maxTotalBytes) return fail(unsafe(`files total more than ${limits.maxTotalBytes} bytes`));
        chunks.push(chunk);
      });
      entry.on("end", () => {
        if (failed) return;
        const content = Buffer.concat(chunks);
        try {
          if (entry.path.split("/").at(-1) === "package.json") checkPackageJson(content, entry.path);
        } catch (err) {
          return fail(err);
        }
        files.push({ path: entry.path, content });
      });
    });
    parser.on("end", () => {
      if (!failed) resolve(files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path))));
    });
    parser.end(tar);
  });
}
