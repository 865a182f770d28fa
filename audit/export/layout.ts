import { z } from "zod";

/** File names inside an export directory; the format an auditor's tools read. */
export const EXPORT_FILES = {
  manifest: "export.json",
  entries: "entries.jsonl",
  checkpoints: "checkpoints.txt",
  vkey: "log.vkey",
  blobs: "blobs",
} as const;

export const EXPORT_FORMAT = "skillgate-audit-export/v1";

export const ExportManifestSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    origin: z.string().min(1),
    size: z.number().int().nonnegative(),
    rootHex: z.string().regex(/^[0-9a-f]{64}$/),
    exportedAt: z.string(),
  })
  .strict();
export type ExportManifest = z.infer<typeof ExportManifestSchema>;
