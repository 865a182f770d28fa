import type { AuditLog } from "../../audit/index.js";
import { type CapabilityCall, CapabilityRefused, type SandboxSkill } from "../../sandbox/index.js";
import type { Config } from "../config/schema.js";
import type { StateDb } from "../state/state-db.js";
import type { PolicyContext } from "./context.js";
import type { PolicyDecision, PolicyEngine, PolicyRequest } from "./engine.js";

export type AgentPolicy = Config["agents"][number]["policy"];

export interface CapabilityTarget {
  action: "net.fetch" | "fs.read" | "fs.write" | "kv" | "log" | "messages.send" | "credential.use";
  resource: PolicyRequest["resource"];
  host?: string;
  method?: string;
  path?: string;
  credential?: string;
}

interface ActiveCall {
  agent: string;
  policy: AgentPolicy;
  skill: string;
  tool: string;
  effect: string;
  approved: boolean;
}

/** Hosts lowercased without a trailing dot; Cedar compares strings, it does not normalise. */
export function canonicalHost(host: string): string {
  return host.toLowerCase().replace(/\.+$/, "");
}

/**
 * Where the policy meets the session: builds Cedar requests from a session's state (taint,
 * budgets), the agent's policy and the call in progress, and records what changes that
 * state. One shape of context for every action, so a policy never errors on a missing field.
 */
export class Governor {
  /** The tool call running in each session (a session runs one at a time). */
  private readonly active = new Map<string, ActiveCall>();

  constructor(
    readonly engine: PolicyEngine,
    private readonly state: StateDb,
    private readonly audit: AuditLog,
  ) {}

  private async context(
    session: string,
    call: Omit<ActiveCall, "agent">,
    extra: Partial<Record<"host" | "method" | "path" | "credential", string>> & { usesCredentials?: boolean },
  ): Promise<PolicyContext> {
    const s = await this.state.sessionState(session);
    return {
      session,
      skill: call.skill,
      tool: call.tool,
      effect: call.effect,
      tainted: s.taintedBy !== null,
      approved: call.approved,
      readOnly: call.policy.readOnly,
      usesCredentials: extra.usesCredentials ?? false,
      toolCalls: s.toolCalls,
      maxToolCalls: call.policy.maxToolCallsPerSession,
      egressBytes: s.egressBytes,
      maxEgressBytes: call.policy.maxEgressBytesPerSession,
      host: extra.host ?? "",
      method: extra.method ?? "",
      path: extra.path ?? "",
      credential: extra.credential ?? "",
    };
  }

  /** The decision for a tool call, before anything runs. */
  async toolCall(session: string, agent: string, policy: AgentPolicy, skill: SandboxSkill, tool: string, effect: string): Promise<PolicyDecision> {
    const name = `${skill.name}.${tool}`;
    if (policy.tools && !policy.tools.includes(name)) return { decision: "deny", policies: ["agent.tools"], reason: `${name} is not among the agent's allowed tools` };
    const context = await this.context(session, { policy, skill: skill.name, tool: name, effect, approved: false }, { usesCredentials: skill.manifest.capabilities.credentials.length > 0 });
    return this.engine.decide({ principal: { type: "Agent", id: agent }, action: "tool.call", resource: { type: "Tool", id: name }, context });
  }

  begin(session: string, call: ActiveCall): void {
    this.active.set(session, call);
  }

  end(session: string): void {
    this.active.delete(session);
  }

  /** Every capability request inside a running tool call; a deny or an ask (no human mid-call) refuses it. */
  async capability(call: CapabilityCall, target: CapabilityTarget): Promise<void> {
    const active = this.active.get(call.session);
    const refuse = (reason: string) =>
      new CapabilityRefused("POLICY_DENIED", `policy: ${reason}`, { capability: call.capability, op: call.op, request: `${target.action} ${target.resource.id}`, need: reason });
    if (!active || active.skill !== call.skill.name) throw refuse("no tool call of this skill is running in the session");
    const resource = target.action === "net.fetch" ? { ...target.resource, id: canonicalHost(target.resource.id) } : target.resource;
    const context = await this.context(call.session, active, { host: target.host && canonicalHost(target.host), method: target.method, path: target.path, credential: target.credential });
    const decision = this.engine.decide({ principal: { type: "Agent", id: active.agent }, action: target.action, resource, context });
    if (decision.decision !== "allow") {
      await this.audit.append({
        session: call.session,
        actor: "policy",
        kind: "decided",
        type: "policy.decision",
        data: { invocation: call.invocation, action: target.action, resource: resource.id, decision: "deny", policies: decision.policies, reason: decision.reason },
      });
      throw refuse(decision.decision === "ask" ? `${decision.reason} (only a tool call can wait for approval)` : decision.reason);
    }
  }

  taint(session: string, why: string): Promise<void> {
    return this.state.taint(session, why);
  }

  countToolCall(session: string): Promise<void> {
    return this.state.countUsage(session, { toolCalls: 1 });
  }

  countEgress(session: string, bytes: number): Promise<void> {
    return this.state.countUsage(session, { egressBytes: bytes });
  }
}
