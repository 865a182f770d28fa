import semver from "semver";
import { z } from "zod";

/** npm-style scoped name; the scope is what trust policies grant. */
export const SkillName = z
  .string()
  .max(214)
  .regex(/^@[a-z0-9][a-z0-9._-]*\/[a-z0-9][a-z0-9._-]*$/, "must be a scoped name like @acme/weather");

export const SkillVersion = z
  .string()
  .max(64)
  .refine((v) => semver.valid(v) === v, "must be a semantic version like 1.2.3");

const Label = "(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)";
const HOSTNAME = new RegExp(`^${Label}(?:\\.${Label})*$`);
const WILDCARD = new RegExp(`^\\*(?:\\.${Label}){2,}$`);

/** An exact DNS name, or `*.suffix` (any name strictly under suffix, which has ≥ 2 labels). */
export const HostPattern = z
  .string()
  .max(253)
  .refine((h) => HOSTNAME.test(h) || WILDCARD.test(h), "must be a lowercase host name or *.example.com");

/** A workspace-relative POSIX path: no leading slash, no `..`, no empty or `.` segments. */
export const WorkspacePath = z
  .string()
  .min(1)
  .max(512)
  .refine(
    (p) => !p.startsWith("/") && !p.includes("\\") && !p.includes("\0") && p.replace(/\/$/, "").split("/").every((s) => s !== "" && s !== "." && s !== ".."),
    "must be a relative path inside the workspace (no leading /, no .., no empty segments)",
  );

const PathPrefix = z
  .string()
  .max(512)
  .regex(/^\/[^\s?#]*$/, "must start with / and hold no query or fragment")
  .refine((p) => !p.split("/").includes(".."), "must not contain ..");

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;

export const NetCapability = z
  .object({
    host: HostPattern,
    port: z.number().int().min(1).max(65535).default(443),
    methods: z.array(z.enum(HTTP_METHODS)).min(1).default(["GET"]),
    paths: z.array(PathPrefix).min(1).default(["/"]),
  })
  .strict();

export const FsCapability = z
  .object({
    path: WorkspacePath,
    access: z.array(z.enum(["read", "write"])).min(1),
  })
  .strict();

export const CredentialRef = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, "must be a short lowercase id like github");

export const CredentialInjection = z.discriminatedUnion("type", [
  z
    .object({
      type: z.literal("header"),
      name: z.string().regex(/^[A-Za-z0-9-]{1,64}$/),
      /** `{secret}` marks where the value goes, e.g. `Bearer {secret}`. */
      template: z
        .string()
        .max(256)
        .refine((t) => t.split("{secret}").length === 2, "must contain {secret} exactly once")
        .default("{secret}"),
    })
    .strict(),
  z.object({ type: z.literal("basic"), username: z.string().max(256).optional() }).strict(),
  z.object({ type: z.literal("query"), param: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/) }).strict(),
]);

export const CredentialCapability = z
  .object({
    ref: CredentialRef,
    hosts: z.array(HostPattern).min(1),
    inject: CredentialInjection,
  })
  .strict();

export const KvCapability = z
  .object({
    maxKeys: z.number().int().min(1).max(100_000).default(1000),
    maxBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(1024 * 1024),
  })
  .strict();

export const MessagesCapability = z
  .object({
    /** Where the skill may post: its own session's user, or the operator. */
    to: z.array(z.enum(["session", "operator"])).min(1),
  })
  .strict();

export const Capabilities = z
  .object({
    net: z.array(NetCapability).max(64).default([]),
    fs: z.array(FsCapability).max(64).default([]),
    credentials: z.array(CredentialCapability).max(16).default([]),
    kv: KvCapability.optional(),
    messages: MessagesCapability.optional(),
  })
  .strict();

/** A JSON Schema for a tool's input; its top level must describe an object. */
const ToolInputSchema = z
  .object({ type: z.literal("object") })
  .catchall(z.json());

export const Tool = z
  .object({
    name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, "must be snake_case, starting with a letter"),
    description: z.string().min(1).max(1024),
    input: ToolInputSchema,
    effect: z.enum(["read", "write", "external"]),
  })
  .strict();

export const Limits = z
  .object({
    memoryMb: z.number().int().min(8).max(1024).default(64),
    cpuMs: z.number().int().min(1).max(60_000).default(1000),
    wallMs: z.number().int().min(1).max(300_000).default(5000),
    outputBytes: z.number().int().min(1).max(16 * 1024 * 1024).default(1024 * 1024),
  })
  .strict();

export const ManifestSchema = z
  .object({
    $schema: z.string().optional(),
    name: SkillName,
    version: SkillVersion,
    description: z.string().min(1).max(1024),
    entry: WorkspacePath.refine((p) => /\.m?js$/.test(p), "must be the skill's .js or .mjs ESM bundle"),
    tools: z
      .array(Tool)
      .min(1)
      .max(64)
      .refine((tools) => new Set(tools.map((t) => t.name)).size === tools.length, "tool names must be unique"),
    capabilities: Capabilities.prefault({}),
    limits: Limits.prefault({}),
  })
  .strict();

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestInput = z.input<typeof ManifestSchema>;
export type NetRule = z.infer<typeof NetCapability>;
export type FsRule = z.infer<typeof FsCapability>;
export type CredentialRule = z.infer<typeof CredentialCapability>;
