import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { AuditError } from "../errors.js";
import { splitNotes } from "../note/signed-note.js";
import type { LogSource, SourceEntry } from "../verify/source.js";
import { EXPORT_FILES, ExportManifestSchema } from "./layout.js";

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Reads an export directory for offline verification. */
export class ExportSource implements LogSource {
  private constructor(
    private readonly dir: string,
    readonly origin: string,
    readonly vkey: string,
  ) {}

  static async open(dir: string): Promise<ExportSource> {
    let manifestText: string;
    let vkey: string;
    try {
      manifestText = await readFile(join(dir, EXPORT_FILES.manifest), "utf8");
      vkey = (await readFile(join(dir, EXPORT_FILES.vkey), "utf8")).trim();
    } catch {
      throw new AuditError("AUDIT_BAD_EXPORT", `${dir} is not an audit export (no ${EXPORT_FILES.manifest} or ${EXPORT_FILES.vkey})`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(manifestText);
    } catch {
      throw new AuditError("AUDIT_BAD_EXPORT", `${EXPORT_FILES.manifest} is not JSON`);
    }
    const manifest = ExportManifestSchema.safeParse(parsed);
    if (!manifest.success) throw new AuditError("AUDIT_BAD_EXPORT", `${EXPORT_FILES.manifest} is malformed`);
    return new ExportSource(dir, manifest.data.origin, vkey);
  }

  async *pages(pageSize = 5000): AsyncGenerator<SourceEntry[]> {
    const lines = createInterface({ input: createReadStream(join(this.dir, EXPORT_FILES.entries)), crlfDelay: Infinity });
    let page: SourceEntry[] = [];
    let position = 0;
    for await (const line of lines) {
      page.push({ position: position++, bytes: Buffer.from(line, "utf8") });
      if (page.length === pageSize) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  async blob(sha256: string): Promise<Buffer | undefined> {
    if (!SHA256_HEX.test(sha256)) return undefined;
    try {
      return await readFile(join(this.dir, EXPORT_FILES.blobs, sha256));
    } catch {
      return undefined;
    }
  }

  async checkpoints(): Promise<string[]> {
    return splitNotes(await readFile(join(this.dir, EXPORT_FILES.checkpoints), "utf8"));
  }
}
