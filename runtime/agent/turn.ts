import { randomUUID } from "node:crypto";
import type { AuditLog } from "../../audit/index.js";
import type { SandboxPool } from "../../sandbox/index.js";
import { summarizeError } from "../errors.js";
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
  await state.appendMessage(session, { role: "user", content: text }, now());
  ctx.events.emit("turn.started", { turn, session });
  let toolCalls = 0;
  try {
    for (let step = 0; step < ctx.maxSteps; step++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const history = contextWindow(await state.messages(session, ctx.contextMessages), ctx.contextTokens);
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
  decision: "allow" | "deny";
  reason: string;
  /** Who performs the call (the audit actor of its result), and how. */
  actor: string;
  perform: () => Promise<unknown>;
}

/** What the model asked for, decided: a built-in, or an enabled skill's declared tool. */
function plan(ctx: TurnContext, call: ToolCall): Plan {
  let args: unknown;
  try {
    args = JSON.parse(call.arguments);
  } catch {
    args = undefined;
  }
  const deny = (reason: string): Plan => ({ decision: "deny", reason, actor: "gateway", perform: async () => undefined });
  if (args === undefined) return deny("arguments are not JSON");
  if (call.name === SPAWN_SUBAGENT && ctx.spawnSubagent) {
    const spawn = ctx.spawnSubagent;
    const a = args as { task?: unknown; skills?: unknown };
    const skills = Array.isArray(a.skills) ? a.skills.filter((x): x is string => typeof x === "string") : undefined;
    if (typeof a.task !== "string" || a.task.length === 0 || a.task.length > 8192) return deny("task must be 1 to 8192 characters");
    const outside = (skills ?? []).filter((name) => !ctx.tools.skillNames().includes(name));
    if (outside.length) return deny(`not the parent's skills: ${outside.join(", ")}`);
    const task = a.task;
    return { decision: "allow", reason: "built-in; skills are a subset of the parent's", actor: "gateway", perform: () => spawn(task, skills) };
  }
  const resolved = ctx.tools.resolve(call.name);
  // Until the policy engine lands: allow what an enabled skill's manifest declares, deny the rest.
  if (!resolved) return deny("no such tool among this agent's enabled skills");
  return {
    decision: "allow",
    reason: "declared by the skill's manifest",
    actor: `skill:${resolved.skill.name}`,
    perform: async () => (await ctx.pool.invoke({ session: ctx.session, skill: resolved.skill, tool: resolved.tool, input: args })).output,
  };
}

/** Audits the intent, performs the call if allowed, records and audits the outcome. */
async function runToolCall(ctx: TurnContext, turn: string, idx: number, call: ToolCall): Promise<string> {
  const { session, audit, state } = ctx;
  const p = plan(ctx, call);
  await audit.append({
    session,
    actor: `model:${ctx.model.name}`,
    kind: "decided",
    type: "tool.call",
    data: { turn, idx, tool: call.name },
    blobs: [{ content: call.arguments, type: "application/json" }],
  });
  await audit.append({ session, actor: "policy", kind: "decided", type: "policy.decision", data: { turn, idx, tool: call.name, decision: p.decision, reason: p.reason } });
  ctx.events.emit("tool.call", { turn, idx, tool: call.name, decision: p.decision });
  if (p.decision === "deny") {
    await state.recordToolCall(turn, idx, call.name, call.arguments, "denied", p.reason);
    return JSON.stringify({ error: { code: "DENIED", message: p.reason } });
  }
  await state.recordToolCall(turn, idx, call.name, call.arguments, "running");
  let content: string;
  let ok = true;
  try {
    content = JSON.stringify((await p.perform()) ?? null);
  } catch (err) {
    content = JSON.stringify({ error: summarizeError(err) });
    ok = false;
  }
  await state.recordToolCall(turn, idx, call.name, call.arguments, ok ? "done" : "failed", content);
  await audit.append({ session, actor: p.actor, kind: "saw", type: "tool.result", data: { turn, idx, tool: call.name, ok }, blobs: [{ content, type: "application/json" }] });
  ctx.events.emit("tool.result", { turn, idx, tool: call.name, ok });
  return content;
}
