import type { StoredMessage } from "../state/state-db.js";

export interface ToolSpec {
  /** Namespaced: `@scope/skill.tool`, so one skill cannot shadow another's tool. */
  name: string;
  description: string;
  input: Record<string, unknown>;
}

export interface ModelTurn {
  text: string;
  toolCalls: { id: string; name: string; arguments: string }[];
}

export interface ModelRequest {
  system: string;
  messages: StoredMessage[];
  tools: ToolSpec[];
}

/** Anything that can take the conversation so far and answer with text and/or tool calls. */
export interface ModelClient {
  readonly name: string;
  complete(request: ModelRequest): Promise<ModelTurn>;
}
