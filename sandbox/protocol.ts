import { z } from "zod";

/**
 * Every message between the gateway and a sandbox worker. Both sides parse with these
 * schemas: the worker because the gateway's messages drive it, the gateway because a
 * worker is assumed compromised.
 */

const Id = z.string().min(1).max(64);
const Json = z.json();

export const LimitsSchema = z
  .object({
    memoryMb: z.number().int().min(8).max(4096),
    cpuMs: z.number().int().min(1).max(600_000),
    wallMs: z.number().int().min(1).max(3_600_000),
    outputBytes: z.number().int().min(1).max(64 * 1024 * 1024),
    /** Capability calls one invocation may make. */
    maxCalls: z.number().int().min(0).max(100_000),
  })
  .strict();
export type SandboxLimits = z.infer<typeof LimitsSchema>;

export const CAPABILITIES = ["net", "fs", "kv", "messages", "log"] as const;
export type CapabilityName = (typeof CAPABILITIES)[number];

export const InvokeMessage = z
  .object({
    type: z.literal("invoke"),
    id: Id,
    /** Isolate identity: one per (session, skill@digest). */
    key: z.string().min(1).max(1024),
    digest: z.string().min(1).max(128),
    /** Sent once per worker and digest; the worker keeps it and answers NEED_CODE if it has not. */
    code: z.string().max(16 * 1024 * 1024).optional(),
    filename: z.string().max(512),
    tool: z.string().min(1).max(64),
    input: Json,
    limits: LimitsSchema,
    /** Capabilities the manifest declares: only these exist in the guest's host module. */
    capabilities: z.array(z.enum(CAPABILITIES)),
    wasm: z.boolean(),
    fresh: z.boolean(),
  })
  .strict();

export const CapReplyMessage = z
  .object({
    type: z.literal("cap-reply"),
    callId: Id,
    ok: z.boolean(),
    value: Json.optional(),
    error: z.object({ code: z.string().max(64), message: z.string().max(4096), details: Json.optional() }).strict().optional(),
  })
  .strict();

export const DisposeMessage = z.object({ type: z.literal("dispose"), key: z.string().min(1).max(1024) }).strict();

export const ToWorkerSchema = z.discriminatedUnion("type", [InvokeMessage, CapReplyMessage, DisposeMessage]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;
export type InvokeRequest = z.infer<typeof InvokeMessage>;
export type CapReply = z.infer<typeof CapReplyMessage>;

export const ErrorShape = z
  .object({ code: z.string().max(64), message: z.string().max(4096), details: Json.optional() })
  .strict();
export type WireError = z.infer<typeof ErrorShape>;

export const StatsSchema = z.object({ cpuMs: z.number(), wallMs: z.number(), calls: z.number().int(), coldStart: z.boolean() }).strict();
export type InvokeStats = z.infer<typeof StatsSchema>;

export const ReadyMessage = z
  .object({ type: z.literal("ready"), ivm: z.object({ packageName: z.string(), version: z.string() }).strict() })
  .strict();
export const ResultMessage = z
  .object({
    type: z.literal("result"),
    id: Id,
    ok: z.boolean(),
    /** The tool's output as JSON text (its size is what the output cap counts). */
    output: z.string().max(64 * 1024 * 1024).optional(),
    error: ErrorShape.optional(),
    stats: StatsSchema,
  })
  .strict();
export const CapRequestMessage = z
  .object({
    type: z.literal("cap"),
    invocation: Id,
    callId: Id,
    capability: z.enum(CAPABILITIES),
    op: z.string().min(1).max(32),
    args: Json,
  })
  .strict();

export const FromWorkerSchema = z.discriminatedUnion("type", [ReadyMessage, ResultMessage, CapRequestMessage]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;
export type CapRequest = z.infer<typeof CapRequestMessage>;
