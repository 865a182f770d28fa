import { gzipSync } from "node:zlib";
import { Header } from "tar";
import { RegistryError } from "../errors.js";
import type { PackFile } from "./collect.js";

/** Every entry gets this mtime, mode and owner, so the bytes depend on content alone. */
const FIXED_MTIME = new Date("2000-01-01T00:00:00Z");
const FILE_MODE = 0o644;
const BLOCK = 512;
/** RFC 1952 OS byte "unknown": the gzip header then does not depend on the packing OS. */
const GZIP_OS_UNKNOWN = 0xff;

/**
 * A deterministic gzip'd ustar archive of regular files in the given order: fixed
 * metadata, no directory entries, no pax or GNU extension headers, a fixed gzip header.
 */
export function buildTarball(files: PackFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    const header = new Header({
      path: file.path,
      mode: FILE_MODE,
      uid: 0,
      gid: 0,
      uname: "",
      gname: "",
      size: file.content.length,
      mtime: FIXED_MTIME,
      type: "File",
    });
    const block = Buffer.alloc(BLOCK);
    if (header.encode(block, 0)) throw new RegistryError("SKILL_PACK_REFUSED", `${file.path} would need a tar extension header`);
    parts.push(block, file.content, Buffer.alloc((BLOCK - (file.content.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  const gz = gzipSync(Buffer.concat(parts), { level: 9 });
  gz[9] = GZIP_OS_UNKNOWN;
  return gz;
}
