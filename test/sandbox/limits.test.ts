// Resource limits in a real sandbox worker: each hostile skill gets its typed error, the
// isolate it ran in is thrown away, and the next call on the same worker process works.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type CapabilityCall, SandboxError, type SandboxEvent, SandboxPool, type SandboxSkill } from "../../sandbox/index.js";
import { type Manifest, parseManifest } from "../../skills-registry/index.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface Limits {
  memoryMb: number;
  cpuMs: number;
  wallMs: number;
  outputBytes: number;
}

const MAX_CALLS = 50;
const SESSION = "agent:limits:main";

/** One bundle, many misbehaviours: the `mode` input picks which. */
const HOSTILE = `
import { kv, log } from "skillgate";

let counter = 0;

export async function run({ mode, n }) {
  switch (mode) {
    case "ok":
      return { ok: true };
    case "count":
      counter += 1;
      return { counter };
    case "spin":
      for (;;) {}
    case "spin-after-host":
      await kv.get("fast");
      for (;;) {}
    case "memory": {
      const hoard = [];
      for (;;) hoard.push(new Array(100000).fill(hoard.length));
    }
    case "recurse": {
      const down = (i) => down(i + 1) + 1;
      return down(0);
    }
    case "never":
      await new Promise(() => {});
      return null;
    case "host-never":
      await kv.get("hang");
      return null;
    case "huge":
      return "x".repeat(2000000);
    case "calls":
      for (let i = 0; i < n; i++) await kv.get("k" + i);
      return { made: n };
    case "log-flood":
      for (let i = 0; i < 10000; i++) log.info("flood " + i);
      return "done";
    default:
      throw new Error("unknown mode " + mode);
  }
}
`;

const INPUT_SCHEMA = {
  type: "object",
  properties: {
    mode: {
      enum: ["ok", "count", "spin", "spin-after-host", "memory", "recurse", "never", "host-never", "huge", "calls", "log-flood"],
    },
    n: { type: "integer", minimum: 0 },
  },
  required: ["mode"],
  additionalProperties: false,
};

function manifestWith(limits: Limits, tools: { name: string; input: Record<string, Json> }[] = [{ name: "run", input: INPUT_SCHEMA }]): Manifest {
  return parseManifest(
    JSON.stringify({
      name: "@test/limits",
      version: "1.0.0",
      description: "Misbehaves on request.",
      entry: "index.js",
      tools: tools.map((t) => ({ name: t.name, description: `tool ${t.name}`, input: t.input, effect: "read" })),
      capabilities: { kv: { maxKeys: 10, maxBytes: 1000 } },
      limits,
    }),
  );
}

/** A distinct skill (so a distinct isolate) per case, with the limits that case needs. */
function skillFor(label: string, limits: Partial<Limits> = {}, code = HOSTILE): SandboxSkill {
  const full: Limits = { memoryMb: 64, cpuMs: 1000, wallMs: 5000, outputBytes: 1024 * 1024, ...limits };
  return { name: "@test/limits", digest: createHash("sha256").update(label).digest("hex"), code, manifest: manifestWith(full) };
}

/** The rejection of a call that must fail, as the typed error it has to be. */
async function failure(pending: Promise<unknown>): Promise<SandboxError> {
  try {
    await pending;
  } catch (err) {
    assert.ok(err instanceof SandboxError, `expected a SandboxError, got ${String(err)}`);
    return err;
  }
  assert.fail("the call was expected to fail");
}

