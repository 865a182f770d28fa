import { z } from "zod";
import type { AuditLog } from "../../audit/index.js";
import type { ApprovalBook } from "../approvals/approval-book.js";
import { SkillgateError } from "../errors.js";
import type { Scrubber } from "../secrets/scrubber.js";
import { SecretBindingSchema, SecretRefSchema, type Vault } from "../secrets/vault.js";
import type { MethodContext, MethodHandler } from "./server.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const SecretValue = z.string().min(1).max(16_384);
const SetParams = SecretBindingSchema.extend({ ref: SecretRefSchema, value: SecretValue }).strict();
const RotateParams = z.object({ ref: SecretRefSchema, value: SecretValue }).strict();
const RefParams = z.object({ ref: SecretRefSchema }).strict();
const ResolveParams = z.object({ id: z.string().min(1).max(64), decision: z.enum(["allow-once", "deny"]), hash: z.string().regex(/^[0-9a-f]{64}$/).optional() }).strict();

function parse<T>(schema: z.ZodType<T>, params: unknown): T {
  const r = schema.safeParse(params ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    // Never echo the input back: it may be a secret value.
    throw new SkillgateError("BAD_REQUEST", `${issue?.path.join(".") || "params"}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

/** Approvals (operator and admin roles): list what waits, and answer it. */
export function approvalMethods(approvals: ApprovalBook): Record<string, MethodHandler> {
  return {
    "approvals.list": async () => approvals.list() as unknown as Json,
    "approval.resolve": async (ctx, params) => {
      const p = parse(ResolveParams, params);
      const a = await approvals.resolve(p.id, p.decision, { role: ctx.role, client: ctx.client }, p.hash);
      return { id: a.id, decision: p.decision, tool: a.tool, session: a.session };
    },
  };
}

/**
 * The secret vault (admin role). Values come in and are never sent back, logged or
 * audited; every change refreshes the scrubber at once.
 */
export function secretMethods(c: { vault: Vault; scrubber: Scrubber; audit: AuditLog }): Record<string, MethodHandler> {
  const changed = async (ctx: MethodContext, type: string, data: Record<string, Json>) => {
    c.scrubber.update(await c.vault.values());
    await c.audit.append({ actor: `${ctx.role}:${ctx.client.slice(0, 64)}`, kind: "system", type, data });
  };
  return {
    "secrets.list": async () => (await c.vault.list()) as unknown as Json,
    "secrets.set": async (ctx, params) => {
      const { ref, value, ...binding } = parse(SetParams, params);
      const info = await c.vault.set(ref, value, binding);
      await changed(ctx, "secret.set", { ref: `cred:${ref}`, version: info.version, hosts: info.binding.hosts, skills: info.binding.skills });
      return info as unknown as Json;
    },
    "secrets.rotate": async (ctx, params) => {
      const p = parse(RotateParams, params);
      const info = await c.vault.rotate(p.ref, p.value);
      await changed(ctx, "secret.rotated", { ref: `cred:${p.ref}`, version: info.version });
      return info as unknown as Json;
    },
    "secrets.remove": async (ctx, params) => {
      const p = parse(RefParams, params);
      if (!(await c.vault.remove(p.ref))) throw new SkillgateError("SECRET_NOT_FOUND", `no secret cred:${p.ref}`);
      await changed(ctx, "secret.removed", { ref: `cred:${p.ref}` });
      return { removed: p.ref };
    },
  };
}
