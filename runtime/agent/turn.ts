import { randomUUID } from "node:crypto";
import type { AuditLog } from "../../audit/index.js";
import type { SandboxPool } from "../../sandbox/index.js";
import { summarizeError } from "../errors.js";
import { type ApprovalBook, approvalHash } from "../approvals/approval-book.js";
import type { AgentPolicy, Governor } from "../policy/governor.js";
import type { StateDb, StoredMessage } from "../state/state-db.js";
import { contextWindow } from "./context-window.js";
import type { ModelClient } from "./model.js";
import type { ToolRegistry } from "./tool-registry.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface TurnEvents {
  emit(event: string, payload: Json): void;
}

export interface TurnContext {
  session: string;
  agent: string;
  system: string;
  model: ModelClient;
  tools: ToolRegistry;
  pool: SkillInvoker;
  audit: AuditLog;
  state: StateDb;
  maxSteps: number;
  /** Messages, and estimated tokens, of history the model sees; the transcript and audit log keep everything. */
  contextMessages: number;
  contextTokens: number;
  events: TurnEvents;
  signal: AbortSignal;
  /** Policy over tool calls and capabilities, and the session state it reads (taint, budgets). */
  governor: Governor;
  agentPolicy: AgentPolicy;
  approvals: ApprovalBook;
  /** Replaces stored secrets in any encoding: every tool result passes it. */
  scrub: (text: string) => string;
  /** Set when the inbound message is not from the session's owner (e.g. a webhook): it taints the session. */
  untrustedInput?: string;
  clock?: () => Date;
  /** Built-in `spawn_subagent`, when this turn may delegate (sub-agents may not). */
  spawnSubagent?: (task: string, skills: string[] | undefined) => Promise<{ session: string; reply: string }>;
}

/** What runs a skill's tool: the sandbox pool (or, for the gateway benchmark's baseline, the same tools in-process). */
export type SkillInvoker = Pick<SandboxPool, "invoke">;

export const SPAWN_SUBAGENT = "spawn_subagent";

const SPAWN_SPEC = {
  name: SPAWN_SUBAGENT,
  description: "Delegate a self-contained task to a sub-agent that has the same or fewer skills; returns its final answer.",
  input: {
    type: "object",
    properties: { task: { type: "string", minLength: 1, maxLength: 8192 }, skills: { type: "array", items: { type: "string" } } },
    required: ["task"],
    additionalProperties: false,
  },
};

export interface TurnResult {
  turn: string;
  reply: string;
  toolCalls: number;
}

/**
 * One turn of the agent loop: model → tool calls → sandbox → results → model, until the
 * model answers without tool calls or the step limit is reached. The intent is audited
 * before every effect (an audit failure stops the turn), and the turn's state and each
 * tool call's status are persisted, so a restart can tell what completed.
 */
