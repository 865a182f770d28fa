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

/** Operator caps over what any manifest asks for, and the worker pool's shape. */
export const SandboxConfigSchema = z
  .object({
    poolSize: z.number().int().min(1).max(64).default(2),
    idleTtlSeconds: z.number().int().min(1).max(86_400).default(60),
    workerHeapMb: z.number().int().min(64).max(16_384).default(512),
    maxMemoryMb: z.number().int().min(8).max(4096).default(256),
    maxCpuMs: z.number().int().min(1).max(600_000).default(10_000),
    maxWallMs: z.number().int().min(1).max(3_600_000).default(60_000),
    maxOutputBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
    maxCallsPerInvocation: z.number().int().min(0).max(100_000).default(256),
  })
  .strict();

export const AgentConfigSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
    /**
     * "scripted" is the built-in demo script; `{provider: "scripted", script}` follows a script
     * file (relative to the state dir); otherwise an OpenAI-compatible endpoint, its key read
     * from an environment variable.
     */
    model: z
      .union([
        z.literal("scripted"),
        z.object({ provider: z.literal("scripted"), script: z.string().min(1).max(4096) }).strict(),
        z
          .object({
            provider: z.literal("openai"),
            model: z.string().min(1).max(128),
            baseURL: z.url().optional(),
            apiKeyEnv: z.string().regex(/^[A-Z_][A-Z0-9_]{0,63}$/).default("OPENAI_API_KEY"),
          })
          .strict(),
      ])
      .default("scripted"),
    system: z.string().max(16_384).default("You are a careful assistant. Use the tools you are given; never guess at results."),
    /** Installed skills this agent may use, by name. */
    skills: z.array(z.string()).default([]),
    maxSteps: z.number().int().min(1).max(64).default(8),
    /** How many recent messages the model sees at most; the transcript keeps all. */
    contextMessages: z.number().int().min(2).max(1000).default(40),
    /** …and at most about this many tokens of them (estimated at 4 characters a token). */
    contextTokens: z.number().int().min(256).max(2_000_000).default(32_000),
    /** The agent's side of the policy: what the Cedar policies see as its limits. */
    policy: z
      .object({
        /** Only tools with effect "read" run; no file writes. */
        readOnly: z.boolean().default(false),
        /** When set, only these tools (`@scope/skill.tool`) are offered and allowed. */
        tools: z.array(z.string().min(1).max(300)).max(1000).optional(),
        maxToolCallsPerSession: z.number().int().min(0).max(1_000_000).default(1000),
        maxEgressBytesPerSession: z.number().int().min(0).max(1e12).default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
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
    sandbox: SandboxConfigSchema.prefault({}),
    /** How many turns run at once in each global lane, and how many may wait. */
    lanes: z
      .object({
        main: z.number().int().min(1).max(1024).default(4),
        cron: z.number().int().min(1).max(1024).default(1),
        subagent: z.number().int().min(1).max(1024).default(8),
        queueCap: z.number().int().min(1).max(100_000).default(256),
      })
      .strict()
      .prefault({}),
    agents: z
      .array(AgentConfigSchema)
      .default([{ id: "demo", model: "scripted", system: "You are the skillgate demo agent.", skills: ["@demo/weather", "@demo/notes", "@demo/github-issues"], maxSteps: 8, contextMessages: 40, contextTokens: 32_000, policy: { readOnly: false, maxToolCallsPerSession: 1000, maxEgressBytesPerSession: 64 * 1024 * 1024 } }]),
    /** Cedar policy files (relative to the state dir); empty means the shipped defaults. */
    policy: z.object({ files: z.array(z.string().min(1).max(4096)).max(64).default([]) }).strict().prefault({}),
    approvals: z
      .object({
        timeoutSeconds: z.number().int().min(1).max(86_400).default(300),
        maxPendingPerSession: z.number().int().min(1).max(100).default(3),
        maxPerMinutePerSession: z.number().int().min(1).max(1000).default(10),
      })
      .strict()
      .prefault({}),
    egress: z
      .object({
        /** Hosts (names or IP literals) that may reach loopback, private or link-local addresses. */
        allowPrivateHosts: z.array(z.string().min(1).max(253)).max(256).default([]),
        maxResponseBytes: z.number().int().min(1).max(256 * 1024 * 1024).default(4 * 1024 * 1024),
        maxRedirects: z.number().int().min(0).max(20).default(5),
      })
      .strict()
      .prefault({}),
    /** Who may sign which skills; edited with `skillgate trust …`. */
    trust: TrustPolicySchema.prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
