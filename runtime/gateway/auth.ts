import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Role } from "./frames.js";

/** A fresh operator token: 32 random bytes, base64url, prefixed so it is recognisable in a leak scan. */
export function newToken(): string {
  return `sgt_${randomBytes(32).toString("base64url")}`;
}

/** Compares by hash in constant time, so neither length nor content leaks through timing. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

/** What each role may call: a prefix of the method name, or an exact method. */
const SCOPES: Record<Role, readonly string[]> = {
  client: ["ping", "chat."],
  operator: ["ping", "chat.", "sessions.", "approvals.", "approval.", "audit.", "gateway."],
  admin: ["ping", "chat.", "sessions.", "approvals.", "approval.", "audit.", "gateway.", "skills.", "secrets.", "config.", "policy."],
};

export function roleMayCall(role: Role, method: string): boolean {
  return SCOPES[role].some((scope) => (scope.endsWith(".") ? method.startsWith(scope) : method === scope));
}
