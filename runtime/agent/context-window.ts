import type { StoredMessage } from "../state/state-db.js";

/** A rough, model-independent token estimate: about four characters a token. */
export function estimateTokens(message: StoredMessage): number {
  const calls = message.toolCalls?.reduce((n, c) => n + c.name.length + c.arguments.length, 0) ?? 0;
  return Math.ceil((message.content.length + calls) / 4) + 4;
}

/**
 * What the model sees of a session: the newest messages that fit the token budget, oldest
 * first. The current turn (from the latest user message on) is always kept whole, and the
 * window never opens on a tool result whose call was pruned away — providers reject that.
 * Pruning is only of the model's view; the transcript and the audit log keep everything.
 */
export function contextWindow(messages: StoredMessage[], budgetTokens: number): StoredMessage[] {
  const currentTurn = messages.findLastIndex((m) => m.role === "user");
  let start = messages.length;
  let used = 0;
  while (start > 0) {
    const cost = estimateTokens(messages[start - 1]!);
    if (start - 1 < currentTurn && used + cost > budgetTokens) break;
    used += cost;
    start--;
  }
  while (start < messages.length && messages[start]!.role === "tool") start++;
  return messages.slice(start);
}