export async function runTurn(ctx: TurnContext, text: string): Promise<TurnResult> {
  const now = () => (ctx.clock?.() ?? new Date()).toISOString();
  const turn = randomUUID();
  const { session, audit, state } = ctx;
  await state.touchSession(session, ctx.agent, now());
  await state.startTurn(turn, session, now());
  await audit.append({ session, actor: "client", kind: "saw", type: "message.inbound", data: { turn }, blobs: [{ content: text, type: "text/plain" }] });
  if (ctx.untrustedInput) await ctx.governor.taint(session, ctx.untrustedInput);
  await state.appendMessage(session, { role: "user", content: text }, now());
  ctx.events.emit("turn.started", { turn, session });
  let toolCalls = 0;
  // Messages this turn has added so far: the model's view always holds the whole current turn.
  let turnMessages = 1;
  try {
    for (let step = 0; step < ctx.maxSteps; step++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const history = contextWindow(await state.messages(session, Math.max(ctx.contextMessages, turnMessages)), ctx.contextTokens);
      const tools = ctx.spawnSubagent ? [...ctx.tools.specs(), SPAWN_SPEC] : ctx.tools.specs();
      const out = await ctx.model.complete({ system: ctx.system, messages: history, tools });
      await audit.append({
        session,
        actor: `model:${ctx.model.name}`,
        kind: "decided",
        type: "model.output",
        data: { turn, step, toolCalls: out.toolCalls.map((c) => c.name) },
        blobs: out.text ? [{ content: out.text, type: "text/plain" }] : [],
      });
      const assistant: StoredMessage = { role: "assistant", content: out.text, ...(out.toolCalls.length ? { toolCalls: out.toolCalls } : {}) };
      await state.appendMessage(session, assistant, now());
      turnMessages += 1;
      if (out.toolCalls.length === 0) {
        await state.finishTurn(turn, "done", now());
        ctx.events.emit("turn.reply", { turn, text: out.text });
        ctx.events.emit("turn.done", { turn, state: "done" });
        return { turn, reply: out.text, toolCalls };
      }
      for (const call of out.toolCalls) {
        const idx = toolCalls++;
        const content = await runToolCall(ctx, turn, idx, call);
        await state.appendMessage(session, { role: "tool", content, toolCallId: call.id }, now());
        turnMessages += 1;
      }
    }
    const reply = `Stopped after ${ctx.maxSteps} steps without a final answer.`;
    await state.finishTurn(turn, "failed", now(), "step limit");
    ctx.events.emit("turn.done", { turn, state: "failed", error: "step limit" });
    return { turn, reply, toolCalls };
  } catch (err) {
    const e = summarizeError(err);
    const cancelled = ctx.signal.aborted;
    await state.finishTurn(turn, cancelled ? "cancelled" : "failed", now(), `${e.code}: ${e.message}`).catch(() => undefined);
    ctx.events.emit("turn.done", { turn, state: cancelled ? "cancelled" : "failed", error: e.code });
    throw err;
  }
}

type ToolCall = { id: string; name: string; arguments: string };

interface Plan {
  decision: "allow" | "deny" | "ask";
  reason: string;
  policies: string[];
  /** Who performs the call (the audit actor of its result), and how. */
  actor: string;
  args: unknown;
  /** For skill tools: what an approval is bound to. */
  skill?: { name: string; digest: string };
  perform: (approved: boolean) => Promise<unknown>;
}

/** What the model asked for, decided: a built-in, or an enabled skill's tool under the policy. */
async function plan(ctx: TurnContext, call: ToolCall): Promise<Plan> {
  let args: unknown;
  try {
    args = JSON.parse(call.arguments);
  } catch {
    args = undefined;
  }
  const deny = (reason: string, policies: string[] = []): Plan => ({ decision: "deny", reason, policies, actor: "gateway", args, perform: async () => undefined });
  if (args === undefined) return deny("arguments are not JSON");
  if (call.name === SPAWN_SUBAGENT && ctx.spawnSubagent) {
    const spawn = ctx.spawnSubagent;
    const a = args as { task?: unknown; skills?: unknown };
    const skills = Array.isArray(a.skills) ? a.skills.filter((x): x is string => typeof x === "string") : undefined;
    if (typeof a.task !== "string" || a.task.length === 0 || a.task.length > 8192) return deny("task must be 1 to 8192 characters");
    const outside = (skills ?? []).filter((name) => !ctx.tools.skillNames().includes(name));
    if (outside.length) return deny(`not the parent's skills: ${outside.join(", ")}`);
    const task = a.task;
    return { decision: "allow", reason: "built-in; skills are a subset of the parent's", policies: [], actor: "gateway", args, perform: () => spawn(task, skills) };
  }
  const resolved = ctx.tools.resolve(call.name);
  if (!resolved) return deny("no such tool among this agent's enabled skills");
  const d = await ctx.governor.toolCall(ctx.session, ctx.agent, ctx.agentPolicy, resolved.skill, resolved.tool, resolved.effect);
  const active = { agent: ctx.agent, policy: ctx.agentPolicy, skill: resolved.skill.name, tool: call.name, effect: resolved.effect };
  return {
    decision: d.decision,
    reason: d.reason,
    policies: d.policies,
    actor: `skill:${resolved.skill.name}`,
    args,
    skill: { name: resolved.skill.name, digest: resolved.skill.digest },
    perform: async (approved) => {
      ctx.governor.begin(ctx.session, { ...active, approved });
      try {
        await ctx.governor.countToolCall(ctx.session);
        return (await ctx.pool.invoke({ session: ctx.session, skill: resolved.skill, tool: resolved.tool, input: args })).output;
      } finally {
        ctx.governor.end(ctx.session);
      }
    },
  };
}

