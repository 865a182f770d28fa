import type { Logger } from "pino";
import type { AuditLog } from "../../audit/index.js";
import { type CapabilityCall, type CapabilityHandler, CapabilityRefused, type SandboxEvent } from "../../sandbox/index.js";
import { SkillgateError } from "../errors.js";
import { CredentialBroker, type Hop } from "../broker/broker.js";
import type { CapabilityTarget, Governor } from "../policy/governor.js";
import { Scrubber } from "../secrets/scrubber.js";
import { KvStore } from "./kv-store.js";
import { listDir, readText, removeFile, workspaceDir, writeText } from "./workspace.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface EffectsOptions {
  workspacesRoot: string;
  audit: AuditLog;
  logger: Logger;
  kv?: KvStore;
  /** All egress and credentials; without one, egress to public addresses only and no credentials. */
  broker?: CredentialBroker;
  /** The policy over every capability request; without one (e.g. `skill run`), the manifest alone decides. */
  governor?: Governor;
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

/** Errors that are refusals of what the skill asked for (as opposed to failures of the effect). */
const REFUSALS = new Set(["NOT_CAPABLE", "FS_REFUSED", "KV_QUOTA", "KV_REFUSED", "CREDENTIAL_UNAVAILABLE", "EGRESS_REFUSED"]);

/**
 * The gateway's effects for calls the sandbox has already checked against the manifest:
 * HTTP egress through the credential broker, the session's workspace files, the skill's
 * key-value space and logging. Each passes the policy first; each is audited as `touched`.
 */

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

/** What the policy is asked about a capability call. */
function policyTarget(call: CapabilityCall): CapabilityTarget {
  const skill = { type: "Skill" as const, id: call.skill.name };
  const path = call.args && typeof call.args === "object" && !Array.isArray(call.args) && typeof call.args.path === "string" ? call.args.path : "";
  switch (call.capability) {
    case "net":
      return { action: "net.fetch", resource: { type: "Host", id: call.net?.host ?? "" }, host: call.net?.host, method: call.net?.method, path: call.net?.path, credential: call.net?.credential };
    case "fs":
      return { action: call.op === "readText" || call.op === "list" ? "fs.read" : "fs.write", resource: { type: "Path", id: path }, path };
    case "kv":
      return { action: "kv", resource: skill };
    case "messages":
      return { action: "messages.send", resource: skill };
    default:
      return { action: "log", resource: skill };
  }
}

function performer(options: EffectsOptions): CapabilityHandler {
  const kv = options.kv ?? new KvStore();
  const broker = options.broker ?? new CredentialBroker({ scrubber: new Scrubber(), allowPrivateHosts: [], maxResponseBytes: 4 * 1024 * 1024, timeoutMs: 60_000, maxRedirects: 5 });
  const governor = options.governor;
  return async (call: CapabilityCall): Promise<Json> => {
    const { session, skill, capability, op, args } = call;
    const touched = (type: string, data: Record<string, Json>) =>
      options.audit.append({ session, actor: `skill:${skill.name}`, kind: "touched", type, data: { invocation: call.invocation, ...data } });
    await governor?.capability(call, policyTarget(call));
    switch (capability) {
      case "net": {
        if (!call.net) throw new SkillgateError("CAPABILITY_ERROR", "net call without a checked target");
        const hops: Hop[] = [];
        try {
          const res = await broker.fetch({
            skill: skill.name,
            manifest: skill.manifest,
            first: call.net,
            args,
            hops,
            // Policy, then the intent on record, then the secret goes out.
            beforeCredential: async (use) => {
              await governor?.capability(call, { action: "credential.use", resource: { type: "Credential", id: use.ref }, host: use.host, method: use.method, path: use.path, credential: use.ref });
              await touched("credential.use", { ref: `cred:${use.ref}`, host: use.host, method: use.method, path: use.path });
            },
          });
          await touched("net.fetch", { hops: hops as unknown as Json, ok: true, bytes: Buffer.byteLength(res.body) });
          // What came back from the network is untrusted input for the rest of the session.
          await governor?.taint(session, `network content from ${call.net.host} via ${skill.name}`);
          await governor?.countEgress(session, res.egressBytes);
          return { status: res.status, headers: res.headers, body: res.body };
        } catch (err) {
          // Requests that went out are evidence even when the call as a whole failed.
          if (hops.length > 0) await touched("net.fetch", { hops: hops as unknown as Json, ok: false, code: String((err as { code?: unknown }).code ?? "NET_FAILED") });
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
