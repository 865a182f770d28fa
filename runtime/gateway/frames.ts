import { z } from "zod";

/** Protocol version spoken by this gateway; a client asking for another is refused. */
export const PROTOCOL_VERSION = 1;
export const ROLES = ["client", "operator", "admin"] as const;
export type Role = (typeof ROLES)[number];

const Id = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);

export const ConnectFrame = z
  .object({
    type: z.literal("connect"),
    protocol: z.number().int(),
    token: z.string().min(1).max(512),
    client: z.object({ name: z.string().min(1).max(64), version: z.string().max(64).optional() }).strict(),
    role: z.enum(ROLES),
  })
  .strict();

export const ReqFrame = z
  .object({
    type: z.literal("req"),
    id: Id,
    method: z.string().regex(/^[a-z][a-zA-Z0-9_.]{0,63}$/),
    params: z.json().optional(),
  })
  .strict();

export const ErrorBody = z.object({ code: z.string(), message: z.string() }).strict();

export const ResFrame = z.discriminatedUnion("ok", [
  z.object({ type: z.literal("res"), id: Id.nullable(), ok: z.literal(true), result: z.json() }).strict(),
  z.object({ type: z.literal("res"), id: Id.nullable(), ok: z.literal(false), error: ErrorBody }).strict(),
]);

export const EventFrame = z
  .object({ type: z.literal("event"), event: z.string().min(1).max(64), payload: z.json(), seq: z.number().int().nonnegative() })
  .strict();

/** What a client may send: the first frame is `connect`, then requests. */
export const ClientFrame = z.discriminatedUnion("type", [ConnectFrame, ReqFrame]);
/** What the gateway sends. */
export const ServerFrame = z.union([ResFrame, EventFrame]);

export type ConnectFrameT = z.infer<typeof ConnectFrame>;
export type ReqFrameT = z.infer<typeof ReqFrame>;
export type ResFrameT = z.infer<typeof ResFrame>;
export type EventFrameT = z.infer<typeof EventFrame>;

/** JSON Schemas of every frame, for client authors in other languages. */
export function protocolJsonSchema(): Record<string, unknown> {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://skillgate.dev/schemas/gateway-protocol-v1.json",
    title: `skillgate gateway protocol v${PROTOCOL_VERSION}`,
    $defs: {
      connect: z.toJSONSchema(ConnectFrame),
      req: z.toJSONSchema(ReqFrame),
      res: z.toJSONSchema(ResFrame),
      event: z.toJSONSchema(EventFrame),
    },
  };
}