/**
 * Waits for an operator when the policy says `ask`. The answer is bound to the hash of
 * exactly this call; the turn shows `waiting-approval` meanwhile.
 */
async function approve(ctx: TurnContext, turn: string, idx: number, call: ToolCall, p: Plan): Promise<{ ok: boolean; reason: string }> {
  const skill = p.skill;
  if (!skill) return { ok: false, reason: "only skill tools can be approved" };
  const subject = { session: ctx.session, skill: skill.name, digest: skill.digest, tool: call.name, args: p.args as never, reason: p.reason };
  await ctx.state.setTurnState(turn, "waiting-approval");
  ctx.events.emit("approval.waiting", { turn, idx, tool: call.name, reason: p.reason });
  const { answer, id, hash } = await ctx.approvals.request(subject);
  await ctx.state.setTurnState(turn, "running");
  // Defence in depth: the answer must be for this very call.
  if (answer === "allow-once" && hash === approvalHash(subject)) return { ok: true, reason: `approved once by an operator (${id})` };
  return { ok: false, reason: `not approved (${answer}; ${id})` };
}

/** Audits the intent and the decision, asks if needed, performs the call if allowed, records and audits the outcome. */
async function runToolCall(ctx: TurnContext, turn: string, idx: number, call: ToolCall): Promise<string> {
  const { session, audit, state } = ctx;
  await audit.append({
    session,
    actor: `model:${ctx.model.name}`,
    kind: "decided",
    type: "tool.call",
    data: { turn, idx, tool: call.name },
    blobs: [{ content: call.arguments, type: "application/json" }],
  });
  const p = await plan(ctx, call);
  await audit.append({ session, actor: "policy", kind: "decided", type: "policy.decision", data: { turn, idx, tool: call.name, decision: p.decision, reason: p.reason, policies: p.policies } });
  ctx.events.emit("tool.call", { turn, idx, tool: call.name, decision: p.decision });
  let approved = false;
  let denial = p.decision === "deny" ? p.reason : undefined;
  if (p.decision === "ask") {
    const a = await approve(ctx, turn, idx, call, p);
    approved = a.ok;
    if (!a.ok) denial = a.reason;
  }
  if (denial !== undefined) {
    await state.recordToolCall(turn, idx, call.name, call.arguments, "denied", denial);
    return JSON.stringify({ error: { code: "DENIED", message: denial } });
  }
  await state.recordToolCall(turn, idx, call.name, call.arguments, "running");
  let content: string;
  let ok = true;
  try {
    content = JSON.stringify((await p.perform(approved)) ?? null);
  } catch (err) {
    content = JSON.stringify({ error: summarizeError(err) });
    ok = false;
  }
  content = ctx.scrub(content);
  await state.recordToolCall(turn, idx, call.name, call.arguments, ok ? "done" : "failed", content);
  await audit.append({ session, actor: p.actor, kind: "saw", type: "tool.result", data: { turn, idx, tool: call.name, ok }, blobs: [{ content, type: "application/json" }] });
  ctx.events.emit("tool.result", { turn, idx, tool: call.name, ok });
  return content;
}
