import { z } from "zod";
import { TrustPolicySchema } from "../../skills-registry/index.js";

const LogLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export const AuditConfigSchema = z
  .object({
    /** Sign a checkpoint after this many new entries (0 disables). */
    checkpointEvery: z.number().int().min(0).default(1000),
    /** …and at least this often while the log grows (0 disables). */
    checkpointIntervalSeconds: z.number().int().min(0).default(60),
    /** A file every checkpoint is also appended to; relative paths are under the state dir. */
    checkpointFile: z.string().min(1).default("audit.checkpoints"),
  })
  .strict();

export const ConfigSchema = z
  .object({
    version: z.literal(1),
    gateway: z
      .object({
        host: z.string().min(1).default("127.0.0.1"),
        port: z.number().int().min(0).max(65535).default(18789),
      })
      .strict()
      .prefault({}),
    audit: AuditConfigSchema.prefault({}),
    log: z.object({ level: LogLevel.default("info") }).strict().prefault({}),
    /** Who may sign which skills; edited with `skillgate trust …`. */
    trust: TrustPolicySchema.prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
