/**
 * The one shape of context every policy request has, whatever the action, so a policy
 * never errors on a missing field. (An error denies; see engine.ts.)
 */
export interface PolicyContext {
  [key: string]: string | number | boolean;
  session: string;
  skill: string;
  tool: string;
  effect: string;
  tainted: boolean;
  approved: boolean;
  readOnly: boolean;
  usesCredentials: boolean;
  toolCalls: number;
  maxToolCalls: number;
  egressBytes: number;
  maxEgressBytes: number;
  host: string;
  method: string;
  path: string;
  credential: string;
}

/** What a fresh session with the default agent policy looks like; `policy test` fills gaps from it. */
export const FRESH_CONTEXT: Readonly<PolicyContext> = {
  session: "agent:demo:main",
  skill: "",
  tool: "",
  effect: "read",
  tainted: false,
  approved: false,
  readOnly: false,
  usesCredentials: false,
  toolCalls: 0,
  maxToolCalls: 1000,
  egressBytes: 0,
  maxEgressBytes: 64 * 1024 * 1024,
  host: "",
  method: "",
  path: "",
  credential: "",
};