describe("sandbox limits (real worker)", () => {
  let pool: SandboxPool;
  let pid: number | undefined;
  const events: SandboxEvent[] = [];
  const calls: CapabilityCall[] = [];
  /** Host calls the handler holds forever; released at the end so nothing dangles. */
  const parked: (() => void)[] = [];

  before(async () => {
    pool = await SandboxPool.start({
      size: 1,
      maxCallsPerInvocation: MAX_CALLS,
      maxLimits: { wallMs: 1500 },
      onEvent: (event) => events.push(event),
      capabilityHandler: async (call) => {
        calls.push(call);
        const key = call.args && typeof call.args === "object" && !Array.isArray(call.args) ? call.args.key : undefined;
        if (call.capability === "kv" && key === "hang") await new Promise<void>((resolve) => parked.push(resolve));
        return null;
      },
    });
    pid = pool.workerPid(SESSION, "any");
    assert.equal(typeof pid, "number");
  });

  after(async () => {
    for (const release of parked) release();
    await pool.close();
  });

  /** The same skill, same session, runs again on a fresh isolate in the same worker process. */
  async function recovers(skill: SandboxSkill, expectCold = true): Promise<void> {
    const again = await pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "ok" } });
    assert.deepEqual(again.output, { ok: true });
    assert.equal(again.stats.coldStart, expectCold, expectCold ? "the isolate that hit the limit must have been replaced" : "the isolate should have stayed warm");
    assert.equal(pool.workerPid(SESSION, skill.digest), pid, "the worker process must not have been replaced");
    assert.doesNotThrow(() => process.kill(pid as number, 0), "the worker process must still be alive");
  }

  it("a synchronous infinite loop → CPU_LIMIT", async () => {
    const skill = skillFor("spin", { cpuMs: 200 });
    const started = Date.now();
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "spin" } }));
    assert.equal(err.code, "CPU_LIMIT", err.message);
    assert.ok(Date.now() - started < 1400, "the loop must be stopped near its CPU limit, well before the wall limit");
    await recovers(skill);
  });

  it("an infinite loop after an awaited host call (outside isolated-vm's timeout) → CPU_LIMIT from the watchdog", async () => {
    const skill = skillFor("spin-after-host", { cpuMs: 200 });
    const before = calls.length;
    const started = Date.now();
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "spin-after-host" } }));
    assert.equal(calls.length, before + 1, "the host call before the loop went through");
    // The code path is the CPU watchdog; under heavy machine load the wall limit could win the race.
    assert.ok(err.code === "CPU_LIMIT" || err.code === "WALL_LIMIT", `${err.code}: ${err.message}`);
    assert.equal(err.code, "CPU_LIMIT", `the CPU watchdog should stop the continuation: ${err.message}`);
    assert.ok(Date.now() - started < 1400);
    await recovers(skill);
  });

  it("a memory bomb → MEMORY_LIMIT", async () => {
    const skill = skillFor("memory", { memoryMb: 32, cpuMs: 5000 });
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "memory" } }));
    assert.equal(err.code, "MEMORY_LIMIT", err.message);
    await recovers(skill);
  });

  it("deep recursion → SKILL_ERROR (the RangeError is the skill's own), and its isolate stays usable", async () => {
    const skill = skillFor("recurse");
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "recurse" } }));
    assert.equal(err.code, "SKILL_ERROR");
    assert.match(err.message, /call stack/i);
    // Not a limit: the isolate is kept warm.
    await recovers(skill, false);
  });

  it("a promise that never settles → WALL_LIMIT", async () => {
    const skill = skillFor("never", { wallMs: 300 });
    const started = Date.now();
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "never" } }));
    const took = Date.now() - started;
    assert.equal(err.code, "WALL_LIMIT", err.message);
    assert.ok(took >= 250 && took < 1400, `stopped after ${took} ms, expected about 300`);
    await recovers(skill);
  });

  it("a host call that never answers → WALL_LIMIT", async () => {
    const skill = skillFor("host-never", { wallMs: 300 });
    const before = parked.length;
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "host-never" } }));
    assert.equal(err.code, "WALL_LIMIT", err.message);
    assert.equal(parked.length, before + 1, "the call reached the handler and is still held there");
    await recovers(skill);
  });

  it("the operator's wall cap wins over a manifest that asks for more", async () => {
    const skill = skillFor("operator-cap", { wallMs: 300_000 });
    assert.equal(pool.limitsFor(skill).wallMs, 1500);
    const started = Date.now();
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "never" } }));
    const took = Date.now() - started;
    assert.equal(err.code, "WALL_LIMIT");
    assert.ok(took >= 1400 && took < 4000, `stopped after ${took} ms, expected about 1500`);
    await recovers(skill);
  });

  it("huge output → OUTPUT_LIMIT", async () => {
    const skill = skillFor("huge", { outputBytes: 100_000 });
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "huge" } }));
    assert.equal(err.code, "OUTPUT_LIMIT", err.message);
    await recovers(skill);
  });

  it(`exactly ${MAX_CALLS} capability calls are allowed; one more → CALL_LIMIT`, async () => {
    const skill = skillFor("calls-boundary");
    const ok = await pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "calls", n: MAX_CALLS } });
    assert.deepEqual(ok.output, { made: MAX_CALLS });
    assert.equal(ok.stats.calls, MAX_CALLS);
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "calls", n: MAX_CALLS + 1 } }));
    assert.equal(err.code, "CALL_LIMIT", err.message);
    await recovers(skill);
  });

  it("a flood of awaited capability calls → CALL_LIMIT, and the handler never sees more than the cap", async () => {
    const skill = skillFor("kv-flood", { wallMs: 5000 });
    const before = calls.length;
    const started = Date.now();
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "calls", n: 10_000 } }));
    assert.equal(err.code, "CALL_LIMIT", err.message);
    assert.ok(Date.now() - started < 1400, "a flood is stopped at once, not at the wall limit");
    assert.equal(calls.length - before, MAX_CALLS, "calls past the cap must not reach the gateway");
    const stats = (err.details as { stats?: { calls?: number } } | undefined)?.stats;
    assert.ok((stats?.calls ?? 0) > MAX_CALLS, `stats: ${JSON.stringify(stats)}`);
    await recovers(skill);
  });

  it("a fire-and-forget log flood → CALL_LIMIT, not a successful result", async () => {
    const skill = skillFor("log-flood");
    const before = calls.length;
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "log-flood" } }));
    assert.equal(err.code, "CALL_LIMIT", err.message);
    // Give any stragglers time to arrive: none past the cap may reach the handler.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(calls.length - before <= MAX_CALLS, `${calls.length - before} log calls reached the gateway`);
    await recovers(skill);
  });

  it("an infinite loop at module top level → a coded load failure, and the worker survives", async () => {
    const skill = skillFor("top-level-spin", { cpuMs: 200 }, `for (;;) {}\nexport function run() { return { ok: true }; }`);
    const err = await failure(pool.invoke({ session: SESSION, skill, tool: "run", input: { mode: "ok" } }));
    assert.ok(err.code === "SKILL_LOAD_FAILED" || err.code === "CPU_LIMIT", `${err.code}: ${err.message}`);
    // The bundle never loads, so check survival with a sound skill on the same worker.
    await recovers(skillFor("after-top-level-spin"));
  });

  it("no call above crashed the worker", () => {
    assert.deepEqual(
      events.filter((e) => e.type === "crashed"),
      [],
    );
    assert.equal(pool.workerPid(SESSION, "any"), pid);
  });
});

