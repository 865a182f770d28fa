import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { type LaneName, LaneScheduler } from "../../runtime/sessions/lanes.js";
import { parseSessionKey } from "../../runtime/sessions/session-key.js";

describe("session keys", () => {
  it("parses the four shapes and refuses anything else", () => {
    assert.deepEqual(parseSessionKey("agent:ops:main"), { key: "agent:ops:main", kind: "main", agentId: "ops" });
    assert.equal(parseSessionKey("agent:ops:group:team-1").kind, "group");
    assert.equal(parseSessionKey("agent:ops:subagent:123e4567-e89b-42d3-a456-426614174000").kind, "subagent");
    assert.equal(parseSessionKey("hook:123e4567-e89b-42d3-a456-426614174000").kind, "hook");
    for (const bad of ["agent:ops", "agent:OPS:main", "agent:ops:main:extra", "hook:nope", "../agent:ops:main", "agent:ops:subagent:x", ""]) {
      assert.throws(() => parseSessionKey(bad), bad);
    }
  });
});

describe("lane scheduler", () => {
  it("runs one turn at a time per session, in arrival order", async () => {
    const lanes = new LaneScheduler();
    const log: string[] = [];
    const turn = (name: string, ms: number) => async () => {
      log.push(`start ${name}`);
      await sleep(ms);
      log.push(`end ${name}`);
    };
    const a = lanes.submit("agent:a:main", "main", turn("a1", 30));
    const b = lanes.submit("agent:a:main", "main", turn("a2", 1));
    await Promise.all([a.result, b.result]);
    assert.deepEqual(log, ["start a1", "end a1", "start a2", "end a2"]);
  });

  it("holds the global cap under 50 concurrent sessions", async () => {
    const lanes = new LaneScheduler({ main: 4, cron: 1, subagent: 8, queueCap: 1000 });
    let now = 0;
    let peak = 0;
    const tickets = Array.from({ length: 50 }, (_, i) =>
      lanes.submit(`agent:s${i}:main`, "main", async () => {
        now++;
        peak = Math.max(peak, now);
        await sleep(5);
        now--;
      }),
    );
    await Promise.all(tickets.map((t) => t.result));
    assert.equal(peak, 4);
    assert.equal(lanes.activeIn("main"), 0);
  });

  it("answers BUSY past the queue cap, and cancels queued and running turns", async () => {
    const lanes = new LaneScheduler({ main: 1, cron: 1, subagent: 1, queueCap: 2 });
    const first = lanes.submit("agent:a:main", "main", (signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))));
    const queued = lanes.submit("agent:b:main", "main", async () => "ran");
    lanes.submit("agent:c:main", "main", async () => "ran").result.catch(() => undefined);
    assert.throws(() => lanes.submit("agent:d:main", "main", async () => "x"), (e: unknown) => (e as { code?: string }).code === "BUSY");
    queued.cancel();
    await assert.rejects(queued.result, (e: unknown) => (e as { code?: string }).code === "CANCELLED");
    assert.equal(queued.state(), "cancelled");
    assert.equal(first.state(), "running");
    first.cancel();
    await assert.rejects(first.result, (e: unknown) => (e as { code?: string }).code === "CANCELLED");
    assert.equal(first.state(), "cancelled");
  });

  it("keeps its invariants for any mix of sessions, lanes and durations", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ session: fc.integer({ min: 0, max: 5 }), lane: fc.constantFrom<LaneName>("main", "cron", "subagent"), ms: fc.integer({ min: 0, max: 3 }) }, { noNullPrototype: true }), { minLength: 1, maxLength: 40 }),
        async (runs) => {
          const caps = { main: 2, cron: 1, subagent: 3, queueCap: 1000 };
          const lanes = new LaneScheduler(caps);
          const active = new Map<LaneName, number>();
          const busy = new Set<number>();
          const order = new Map<number, number[]>();
          const tickets = runs.map((r, i) =>
            lanes.submit(`agent:s${r.session}:main`, r.lane, async () => {
              assert.ok(!busy.has(r.session), "a session ran two turns at once");
              busy.add(r.session);
              active.set(r.lane, (active.get(r.lane) ?? 0) + 1);
              assert.ok((active.get(r.lane) ?? 0) <= caps[r.lane], `lane ${r.lane} over its cap`);
              order.set(r.session, [...(order.get(r.session) ?? []), i]);
              await sleep(r.ms);
              active.set(r.lane, (active.get(r.lane) ?? 0) - 1);
              busy.delete(r.session);
            }),
          );
          await Promise.all(tickets.map((t) => t.result));
          for (const seen of order.values()) assert.deepEqual(seen, [...seen].sort((a, b) => a - b), "a session's turns ran out of order");
        },
      ),
      { numRuns: 40 },
    );
  });
});
