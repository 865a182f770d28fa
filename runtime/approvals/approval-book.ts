import { createHash, randomUUID } from "node:crypto";
import type { AuditLog } from "../../audit/index.js";
import { canonicalJson } from "../../audit/index.js";
import { SkillgateError } from "../errors.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export type ApprovalAnswer = "allow-once" | "deny";

export interface ApprovalLimits {
  timeoutMs: number;
  /** Prompts waiting at once per session; more are denied without asking. */
  maxPendingPerSession: number;
  /** Prompts per session per minute; more are denied without asking. */
  maxPerMinutePerSession: number;
}

export const DEFAULT_APPROVAL_LIMITS: ApprovalLimits = { timeoutMs: 5 * 60_000, maxPendingPerSession: 3, maxPerMinutePerSession: 10 };

/** What is to be approved, exactly: the hash binds the answer to these arguments and no others. */
export interface ApprovalSubject {
  session: string;
  skill: string;
  digest: string;
  tool: string;
  args: Json;
  reason: string;
}

export interface PendingApproval extends ApprovalSubject {
  id: string;
  hash: string;
  requestedAt: string;
  expiresAt: string;
}

interface Waiter {
  approval: PendingApproval;
  settle: (answer: ApprovalAnswer) => void;
  timer: NodeJS.Timeout;
}

/** sha256 over the canonical (RFC 8785) form of session, skill digest, tool and arguments. */
export function approvalHash(s: Pick<ApprovalSubject, "session" | "digest" | "tool" | "args">): string {
  return createHash("sha256").update(canonicalJson({ session: s.session, digest: s.digest, tool: s.tool, args: s.args })).digest("hex");
}

/**
 * Human approvals. A request waits for an operator's answer or its expiry, which denies.
 * An answer is bound to the hash of (session, skill digest, tool, canonical arguments) and
 * is used once: it releases that one waiting call and nothing else. Per-session caps keep
 * a hostile model from flooding the operator; the overflow is denied. Every request,
 * answer, expiry and overflow is audited as `decided`.
 */
export class ApprovalBook {
  private readonly waiting = new Map<string, Waiter>();
  private readonly recent = new Map<string, number[]>();
  private readonly reserved = new Map<string, number>();

  constructor(
    private readonly audit: AuditLog,
    private readonly limits: ApprovalLimits = DEFAULT_APPROVAL_LIMITS,
    /** Delivers `approval.requested` to operators; returns how many received it. */
    private notify: (approval: PendingApproval) => number = () => 0,
  ) {}

  setNotifier(notify: (approval: PendingApproval) => number): void {
    this.notify = notify;
  }

  list(): PendingApproval[] {
    return [...this.waiting.values()].map((w) => w.approval);
  }

  /** Asks and waits; resolves to the answer that applies to exactly this subject. */
  async request(subject: ApprovalSubject, now = Date.now()): Promise<{ answer: ApprovalAnswer; id: string; hash: string }> {
    const hash = approvalHash(subject);
    const id = randomUUID();
    const base = { session: subject.session, actor: "approvals", kind: "decided" as const };
    // Counted and reserved before any await, so requests arriving together cannot all slip under the cap.
    const pending = (this.reserved.get(subject.session) ?? 0) + [...this.waiting.values()].filter((w) => w.approval.session === subject.session).length;
    const lastMinute = (this.recent.get(subject.session) ?? []).filter((t) => now - t < 60_000);
    if (pending >= this.limits.maxPendingPerSession || lastMinute.length >= this.limits.maxPerMinutePerSession) {
      await this.audit.append({ ...base, type: "approval.overflow", data: { id, tool: subject.tool, hash, pending, lastMinute: lastMinute.length } });
      return { answer: "deny", id, hash };
    }
    lastMinute.push(now);
    this.recent.set(subject.session, lastMinute);
    this.reserve(subject.session, 1);
    return { answer: await this.ask(subject, id, hash, now), id, hash };
  }

  /** Requests counted against the cap while their audit entry is being written, before they are waiting. */
  private reserve(session: string, delta: number): void {
    const n = (this.reserved.get(session) ?? 0) + delta;
    if (n > 0) this.reserved.set(session, n);
    else this.reserved.delete(session);
  }

  private async ask(subject: ApprovalSubject, id: string, hash: string, now: number): Promise<ApprovalAnswer> {
    const base = { session: subject.session, actor: "approvals", kind: "decided" as const };
    const approval: PendingApproval = {
      ...subject,
      id,
      hash,
      requestedAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.limits.timeoutMs).toISOString(),
    };
    // The arguments go to the audit log as a blob: they are what the operator is shown.
    await this.audit
      .append({
        ...base,
        type: "approval.requested",
        data: { id, skill: subject.skill, digest: subject.digest, tool: subject.tool, hash, reason: subject.reason, expiresAt: approval.expiresAt },
        blobs: [{ content: canonicalJson(subject.args), type: "application/json" }],
      })
      .catch((err: unknown) => {
        this.reserve(subject.session, -1);
        throw err;
      });
    return new Promise<ApprovalAnswer>((settle) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        void this.audit
          .append({ ...base, type: "approval.expired", data: { id, tool: subject.tool, hash } })
          .catch(() => undefined)
          .finally(() => settle("deny"));
      }, this.limits.timeoutMs);
      this.waiting.set(id, { approval, settle, timer });
      this.reserve(subject.session, -1);
      const delivered = this.notify(approval);
      if (delivered === 0) void this.audit.append({ ...base, type: "approval.unseen", data: { id, note: "no operator connection is open; it will expire unless answered" } }).catch(() => undefined);
    });
  }

  /**
   * An operator's answer. Only the gateway's operator-role methods and the operator CLI
   * reach this; nothing the model writes does. An unknown, used or expired id is refused.
   */
  async resolve(id: string, answer: ApprovalAnswer, by: { role: string; client: string }, expectedHash?: string): Promise<PendingApproval> {
    const waiter = this.waiting.get(id);
    if (!waiter) throw new SkillgateError("APPROVAL_NOT_FOUND", `no pending approval ${id.slice(0, 64)} (unknown, already answered or expired)`);
    if (by.role !== "operator" && by.role !== "admin") throw new SkillgateError("FORBIDDEN", "only an operator may answer an approval");
    if (expectedHash !== undefined && expectedHash !== waiter.approval.hash) {
      throw new SkillgateError("APPROVAL_MISMATCH", "the approval's arguments are not the ones you were shown");
    }
    this.waiting.delete(id);
    clearTimeout(waiter.timer);
    await this.audit.append({
      session: waiter.approval.session,
      actor: `operator:${by.client.slice(0, 64)}`,
      kind: "decided",
      type: "approval.resolved",
      data: { id, decision: answer, tool: waiter.approval.tool, hash: waiter.approval.hash, role: by.role },
    });
    waiter.settle(answer);
    return waiter.approval;
  }

  /** On shutdown: everything still waiting is denied. */
  close(): void {
    for (const [id, w] of this.waiting) {
      clearTimeout(w.timer);
      this.waiting.delete(id);
      w.settle("deny");
    }
  }
}
