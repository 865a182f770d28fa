import { createHash, randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import type { AuditLog } from "../../audit/index.js";
import type { SandboxPool, SandboxSkill } from "../../sandbox/index.js";
import { parseSkillMd, readLockfile, skillDir } from "../../skills-registry/index.js";
import type { ModelClient } from "../agent/model.js";
import { loadScript } from "../agent/load-script.js";
import { ScriptedModel } from "../agent/scripted-model.js";
import { ToolRegistry } from "../agent/tool-registry.js";
import { runTurn } from "../agent/turn.js";
import type { Config } from "../config/schema.js";
import { startSandboxPool } from "../effects/sandbox-pool.js";
import { SkillgateError } from "../errors.js";
import { LaneScheduler } from "../sessions/lanes.js";
import { SessionKey } from "../sessions/session-key.js";
import { loadInstalledSkill } from "../skills/run-skill.js";
import { ApprovalBook } from "../approvals/approval-book.js";
import { CredentialBroker } from "../broker/broker.js";
import type { Resolver } from "../broker/pinned-dispatcher.js";
import { PolicyEngine } from "../policy/engine.js";
import { Governor } from "../policy/governor.js";
import { loadMasterKey } from "../secrets/master-key.js";
import { Scrubber } from "../secrets/scrubber.js";
import { Vault } from "../secrets/vault.js";
import { StateDb } from "../state/state-db.js";
import { inHome, type StatePaths } from "../state/state-dir.js";
import type { MethodContext, MethodHandler } from "./server.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface Agent {
  config: Config["agents"][number];
  tools: ToolRegistry;
  system: string;
  model: ModelClient;
}

/** The agent's model: a script (the demo's by default), or an endpoint whose key must be in the environment. */
async function modelFor(paths: StatePaths, agent: Config["agents"][number]): Promise<ModelClient> {
  if (agent.model === "scripted") return new ScriptedModel();
  if (agent.model.provider === "scripted") return new ScriptedModel(await loadScript(inHome(paths.home, agent.model.script)));
  const apiKey = process.env[agent.model.apiKeyEnv];
  if (!apiKey) throw new SkillgateError("MODEL_KEY_MISSING", `agent ${agent.id}: set ${agent.model.apiKeyEnv} to the model endpoint's API key`);
  // Loaded only when an agent uses an endpoint: the SDK is a noticeable share of start time.
  const { OpenAIModel } = await import("../agent/openai-model.js");
  return new OpenAIModel({ model: agent.model.model, baseURL: agent.model.baseURL, apiKey });
}

/** Instructions for the model from each enabled skill's SKILL.md. */
async function skillInstructions(paths: StatePaths, skill: SandboxSkill): Promise<string> {
  try {
    const doc = parseSkillMd(await readFile(join(skillDir(paths.skillsDir, skill.digest), "SKILL.md"), "utf8"));
    return `\n\n## Skill ${skill.name}\n${doc.body.trim()}`;
  } catch {
    return "";
  }
}

export type HostedInvoker = Pick<SandboxPool, "invoke" | "walls" | "close">;

