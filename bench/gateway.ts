import { fork } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { CapabilityHandler } from "../sandbox/index.js";
import { openAuditLog } from "../runtime/audit-log.js";
import { loadConfig, saveConfig } from "../runtime/config/load.js";
import { defaultCapabilityHandler } from "../runtime/effects/capability-handler.js";
import { startGateway } from "../runtime/gateway/running-gateway.js";
import { createLogger } from "../runtime/logger.js";
import { Scrubber } from "../runtime/secrets/scrubber.js";
import { installExampleSkills } from "../runtime/skills/example-registry.js";
import { ensureOperatorToken, ensureState } from "../runtime/state/init.js";
import type { StatePaths } from "../runtime/state/state-dir.js";
import { inProcessNotes } from "./gateway-baseline.js";
import { type Area, figure } from "./figure.js";
import { childPids, repeat, rssKb } from "./measure.js";

/** Each turn: the model calls two sandboxed tools (write a note, list notes), then answers. */
const SCRIPT = `rules:
  - match: '^bench (\\S+)$'
    steps:
      - call: { tool: '@demo/notes.write_note', args: { title: 'b {{1}}', text: 'benchmark note {{1}}' } }
      - call: { tool: '@demo/notes.list_notes' }
      - say: 'ok {{1}}'
`;

interface LoadResult {
  elapsedMs: number;
  latenciesUs: number[];
  errors: string[];
}

interface RunResult {
  turnsPerSecond: number;
  latenciesMs: number[];
  gatewayRssMb: number;
  workersRssMb: number;
}

/** RSS of this process's children except the load generator: the sandbox workers. */
function workersRssKb(exclude: number | undefined): number {
  return childPids(process.pid)
    .filter((pid) => pid !== exclude)
    .reduce((sum, pid) => sum + rssKb(pid), 0);
}

async function setUp(home: string): Promise<StatePaths> {
  const { paths } = await ensureState(home);
  const log = await openAuditLog(paths, await loadConfig(paths.config));
  try {
    await installExampleSkills(paths, log);
  } finally {
    await log.close();
  }
  await writeFile(join(home, "bench.yaml"), SCRIPT);
  const config = await loadConfig(paths.config);
  config.agents = [{ ...config.agents[0]!, id: "bench", model: { provider: "scripted", script: "bench.yaml" }, skills: ["@demo/notes"], maxSteps: 4 }];
  config.lanes = { ...config.lanes, main: 32, queueCap: 1024 };
  config.sandbox = { ...config.sandbox, poolSize: Math.max(2, cpus().length) };
  config.log = { level: "silent" };
  await saveConfig(paths.config, config);
  return paths;
}

async function run(paths: StatePaths, sandboxed: boolean, sessions: number, turns: number): Promise<RunResult> {
  const config = await loadConfig(paths.config);
  const logger = createLogger({ level: "silent" });
  const { token } = await ensureOperatorToken(paths);
  // The baseline's tools perform the same effects through the same handler, on the gateway's audit log (open once it starts).
  const late: { handler?: CapabilityHandler } = {};
  const invoker = sandboxed ? undefined : inProcessNotes((call) => (late.handler as CapabilityHandler)(call));
  const running = await startGateway({ paths, config, logger, scrubber: new Scrubber(), token, host: "127.0.0.1", port: 0, limits: { ratePerSecond: 1000 }, ...(invoker ? { invoker } : {}) });
  late.handler = defaultCapabilityHandler({ workspacesRoot: paths.workspacesDir, audit: running.audit, logger });
  const gateway = running.gateway;
  let load: ReturnType<typeof fork> | undefined;
  try {
    load = fork(new URL("./gateway-load.js", import.meta.url), [`ws://127.0.0.1:${gateway.address.port}/ws`, token, String(sessions), String(turns)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: [],
    });
    const child = load;
    let gatewayPeak = 0;
    let workersPeak = 0;
    const sampler = setInterval(() => {
      gatewayPeak = Math.max(gatewayPeak, process.memoryUsage().rss / 1024);
      workersPeak = Math.max(workersPeak, workersRssKb(child.pid));
    }, 100);
    const result = await new Promise<LoadResult>((resolve, reject) => {
      child.once("message", (m) => resolve(m as LoadResult));
      child.once("exit", (code) => reject(new Error(`load generator exited ${code}`)));
    }).finally(() => clearInterval(sampler));
    if (result.errors.length) throw new Error(`gateway benchmark: ${result.errors.length} turns failed, first: ${result.errors[0]}`);
    return {
      turnsPerSecond: (result.latenciesUs.length / result.elapsedMs) * 1000,
      latenciesMs: result.latenciesUs.map((us) => us / 1000),
      gatewayRssMb: gatewayPeak / 1024,
      workersRssMb: workersPeak / 1024,
    };
  } finally {
    load?.kill();
    await running.close();
  }
}

/**
 * 200 concurrent WebSocket sessions (20 in the quick run), each running scripted turns with
 * two tool calls, against the gateway with the sandbox and against the same gateway with the
 * tools answered in-process. The ratio is the share of turn throughput the sandbox keeps.
 */
export async function benchGateway(options: { quick: boolean }): Promise<Area> {
  const home = await mkdtemp(join(tmpdir(), "sg-bench-gw-"));
  const sessions = options.quick ? 20 : 200;
  const turns = options.quick ? 1 : 5;
  try {
    const paths = await setUp(home);
    const runs = await repeat(options.quick ? 2 : 3, async () => ({ baseline: await run(paths, false, sessions, turns), sandboxed: await run(paths, true, sessions, turns) }));
    const peak = (pick: (r: (typeof runs)[number]) => number) => Math.max(...runs.map(pick)).toFixed(0);
    return {
      title: "Gateway",
      command: `npm run bench -- --only gateway${options.quick ? " --quick" : ""}`,
      figures: [
        figure({
          what: `turns/s, ${sessions} WebSocket sessions × ${turns} turns, 2 sandboxed tool calls per turn`,
          unit: "turns/s",
          better: "higher",
          ours: runs.map((r) => [r.sandboxed.turnsPerSecond]),
          baseline: runs.map((r) => [r.baseline.turnsPerSecond]),
          baselineName: "the same gateway with the tools answered in-process (same effects, same audit)",
          target: { ratio: 0.5 },
        }),
        figure({
          what: "turn latency under that load",
          unit: "ms",
          better: "lower",
          ours: runs.map((r) => r.sandboxed.latenciesMs),
          baseline: runs.map((r) => r.baseline.latenciesMs),
          baselineName: "tools in-process",
        }),
      ],
      notes: [
        `Peak RSS under load: gateway ${peak((r) => r.sandboxed.gatewayRssMb)} MiB sandboxed (${peak((r) => r.baseline.gatewayRssMb)} MiB with in-process tools); sandbox workers ${peak((r) => r.sandboxed.workersRssMb)} MiB in all.`,
        `Turns wait for durable writes: every audit entry and state row is on disk (\`synchronous=FULL\`) before the turn goes on; ${sessions} sessions share 32 running slots, so latency is mostly queueing.`,
      ],
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