describe("warm isolates and input checks", () => {
  let pool: SandboxPool;
  const handled: CapabilityCall[] = [];

  before(async () => {
    pool = await SandboxPool.start({
      size: 1,
      capabilityHandler: async (call) => {
        handled.push(call);
        return null;
      },
    });
  });

  after(async () => {
    await pool.close();
  });

  const counterSkill = skillFor("warm-counter");
  const count = async (session: string, fresh?: boolean): Promise<[Json, boolean]> => {
    const r = await pool.invoke({ session, skill: counterSkill, tool: "run", input: { mode: "count" }, fresh });
    return [r.output, r.stats.coldStart];
  };

  it("two calls in one session share module state; another session does not see it", async () => {
    assert.deepEqual(await count("agent:a:main"), [{ counter: 1 }, true]);
    assert.deepEqual(await count("agent:a:main"), [{ counter: 2 }, false]);
    assert.deepEqual(await count("agent:b:main"), [{ counter: 1 }, true]);
    assert.deepEqual(await count("agent:a:main"), [{ counter: 3 }, false]);
  });

  it("after a `fresh` call the session's isolate is discarded: the next call starts from clean module state", async () => {
    // The fresh call itself runs on whatever isolate is there (see the report on `fresh`).
    await count("agent:a:main", true);
    assert.deepEqual(await count("agent:a:main"), [{ counter: 1 }, true]);
    assert.deepEqual(await count("agent:a:main"), [{ counter: 2 }, false]);
    // The other session's isolate was not touched.
    assert.deepEqual(await count("agent:b:main"), [{ counter: 2 }, false]);
  });

  it("dispose() drops a session's isolate", async () => {
    pool.dispose("agent:b:main", counterSkill.digest);
    assert.deepEqual(await count("agent:b:main"), [{ counter: 1 }, true]);
  });

  it("input violating the tool's JSON schema → INVALID_INPUT without reaching the worker", async () => {
    const session = "agent:invalid:main";
    for (const input of [{ mode: "nope" }, { mode: "count", extra: 1 }, {}, { mode: "calls", n: -1 }, { mode: "calls", n: 1.5 }, "count", null, [1]]) {
      const err = await failure(pool.invoke({ session, skill: counterSkill, tool: "run", input }));
      assert.equal(err.code, "INVALID_INPUT", `${JSON.stringify(input)}: ${err.message}`);
    }
    // Had any of those reached the worker, the isolate would exist (warm) already.
    assert.deepEqual(await count(session), [{ counter: 1 }, true]);
  });

  it("a tool the manifest does not declare → TOOL_NOT_FOUND, without reaching the worker", async () => {
    const session = "agent:unknown-tool:main";
    const err = await failure(pool.invoke({ session, skill: counterSkill, tool: "count", input: {} }));
    assert.equal(err.code, "TOOL_NOT_FOUND");
    assert.deepEqual(await count(session), [{ counter: 1 }, true]);
  });

  it("a declared tool the bundle does not export → TOOL_NOT_FOUND from the worker", async () => {
    const manifest = manifestWith({ memoryMb: 64, cpuMs: 1000, wallMs: 5000, outputBytes: 1024 * 1024 }, [
      { name: "run", input: INPUT_SCHEMA },
      { name: "missing", input: { type: "object" } },
    ]);
    const skill: SandboxSkill = { ...counterSkill, digest: createHash("sha256").update("missing-export").digest("hex"), manifest };
    const err = await failure(pool.invoke({ session: "agent:missing:main", skill, tool: "missing", input: {} }));
    assert.equal(err.code, "TOOL_NOT_FOUND", err.message);
    assert.match(err.message, /missing/);
  });

  it("a skill that throws → SKILL_ERROR with the skill's message", async () => {
    const skill = skillFor("throws", {}, `export function run() { throw new TypeError("bad thing\\nsecond line"); }`);
    const err = await failure(pool.invoke({ session: "agent:throws:main", skill, tool: "run", input: { mode: "ok" } }));
    assert.equal(err.code, "SKILL_ERROR");
    assert.match(err.message, /bad thing/);
    assert.doesNotMatch(err.message, /second line/, "only the first line crosses the wall");
  });

  it("none of the invalid calls reached the capability handler", () => {
    assert.equal(handled.length, 0);
  });
});
