import type { StoredMessage } from "../state/state-db.js";
import type { ModelClient, ModelRequest, ModelTurn } from "./model.js";

/**
 * The demo model used when no model endpoint is configured: a few fixed rules, so that
 * `npm start` shows real tool calls through the sandbox without any network.
 */
export class ScriptedModel implements ModelClient {
  readonly name = "scripted";
  private counter = 0;

  async complete(request: ModelRequest): Promise<ModelTurn> {
    const last = request.messages.at(-1) as StoredMessage | undefined;
    const has = (tool: string) => request.tools.some((t) => t.name === tool);
    if (last?.role === "tool") {
      const results = request.messages.slice(request.messages.findLastIndex((m) => m.role !== "tool") + 1);
      return { text: `Done. ${results.map((r) => r.content).join(" ")}`, toolCalls: [] };
    }
    const text = last?.role === "user" ? last.content : "";
    const call = (name: string, args: unknown): ModelTurn => ({
      text: "",
      toolCalls: [{ id: `call_${++this.counter}`, name, arguments: JSON.stringify(args) }],
    });
    const delegate = /^delegate[: ]+(.+)$/i.exec(text.trim());
    if (delegate && request.tools.some((t) => t.name === "spawn_subagent")) return call("spawn_subagent", { task: delegate[1], skills: ["@demo/notes"] });
    const note = /^(?:note|remember)[: ]+(.+)$/i.exec(text.trim());
    if (note && has("@demo/notes.write_note")) return call("@demo/notes.write_note", { title: `note ${new Date().toISOString().slice(0, 10)}`, text: note[1] });
    if (/\blist (?:my )?notes\b/i.test(text) && has("@demo/notes.list_notes")) return call("@demo/notes.list_notes", {});
    if (/\bweather\b/i.test(text) && has("@demo/weather.forecast")) return call("@demo/weather.forecast", { latitude: 38.72, longitude: -9.14, days: 1 });
    return { text: `I am the scripted demo model. Try "note: buy milk", "list notes" or "weather". You said: ${text}`, toolCalls: [] };
  }
}
