import OpenAI from "openai";
import type { ChatCompletionMessageParam, ChatCompletionTool } from "openai/resources/chat/completions";
import { SkillgateError } from "../errors.js";
import type { StoredMessage } from "../state/state-db.js";
import type { ModelClient, ModelRequest, ModelTurn } from "./model.js";

export interface OpenAIModelOptions {
  model: string;
  baseURL?: string;
  apiKey: string;
  timeoutMs?: number;
}

/**
 * Function names must match ^[a-zA-Z0-9_-]{1,64}$, so `@acme/weather.forecast` travels
 * as `acme__weather--forecast`; replies are mapped back through the same table, and a
 * name the model invents maps to nothing (and is denied as an unknown tool).
 */
export function wireToolName(name: string): string {
  return name.replace(/^@/, "").replace("/", "__").replace(".", "--").slice(0, 64);
}

/** The model must see whole exchanges: a window may not start with tool results or half a call. */
function fromFirstUserMessage(messages: StoredMessage[]): StoredMessage[] {
  const first = messages.findIndex((m) => m.role === "user");
  return first < 0 ? [] : messages.slice(first);
}

function toWire(m: StoredMessage, wire: (name: string) => string): ChatCompletionMessageParam {
  if (m.role === "tool") return { role: "tool", tool_call_id: m.toolCallId ?? "", content: m.content };
  if (m.role === "assistant") {
    return m.toolCalls?.length
      ? {
          role: "assistant",
          content: m.content || null,
          tool_calls: m.toolCalls.map((c) => ({ id: c.id, type: "function" as const, function: { name: wire(c.name), arguments: c.arguments } })),
        }
      : { role: "assistant", content: m.content };
  }
  return { role: "user", content: m.content };
}

/** Any OpenAI-compatible chat-completions endpoint. */
export class OpenAIModel implements ModelClient {
  readonly name: string;
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAIModelOptions) {
    this.name = `openai:${options.model}`;
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, timeout: options.timeoutMs ?? 60_000, maxRetries: 1 });
  }

  async complete(request: ModelRequest): Promise<ModelTurn> {
    const byWire = new Map(request.tools.map((t) => [wireToolName(t.name), t.name]));
    const tools: ChatCompletionTool[] = request.tools.map((t) => ({
      type: "function",
      function: { name: wireToolName(t.name), description: t.description, parameters: t.input },
    }));
    let completion;
    try {
      completion = await this.client.chat.completions.create({
        model: this.options.model,
        messages: [{ role: "system", content: request.system }, ...fromFirstUserMessage(request.messages).map((m) => toWire(m, wireToolName))],
        ...(tools.length ? { tools } : {}),
      });
    } catch (err) {
      // The SDK's message can echo request details; keep the status and a short reason only.
      const status = (err as { status?: number }).status;
      throw new SkillgateError("MODEL_FAILED", `model endpoint failed${status ? ` (HTTP ${status})` : ""}: ${(err as Error).name}`);
    }
    const message = completion.choices[0]?.message;
    const calls = (message?.tool_calls ?? []).flatMap((c) =>
      c.type === "function" ? [{ id: c.id, name: byWire.get(c.function.name) ?? c.function.name, arguments: c.function.arguments }] : [],
    );
    return { text: message?.content ?? "", toolCalls: calls };
  }
}