/** Agents, sessions, lanes and the sandbox behind the gateway's chat methods. */
/** A promise settled from outside (Promise.withResolvers, which Node 20 lacks). */
function settleable<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (reason: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export class AgentHost {
  private constructor(
    private readonly agents: Map<string, Agent>,
    private readonly pool: HostedInvoker,
    private readonly state: StateDb,
    private readonly lanes: LaneScheduler,
    private readonly audit: AuditLog,
    readonly control: { vault: Vault; scrubber: Scrubber; governor: Governor; approvals: ApprovalBook },
  ) {}

  /**
   * Everything behind the chat methods: state, vault, policy, approvals, broker, sandbox.
   * `invoker` replaces the sandbox pool: only the gateway benchmark's unsandboxed baseline does that.
   */
  static async start(options: {
    paths: StatePaths;
    config: Config;
    audit: AuditLog;
    logger: Logger;
    /** Shared with the logger, so log lines are scrubbed of the same secrets. */
    scrubber?: Scrubber;
    invoker?: HostedInvoker;
    resolver?: Resolver;
  }): Promise<AgentHost> {
    const { paths, config, audit, logger } = options;
    // Workers boot (a few hundred ms) while the vault, policy and skills load.
    const control = settleable<{ broker: CredentialBroker; governor: Governor }>();
    const poolStarting = options.invoker ? Promise.resolve(options.invoker) : startSandboxPool({ paths, sandbox: config.sandbox, audit, logger, size: config.sandbox.poolSize, control: control.promise });
    poolStarting.catch(() => undefined);
    let state: StateDb | undefined;
    try {
      state = await StateDb.open(paths.stateDb);
      for (const t of await state.failInterruptedTurns(new Date().toISOString())) {
        await audit.append({ session: t.session, actor: "gateway", kind: "system", type: "turn.interrupted", data: { turn: t.id, completed: t.completed.map((c) => `${c.tool}:${c.status}`) } });
      }
      const vault = await Vault.open(state, await loadMasterKey(paths.masterKey));
      const scrubber = options.scrubber ?? new Scrubber();
      scrubber.update(await vault.values());
      const policy = await PolicyEngine.load(config.policy.files.map((f) => inHome(paths.home, f)));
      const governor = new Governor(policy, state, audit);
      const approvals = new ApprovalBook(audit, {
        timeoutMs: config.approvals.timeoutSeconds * 1000,
        maxPendingPerSession: config.approvals.maxPendingPerSession,
        maxPerMinutePerSession: config.approvals.maxPerMinutePerSession,
      });
      const broker = new CredentialBroker({
        vault,
        scrubber,
        allowPrivateHosts: config.egress.allowPrivateHosts,
        maxResponseBytes: config.egress.maxResponseBytes,
        maxRedirects: config.egress.maxRedirects,
        timeoutMs: config.sandbox.maxWallMs,
        ...(options.resolver ? { resolve: options.resolver } : {}),
      });
      const installed = Object.keys((await readLockfile(paths.lockfile)).skills);
      const agents = new Map<string, Agent>();
      for (const agent of config.agents) {
        const skills: SandboxSkill[] = [];
        let system = agent.system;
        for (const name of agent.skills.filter((n) => installed.includes(n))) {
          try {
            const skill = await loadInstalledSkill(paths, config.trust, name);
            skills.push(skill);
            system += await skillInstructions(paths, skill);
          } catch (err) {
            logger.warn({ agent: agent.id, skill: name, code: (err as { code?: string }).code }, "skill not enabled");
          }
        }
        agents.set(agent.id, { config: agent, tools: new ToolRegistry(skills, agent.policy.tools), system, model: await modelFor(paths, agent) });
      }
      control.resolve({ broker, governor });
      const pool = await poolStarting;
      return new AgentHost(agents, pool, state, new LaneScheduler(config.lanes), audit, { vault, scrubber, governor, approvals });
    } catch (err) {
      control.reject(err);
      await poolStarting.then((pool) => (pool === options.invoker ? undefined : pool.close())).catch(() => undefined);
      await state?.close();
      throw err;
    }
  }

  private sessionFor(ctx: MethodContext, agent: string, requested: unknown): string {
    // Clients chat in their own connection's session; operators and admins may name one.
    if (ctx.role === "client" || requested === undefined) {
      const own = createHash("sha256").update(ctx.connectionId).digest("hex").slice(0, 16);
      return ctx.role === "client" ? `agent:${agent}:group:c${own}` : `agent:${agent}:main`;
    }
    const parsed = SessionKey.safeParse(requested);
    if (!parsed.success) throw new SkillgateError("BAD_REQUEST", "session: not a session key");
    return parsed.data;
  }

  agent(id: unknown): Agent {
    const agentId = typeof id === "string" ? id : (this.agents.keys().next().value as string | undefined);
    const agent = agentId ? this.agents.get(agentId) : undefined;
    if (!agent) throw new SkillgateError("BAD_REQUEST", `no agent ${String(id)}`);
    return agent;
  }

  /** Queues one turn in the session's lane and waits for it. */
  async turn(
    agent: Agent,
    session: string,
    text: string,
    emit: (event: string, payload: Json) => void,
    sub?: { tools: ToolRegistry },
    untrustedInput?: string,
  ): Promise<{ session: string; turn: string; reply: string; toolCalls: number }> {
    const tools = sub?.tools ?? agent.tools;
    const { governor, approvals, scrubber } = this.control;
    const ticket = this.lanes.submit(session, sub ? "subagent" : "main", (signal) =>
      runTurn(
        {
          session,
          agent: agent.config.id,
          system: agent.system,
          model: agent.model,
          tools,
          // One level deep: a sub-agent cannot spawn its own.
          ...(sub
            ? {}
            : {
                spawnSubagent: async (task: string, skills: string[] | undefined) => {
                  const child = `agent:${agent.config.id}:subagent:${randomUUID()}`;
                  // Taint flows both ways: a tainted parent writes the task; the child's answer comes back.
                  const parentTaint = (await this.state.sessionState(session)).taintedBy;
                  const result = await this.turn(agent, child, task, emit, { tools: tools.subset(skills) }, parentTaint ? `parent session: ${parentTaint}` : undefined);
                  const childTaint = (await this.state.sessionState(child)).taintedBy;
                  if (childTaint) await governor.taint(session, `sub-agent ${child}: ${childTaint}`);
                  return { session: child, reply: result.reply };
                },
              }),
          pool: this.pool,
          audit: this.audit,
          state: this.state,
          maxSteps: agent.config.maxSteps,
          contextMessages: agent.config.contextMessages,
          contextTokens: agent.config.contextTokens,
          events: { emit },
          signal,
          governor,
          agentPolicy: agent.config.policy,
          approvals,
          scrub: (text: string) => scrubber.scrub(text),
          ...(untrustedInput ? { untrustedInput } : {}),
        },
        text,
      ),
    );
    const result = await ticket.result;
    return { session, turn: result.turn, reply: result.reply, toolCalls: result.toolCalls };
  }

  methods(): Record<string, MethodHandler> {
    return {
      "chat.send": async (ctx, params) => {
        const p = (params ?? {}) as { text?: unknown; agent?: unknown; session?: unknown };
        if (typeof p.text !== "string" || p.text.length === 0 || p.text.length > 65_536) throw new SkillgateError("BAD_REQUEST", "text: 1 to 65536 characters");
        const agent = this.agent(p.agent);
        const session = this.sessionFor(ctx, agent.config.id, p.session);
        return (await this.turn(agent, session, p.text, (event, payload) => ctx.emit(event, payload))) satisfies Json;
      },
      "chat.history": async (ctx, params) => {
        const p = (params ?? {}) as { session?: unknown; agent?: unknown };
        const agentId = typeof p.agent === "string" ? p.agent : (this.agents.keys().next().value as string);
        const messages = await this.state.messages(this.sessionFor(ctx, agentId, p.session));
        return messages.map((m) => ({ role: m.role, content: m.content })) as Json;
      },
      "sessions.list": async () => (await this.state.sessions()) as unknown as Json,
      "gateway.workers": async () => ({ walls: this.pool.walls as unknown as Json, waiting: this.lanes.waiting, running: this.lanes.activeIn("main") }),
    };
  }

  async close(): Promise<void> {
    this.control.approvals.close();
    await this.pool.close();
    await this.state.close();
  }
}
