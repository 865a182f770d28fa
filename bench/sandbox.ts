import { fork, spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import { createContext, Script } from "node:vm";
import { SandboxPool } from "../sandbox/index.js";
import { ECHO_SKILL as skill } from "./echo-skill.js";
import { type Area, figure } from "./figure.js";
import { repeat, timeEach } from "./measure.js";

/** The floor under any cross-process call: IPC round trips between two idle Node processes, in µs. */
export async function ipcRoundTrips(n: number): Promise<number[]> {
  const child = fork(new URL("./ipc-echo.js", import.meta.url), [], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  await new Promise((resolve) => child.once("message", resolve));
  const once = () =>
    new Promise<void>((resolve) => {
      child.once("message", () => resolve());
      child.send({ type: "ping" });
    });
  try {
    await timeEach(200, once);
    return await timeEach(n, once);
  } finally {
    child.kill();
  }
}

function spawnPerCall(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["-e", "process.stdout.write(JSON.stringify({n: 1, calls: 1}))"], { stdio: ["ignore", "pipe", "inherit"] });
    child.stdout.resume();
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}

interface SandboxSamples {
  warm: number[];
  cold: number[];
  capability: number[];
  vm: number[];
  spawn: number[];
  ipc: number[];
}

interface SandboxRun {
  samples: SandboxSamples;
  walls: Record<string, unknown>;
}

async function oneRun(n: number, quick: boolean): Promise<SandboxRun> {
  // Each capability call's round trip is the gap between two consecutive requests reaching the
  // gateway side of a guest loop: reply out, guest resumes, next request in.
  const arrivals: number[] = [];
  const pool = await SandboxPool.start({
    size: 1,
    capabilityHandler: async () => {
      arrivals.push(performance.now());
      return null;
    },
    maxLimits: { maxCalls: 100_000 },
    maxCallsPerInvocation: 100_000,
  });
  try {
    await timeEach(200, (i) => pool.invoke({ session: "warm", skill, tool: "echo", input: { n: i } }));
    const warm = await timeEach(n, (i) => pool.invoke({ session: "warm", skill, tool: "echo", input: { n: i } }));
    const cold = await timeEach(Math.max(10, n / 20), (i) => pool.invoke({ session: `cold-${i}`, skill, tool: "echo", input: { n: i }, fresh: true }));
    await pool.invoke({ session: "warm", skill, tool: "kv_many", input: { times: n + 1 } });
    const capability = arrivals.slice(1).map((t, i) => (t - (arrivals[i] as number)) * 1000);

    const fn = new Script("(async (input) => ({ n: input.n, calls: 1 }))").runInContext(createContext({})) as (input: { n: number }) => Promise<unknown>;
    await timeEach(200, (i) => fn({ n: i }));
    const vm = await timeEach(n, (i) => fn({ n: i }));
    const spawned = await timeEach(quick ? 3 : 10, () => spawnPerCall());
    const ipc = await ipcRoundTrips(n);
    return { samples: { warm, cold, capability, vm, spawn: spawned, ipc }, walls: { ...pool.walls } };
  } finally {
    await pool.close();
  }
}

export async function benchSandbox(options: { quick: boolean }): Promise<Area> {
  const runs = await repeat(options.quick ? 2 : 5, () => oneRun(options.quick ? 50 : 1000, options.quick));
  const all = (key: keyof SandboxSamples) => runs.map((r) => r.samples[key]);
  const walls = runs[0]?.walls ?? {};
  return {
    title: "Sandbox",
    command: `npm run bench -- --only sandbox${options.quick ? " --quick" : ""}`,
    figures: [
      figure({ what: "warm invoke (isolate kept for the session)", unit: "µs", better: "lower", ours: all("warm"), baseline: all("vm"), baselineName: "`node:vm` in-process, the unsafe floor", target: { value: 150 } }),
      figure({ what: "warm invoke, against the IPC floor", unit: "µs", better: "lower", ours: all("warm"), baseline: all("ipc"), baselineName: "one bare IPC round trip between two Node processes" }),
      figure({ what: "warm invoke, against spawn per call", unit: "µs", better: "lower", ours: all("warm"), baseline: all("spawn"), baselineName: "`child_process` spawn per call (container-style)", target: { ratio: 100 } }),
      figure({ what: "cold invoke: new isolate, compile, link, call", unit: "µs", better: "lower", ours: all("cold"), baseline: all("spawn"), baselineName: "`child_process` spawn per call", target: { value: 5000 } }),
      figure({ what: "capability round trip guest → gateway → guest", unit: "µs", better: "lower", ours: all("capability"), baseline: all("ipc"), baselineName: "one bare IPC round trip", target: { value: 200 } }),
    ],
    notes: [`Walls active in this run: ${Object.entries(walls).map(([k, v]) => `${k} ${v}`).join(", ")}.`],
  };
}
