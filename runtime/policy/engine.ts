import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { SkillgateError } from "../errors.js";

export type Decision = "allow" | "deny" | "ask";

type CedarValue = string | number | boolean | CedarValue[] | { [key: string]: CedarValue };

export interface PolicyRequest {
  principal: { type: "Agent"; id: string };
  action: string;
  resource: { type: "Tool" | "Host" | "Path" | "Credential" | "Skill"; id: string };
  context: Record<string, CedarValue>;
}

export interface PolicyDecision {
  decision: Decision;
  /** The policies that made the decision (their `@id`). */
  policies: string[];
  /** One line for the audit log and the operator. */
  reason: string;
}

export const DEFAULT_POLICY_FILE = new URL("../../../runtime/policy/default.cedar", import.meta.url);

interface ParsedPolicy {
  id: string;
  text: string;
  ask?: string;
  effect: "permit" | "forbid";
}

function firstError(errors: { message: string }[]): string {
  return (errors[0]?.message ?? "invalid policy").split("\n")[0] as string;
}

/** Splits policy text into policies, reading each one's `@id` and `@ask` annotations. */
export function parsePolicies(sources: { name: string; text: string }[]): ParsedPolicy[] {
  const out: ParsedPolicy[] = [];
  const seen = new Set<string>();
  for (const source of sources) {
    const parts = cedar.policySetTextToParts(source.text);
    if (parts.type === "failure") throw new SkillgateError("POLICY_INVALID", `${source.name}: ${firstError(parts.errors)}`);
    if (parts.policy_templates.length) throw new SkillgateError("POLICY_INVALID", `${source.name}: templates are not supported`);
    parts.policies.forEach((text, n) => {
      const json = cedar.policyToJson(text);
      if (json.type === "failure") throw new SkillgateError("POLICY_INVALID", `${source.name}: ${firstError(json.errors)}`);
      const annotations = json.json.annotations ?? {};
      const id = annotations.id ?? `${source.name}#${n}`;
      if (seen.has(id)) throw new SkillgateError("POLICY_INVALID", `${source.name}: policy id ${id} is used twice`);
      seen.add(id);
      out.push({ id, text, effect: json.json.effect, ...(annotations.ask !== undefined ? { ask: annotations.ask || "approval required" } : {}) });
    });
  }
  return out;
}

/**
 * Cedar policies, parsed once and evaluated per request. Cedar answers allow or deny. When
 * it allows and any satisfied permit is annotated `@ask`, the answer is "ask an operator":
 * a broad permit cannot quietly bypass a narrower rule that wants a human. A forbid always
 * wins, and an evaluation error denies.
 */
export class PolicyEngine {
  private constructor(
    private readonly setId: string,
    private readonly byId: Map<string, ParsedPolicy>,
  ) {}

  static fromSources(sources: { name: string; text: string }[]): PolicyEngine {
    const policies = parsePolicies(sources);
    const setId = `skillgate-${randomUUID()}`;
    const parsed = cedar.preparsePolicySet(setId, { staticPolicies: Object.fromEntries(policies.map((p) => [p.id, p.text])) });
    if (parsed.type === "failure") throw new SkillgateError("POLICY_INVALID", firstError(parsed.errors));
    return new PolicyEngine(setId, new Map(policies.map((p) => [p.id, p])));
  }

  /** The shipped defaults, or the operator's files instead of them. */
  static async load(files: string[]): Promise<PolicyEngine> {
    const paths = files.length ? files : [DEFAULT_POLICY_FILE];
    const sources: { name: string; text: string }[] = [];
    for (const path of paths) {
      const name = typeof path === "string" ? path : "default.cedar";
      try {
        sources.push({ name, text: await readFile(path, "utf8") });
      } catch (err) {
        throw new SkillgateError("POLICY_INVALID", `cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? "error"}`);
      }
    }
    return PolicyEngine.fromSources(sources);
  }

  get ids(): string[] {
    return [...this.byId.keys()];
  }

  decide(req: PolicyRequest): PolicyDecision {
    const answer = cedar.statefulIsAuthorized({
      principal: req.principal,
      action: { type: "Action", id: req.action },
      resource: req.resource,
      context: req.context,
      preparsedPolicySetId: this.setId,
      entities: [],
    });
    if (answer.type === "failure") return { decision: "deny", policies: [], reason: `policy evaluation failed: ${firstError(answer.errors)}` };
    const { decision, diagnostics } = answer.response;
    // Cedar skips a policy whose evaluation errors; a skipped forbid must not turn into an allow.
    if (diagnostics.errors.length) {
      return { decision: "deny", policies: diagnostics.errors.map((e) => e.policyId), reason: `policy error: ${diagnostics.errors[0]?.error.message.split("\n")[0]}` };
    }
    const policies = diagnostics.reason;
    if (decision === "deny") {
      return { decision: "deny", policies, reason: policies.length ? `forbidden by ${policies.join(", ")}` : "no policy permits it (deny by default)" };
    }
    const asking = policies.map((id) => this.byId.get(id)).filter((p): p is ParsedPolicy => p?.ask !== undefined);
    if (asking.length) return { decision: "ask", policies: asking.map((p) => p.id), reason: asking.map((p) => p.ask).join("; ") };
    return { decision: "allow", policies, reason: `permitted by ${policies.join(", ")}` };
  }
}
