import type { Logger } from "pino";
import type { AuditLog } from "../../audit/index.js";
import { type CapabilityCall, type CapabilityHandler, CapabilityRefused, type SandboxEvent } from "../../sandbox/index.js";
import { SkillgateError } from "../errors.js";
import { KvStore } from "./kv-store.js";
import { manifestFetch } from "./net-fetch.js";
import { listDir, readText, removeFile, workspaceDir, writeText } from "./workspace.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface EffectsOptions {
  workspacesRoot: string;
  audit: AuditLog;
  logger: Logger;
  kv?: KvStore;
  maxResponseBytes?: number;
}

/** Audit entry types are lowercase: `writeText` → `write_text`. */
function snake(op: string): string {
  return op.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function str(args: Json, key: string): string {
  const v = args && typeof args === "object" && !Array.isArray(args) ? args[key] : undefined;
  if (typeof v !== "string") throw new SkillgateError("CAPABILITY_ERROR", `${key} must be a string`);
  return v;
}

/**
 * The gateway's effects for calls the sandbox has already checked against the manifest:
 * HTTP egress, the session's workspace files, the skill's key-value space and logging.
 * Every effect is audited as `touched`. Credentials and policy arrive with the broker.
 */
/** Errors that are refusals of what the skill asked for (as opposed to failures of the effect). */
const REFUSALS = new Set(["NOT_CAPABLE", "FS_REFUSED", "KV_QUOTA", "KV_REFUSED", "CREDENTIAL_UNAVAILABLE"]);

export function defaultCapabilityHandler(options: EffectsOptions): CapabilityHandler {
  const perform = performer(options);
  return async (call: CapabilityCall): Promise<Json> => {
    try {
      return await perform(call);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (typeof code === "string" && REFUSALS.has(code) && !(err instanceof CapabilityRefused)) {
        // A refusal, not a failure: the sandbox reports it and the runtime audits it.
        const details = (err as { details?: { request?: string; need?: string } }).details;
        const message = (err as Error).message.split("\n")[0] ?? code;
        throw new CapabilityRefused(code, message, {
          capability: call.capability,
          op: call.op,
          request: details?.request ?? message,
          need: details?.need ?? "",
        });
      }
      throw err;
    }
  };
}

function performer(options: EffectsOptions): CapabilityHandler {
  const kv = options.kv ?? new KvStore();
  return async (call: CapabilityCall): Promise<Json> => {
    const { session, skill, capability, op, args } = call;
    const touched = (type: string, data: Record<string, Json>) =>
      options.audit.append({ session, actor: `skill:${skill.name}`, kind: "touched", type, data: { invocation: call.invocation, ...data } });
    switch (capability) {
      case "net": {
        if (!call.net) throw new SkillgateError("CAPABILITY_ERROR", "net call without a checked target");
        if (call.net.credential) {
          throw new SkillgateError("CREDENTIAL_UNAVAILABLE", `no secret is bound to cred:${call.net.credential} (the credential broker is not configured)`);
        }
        const hops: { method: string; host: string; port: number; path: string; status: number }[] = [];
        try {
          const res = await manifestFetch(
            skill.manifest,
            call.net,
            args,
            { maxResponseBytes: options.maxResponseBytes ?? 4 * 1024 * 1024, timeoutMs: skill.manifest.limits.wallMs, maxRedirects: 5 },
            hops,
          );
          await touched("net.fetch", { hops, ok: true, bytes: Buffer.byteLength(res.body) });
          return { status: res.status, headers: res.headers, body: res.body };
        } catch (err) {
          // Requests that went out are evidence even when the call as a whole failed.
          if (hops.length > 0) await touched("net.fetch", { hops, ok: false, code: String((err as { code?: unknown }).code ?? "NET_FAILED") });
          throw err;
        }
      }
      case "fs": {
        const root = workspaceDir(options.workspacesRoot, session);
        const path = str(args, "path");
        let result: Json;
        if (op === "readText") result = await readText(root, path);
        else if (op === "writeText") result = await writeText(root, path, str(args, "text"));
        else if (op === "list") result = await listDir(root, path);
        else result = await removeFile(root, path);
        await touched(`fs.${snake(op)}`, { path });
        return result;
      }
      case "kv": {
        const quota = skill.manifest.capabilities.kv ?? { maxKeys: 0, maxBytes: 0 };
        if (op === "get") return kv.get(session, skill.name, str(args, "key"));
        if (op === "keys") return kv.keys(session, skill.name);
        const key = str(args, "key");
        const value = args && typeof args === "object" && !Array.isArray(args) ? (args.value ?? null) : null;
        const result = op === "set" ? kv.set(session, skill.name, key, value, quota) : kv.delete(session, skill.name, key);
        await touched(`kv.${op}`, { key });
        return result;
      }
      case "messages": {
        const text = str(args, "text");
        await touched("message.send", { to: str(args, "to") , bytes: Buffer.byteLength(text) });
        options.logger.info({ session, skill: skill.name, to: str(args, "to") }, "skill message");
        return null;
      }
      case "log": {
        const message = str(args, "message").slice(0, 2000);
        const level = op === "error" || op === "warn" || op === "debug" ? op : "info";
        options.logger[level]({ session, skill: skill.name }, `skill: ${message}`);
        return null;
      }
    }
  };
}

/** Sandbox events worth evidence: every refusal and every crash. */
export function auditSandboxEvent(audit: AuditLog, event: SandboxEvent): void {
  if (event.type === "refused" && event.refusal) {
    void audit.append({
      session: event.session ?? null,
      actor: "sandbox",
      kind: "decided",
      type: "capability.refused",
      data: { skill: event.skill ?? "", invocation: event.invocation ?? "", ...event.refusal },
    });
  } else if (event.type === "crashed") {
    void audit.append({
      session: event.session ?? null,
      actor: "sandbox",
      kind: "system",
      type: "sandbox.worker_crashed",
      data: { skill: event.skill ?? "", invocation: event.invocation ?? "", reason: event.message ?? "" },
    });
  }
}
