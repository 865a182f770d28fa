import { createWriteStream } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { once } from "node:events";
import { decodeEntry } from "../entry.js";
import { AuditError } from "../errors.js";
import { CompactRange } from "../merkle/compact-range.js";
import { leafHash } from "../merkle/hash.js";
import { entriesOf, type LogSource } from "../verify/source.js";
import { EXPORT_FILES, EXPORT_FORMAT, type ExportManifest } from "./layout.js";

export interface ExportSummary {
  dir: string;
  entries: number;
  blobs: number;
  checkpoints: number;
  rootHex: string;
}

/**
 * Copies a log out as plain files: the exact entry bytes one per line (canonical JSON
 * never contains a raw newline), every present blob by hash, every signed checkpoint and
 * the verifier key. Nothing in it needs skillgate to check.
 */
export async function writeExport(source: LogSource, dir: string): Promise<ExportSummary> {
  // Into a new or empty directory only: never mixed with, or half over, another export.
  let existing: string[] = [];
  try {
    existing = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTDIR") throw new AuditError("AUDIT_BAD_EXPORT", `${dir} is not a directory`);
    if (code !== "ENOENT") throw new AuditError("AUDIT_BAD_EXPORT", `cannot use ${dir} (${code ?? "error"})`);
  }
  if (existing.length) throw new AuditError("AUDIT_BAD_EXPORT", `${dir} is not empty; export into a new directory`);
  await mkdir(join(dir, EXPORT_FILES.blobs), { recursive: true });
  const out = createWriteStream(join(dir, EXPORT_FILES.entries), { flags: "wx" });
  // A stream error is thrown where the stream is awaited, not as an unhandled event.
  const failed = new Promise<never>((_, reject) => out.once("error", reject));
  failed.catch(() => undefined);
  const range = new CompactRange();
  const blobs = new Set<string>();
  try {
    for await (const { bytes } of entriesOf(source)) {
      if (bytes.includes(0x0a)) throw new AuditError("AUDIT_BAD_EXPORT", "an entry contains a newline; verify the log first");
      range.append(leafHash(bytes));
      for (const ref of decodeEntry(bytes).blobs) blobs.add(ref.sha256);
      if (!out.write(bytes) || !out.write("\n")) await Promise.race([once(out, "drain"), failed]);
    }
  } finally {
    out.end();
    await Promise.race([once(out, "close"), failed]);
  }
  let written = 0;
  for (const sha of blobs) {
    const content = await source.blob(sha);
    if (content === undefined) continue;
    await writeFile(join(dir, EXPORT_FILES.blobs, sha), content, { flag: "wx" });
    written += 1;
  }
  const notes = await source.checkpoints();
  await writeFile(join(dir, EXPORT_FILES.checkpoints), notes.join(""), { flag: "wx" });
  await writeFile(join(dir, EXPORT_FILES.vkey), `${source.vkey}\n`, { flag: "wx" });
  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    origin: source.origin,
    size: range.size,
    rootHex: range.root().toString("hex"),
    exportedAt: new Date().toISOString(),
  };
  await writeFile(join(dir, EXPORT_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`, { flag: "wx" });
  return { dir, entries: range.size, blobs: written, checkpoints: notes.length, rootHex: manifest.rootHex };
}
