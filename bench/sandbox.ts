import { fork, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { createContext, Script } from "node:vm";
import { type SandboxSkill, SandboxPool } from "../sandbox/index.js";
import { parseManifest } from "../skills-registry/index.js";
import { type Percentiles, percentiles, rssKb } from "./measure.js";
import type { Row } from "./report.js";

const CODE = `
import { kv } from "skillgate";
let calls = 0;
export async function echo(input) { calls += 1; return { n: input.n, calls }; }
export async function kv_once(input) { await kv.get("k"); return { n: input.n }; }
export async function kv_many(input) { for (let i = 0; i < input.times; i++) await kv.get("k"); return { n: input.times }; }
`;

const manifest = parseManifest(
  JSON.stringify({
    name: "@bench/echo",
    version: "1.0.0",
    description: "Benchmark skill.",
    entry: "index.js",
    tools: ["echo", "kv_once", "kv_many"].map((name) => ({ name, description: name, input: { type: "object" }, effect: "read" })),
    capabilities: { kv: {} },
    limits: { memoryMb: 32, cpuMs: 5000, wallMs: 60000 },
  }),
);
const skill: SandboxSkill = { name: manifest.name, digest: "b".repeat(64), code: CODE, manifest };

async function sample(n: number, once: (i: number) => Promise<unknown>): Promise<Percentiles> {
  const us: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await once(i);
    us.push((performance.now() - start) * 1000);
  }
  return percentiles(us);
}

/** The floor under any cross-process call: one IPC round trip between two idle Node processes. */
async function ipcRoundTrip(n: number): Promise<Percentiles> {
  const child = fork(new URL("./ipc-echo.js", import.meta.url), [], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  await new Promise((resolve) => child.once("message", resolve));
  const once = () =>
    new Promise<void>((resolve) => {
      child.once("message", () => resolve());
      child.send({ type: "ping" });
    });
  for (let i = 0; i < 200; i++) await once();
  const result = await sample(n, once);
  child.kill();
  return result;
}

function spawnPerCall(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "process.stdout.write(JSON.stringify({n: 1, calls: 1}))"], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.resume();
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}

const fmt = (p: Percentiles) => `p50 ${p.p50.toFixed(0)} µs, p99 ${p.p99.toFixed(0)} µs, ${p.min.toFixed(0)}–${p.max.toFixed(0)}`;

export async function benchSandbox(options: { quick: boolean }): Promise<{ rows: Row[]; notes: string[] }> {
  const n = options.quick ? 50 : 2000;
  const pool = await SandboxPool.start({ size: 1, capabilityHandler: async () => null, maxLimits: { maxCalls: 100_000 }, maxCallsPerInvocation: 100_000 });
  try {
    await pool.invoke({ session: "warm", skill, tool: "echo", input: { n: 0 } });
    for (let i = 0; i < 200; i++) await pool.invoke({ session: "warm", skill, tool: "echo", input: { n: i } });
    const warm = await sample(n, (i) => pool.invoke({ session: "warm", skill, tool: "echo", input: { n: i } }));
    const cold = await sample(Math.max(20, n / 20), (i) => pool.invoke({ session: `cold-${i}`, skill, tool: "echo", input: { n: i }, fresh: true }));
    const capOnce = await sample(n, (i) => pool.invoke({ session: "warm", skill, tool: "kv_once", input: { n: i } }));
    const times = 1000;
    const manyStart = performance.now();
    await pool.invoke({ session: "warm", skill, tool: "kv_many", input: { times } });
    const perCapUs = ((performance.now() - manyStart) * 1000) / times;

    const context = createContext({});
    const fn = new Script("(async (input) => ({ n: input.n, calls: 1 }))").runInContext(context) as (input: { n: number }) => Promise<unknown>;
    const vmBase = await sample(n, (i) => fn({ n: i }));
    const spawnBase = await sample(options.quick ? 5 : 40, () => spawnPerCall());
    const ipc = await ipcRoundTrip(n);

    const pid = pool.workerPid("rss", skill.digest) as number;
    const before = rssKb(pid);
    for (let i = 0; i < 100; i++) await pool.invoke({ session: `rss-${i}`, skill, tool: "echo", input: { n: i } });
    const after = rssKb(pid);
    const perSecond = (us: number) => 1e6 / us;
    return {
      rows: [
        { what: `warm invoke (${fmt(warm)})`, ours: perSecond(warm.p50), baseline: perSecond(vmBase.p50), unit: "calls/s", baselineName: `node:vm in-process, unsafe floor (${fmt(vmBase)})`, floor: perSecond(150) },
        { what: "warm invoke vs the IPC floor", ours: perSecond(warm.p50), baseline: perSecond(ipc.p50), unit: "calls/s", baselineName: `one bare IPC round trip between two processes (${fmt(ipc)})` },
        { what: `warm invoke vs spawn per call`, ours: perSecond(warm.p50), baseline: perSecond(spawnBase.p50), unit: "calls/s", baselineName: `child_process spawn per call (${fmt(spawnBase)})`, target: 100 },
        { what: `cold invoke: new isolate + module (${fmt(cold)})`, ours: perSecond(cold.p50), baseline: perSecond(spawnBase.p50), unit: "calls/s", baselineName: "spawn per call", floor: perSecond(5000) },
        { what: `capability round trip guest→gateway→guest (${perCapUs.toFixed(0)} µs each in a loop of ${times}; one-call invoke ${fmt(capOnce)})`, ours: perSecond(perCapUs), baseline: perSecond(warm.p50), unit: "calls/s", baselineName: "a warm invoke", floor: perSecond(200) },
      ],
      notes: [`Worker RSS: ${(before / 1024).toFixed(1)} MiB → ${(after / 1024).toFixed(1)} MiB after 100 more warm isolates (${((after - before) / 1024 / 100).toFixed(2)} MiB each).`, `Walls: ${JSON.stringify(pool.walls)}`],
    };
  } finally {
    await pool.close();
  }
}
