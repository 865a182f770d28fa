import { z } from "zod";

const Part = "[a-z0-9][a-z0-9_-]{0,63}";
const Uuid = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

/**
 * Hierarchical session keys. They route messages; they never authorize anything.
 *   agent:<agentId>:main · agent:<agentId>:group:<groupId> · agent:<agentId>:subagent:<uuid> · hook:<uuid>
 */
export const SessionKey = z
  .string()
  .max(256)
  .regex(new RegExp(`^(agent:${Part}:(main|group:${Part}|subagent:${Uuid})|hook:${Uuid})$`), "must be agent:<id>:main, agent:<id>:group:<id>, agent:<id>:subagent:<uuid> or hook:<uuid>");

export type SessionKind = "main" | "group" | "subagent" | "hook";

export interface ParsedSessionKey {
  key: string;
  kind: SessionKind;
  agentId?: string;
}

export function parseSessionKey(key: string): ParsedSessionKey {
  const valid = SessionKey.parse(key);
  const parts = valid.split(":");
  if (parts[0] === "hook") return { key: valid, kind: "hook" };
  const kind = parts[2] === "main" ? "main" : parts[2] === "group" ? "group" : "subagent";
  return { key: valid, kind, agentId: parts[1] };
}
