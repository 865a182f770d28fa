import type { StoredMessage } from "../state/state-db.js";
import type { ModelClient, ModelRequest, ModelTurn } from "./model.js";
import type { Script, Step } from "./script.js";

/** The script `npm start` uses when no model endpoint is configured. */
export const DEMO_SCRIPT: Script = {
  rules: [
    { match: "^delegate[: ]+(.+)$", steps: [{ call: [{ tool: "spawn_subagent", args: { task: "{{1}}", skills: ["@demo/notes"] } }] }] },
    { match: "^(?:note|remember)[: ]+(.+)$", steps: [{ call: [{ tool: "@demo/notes.write_note", args: { title: "note {{date}}", text: "{{1}}" } }] }] },
    { match: "\\blist (?:my )?notes\\b", steps: [{ call: [{ tool: "@demo/notes.list_notes", args: {} }] }] },
    { match: "\\bweather\\b", steps: [{ call: [{ tool: "@demo/weather.forecast", args: { latitude: 38.72, longitude: -9.14, days: 1 } }] }] },
  ],
  fallback: 'I am the scripted demo model. Try "note: buy milk", "list notes" or "weather". You said: {{message}}',
};

/**
 * A deterministic model that follows a script (see script.ts): used by tests, by the
 * security suite as the hostile model, and by `npm start` when no endpoint is configured.
 * It sees only what a real model would see — the messages and the offered tools.
 */
export class ScriptedModel implements ModelClient {
  readonly name = "scripted";
  private counter = 0;

  constructor(private readonly script: Script = DEMO_SCRIPT) {}

  async complete(request: ModelRequest): Promise<ModelTurn> {
    const messages = request.messages;
    const userAt = messages.findLastIndex((m) => m.role === "user");
    const message = userAt >= 0 ? messages[userAt]!.content : "";
    const since = messages.slice(userAt + 1);
    const stepIndex = since.filter((m) => m.role === "assistant").length;
    const lastAssistant = messages.findLastIndex((m) => m.role === "assistant");
    const results = lastAssistant > userAt ? messages.slice(lastAssistant + 1).filter((m) => m.role === "tool") : [];
    for (const rule of this.script.rules) {
      const match = new RegExp(rule.match, "i").exec(message.trim());
      if (!match) continue;
      const vars: Vars = { match, message, results };
      const step = rule.steps[stepIndex];
      return step ? this.take(step, vars) : { text: expand(results.length ? "Done. {{result}}" : "", vars), toolCalls: [] };
    }
    return { text: expand(this.script.fallback, { match: null, message, results }), toolCalls: [] };
  }

  private take(step: Step, vars: Vars): ModelTurn {
    if ("if" in step) {
      const joined = vars.results.map((r) => r.content).join("\n");
      const chosen = new RegExp(step.if.result, "i").test(joined) ? step.then : step.else;
      return chosen ? this.take(chosen, vars) : { text: expand("Done. {{result}}", vars), toolCalls: [] };
    }
    if ("say" in step) return { text: expand(step.say, vars), toolCalls: [] };
    return {
      text: "",
      toolCalls: step.call.map((c) => ({ id: `call_${++this.counter}`, name: c.tool, arguments: JSON.stringify(expandDeep(c.args ?? {}, vars)) })),
    };
  }
}

interface Vars {
  match: RegExpExecArray | null;
  message: string;
  results: StoredMessage[];
}

function lookup(name: string, vars: Vars): string {
  if (/^\d+$/.test(name)) return vars.match?.[Number(name)] ?? "";
  if (name === "message") return vars.message;
  if (name === "date") return new Date().toISOString().slice(0, 10);
  if (name === "result") return vars.results.map((r) => r.content).join(" ");
  if (name.startsWith("result.")) {
    let value: unknown;
    try {
      value = JSON.parse(vars.results.at(-1)?.content ?? "null");
    } catch {
      return "";
    }
    for (const key of name.slice("result.".length).split(".")) {
      value = value !== null && typeof value === "object" && Object.hasOwn(value, key) ? (value as Record<string, unknown>)[key] : undefined;
    }
    return value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  }
  return "";
}

function expand(template: string, vars: Vars): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, name: string) => lookup(name, vars));
}

function expandDeep(value: unknown, vars: Vars): unknown {
  if (typeof value === "string") return expand(value, vars);
  if (Array.isArray(value)) return value.map((v) => expandDeep(v, vars));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandDeep(v, vars)]));
  return value;
}
