import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Area, figure } from "./figure.js";
import { median, pssKb, rssKb } from "./measure.js";

const CLI = fileURLToPath(new URL("../runtime/cli/main.js", import.meta.url));
const BARE = `require("node:http").createServer((q, s) => s.end("ok")).listen(0, "127.0.0.1", function () { console.log(JSON.stringify({ port: this.address().port })); });`;

/** Spawns a server that prints {port} as its first stdout line; returns it once /healthz answers 200. */
async function startUntilHealthy(args: string[]): Promise<{ child: ChildProcess; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "ignore"], env: { PATH: process.env.PATH } });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NonNullable<typeof child.stdout> }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  const port = (JSON.parse(line) as { port: number }).port;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  return { child, ms: performance.now() - started };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((resolve) => child.once("exit", resolve));
}

/**
 * Gateway start to a healthy /healthz (state dir made beforehand, so it is the start that is
 * timed, not `init`), beside a bare Node HTTP server's start; then the idle RSS of the
 * gateway and its sandbox workers a moment after start, beside the bare server's.
 */
export async function benchStartup(options: { quick: boolean }): Promise<Area> {
  const runs = options.quick ? 3 : 8;
  // Idle means after V8's memory reducer has run (it shrinks the heap some seconds after start).
  const settleMs = options.quick ? 500 : 10_000;
  const home = await mkdtemp(join(tmpdir(), "sg-bench-start-"));
  try {
    const init = spawn(process.execPath, [CLI, "--home", home, "init"], { stdio: "ignore" });
    await new Promise((resolve) => init.once("exit", resolve));
    const startMs = { ours: [] as number[][], bare: [] as number[][] };
    const idleMiB = { ours: [] as number[][], bare: [] as number[][] };
    const idlePssMiB: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const [key, args] of [
        ["ours", [CLI, "--home", home, "--json", "serve", "--port", "0"]],
        ["bare", ["-e", BARE]],
      ] as const) {
        const server = await startUntilHealthy([...args]);
        startMs[key].push([server.ms]);
        await new Promise((r) => setTimeout(r, settleMs));
        idleMiB[key].push([rssKb(server.child.pid as number) / 1024]);
        if (key === "ours") idlePssMiB.push(pssKb(server.child.pid as number) / 1024);
        await stop(server.child);
      }
    }
    return {
      title: "Gateway start and idle memory",
      command: `npm run bench -- --only startup${options.quick ? " --quick" : ""}`,
      figures: [
        figure({ what: "`skillgate serve` to a healthy /healthz (2 sandbox workers ready)", unit: "ms", better: "lower", ours: startMs.ours, baseline: startMs.bare, baselineName: "a bare `node:http` server to its first 200", target: { value: 500 } }),
        figure({ what: `idle RSS of the gateway and its sandbox workers, ${settleMs / 1000} s after start`, unit: "MiB", better: "lower", ours: idleMiB.ours, baseline: idleMiB.bare, baselineName: "the bare `node:http` server", target: { value: 200 } }),
      ],
      notes: [
        `Idle PSS of the same process tree (shared pages of the node binary split between the three processes instead of counted three times): median ${median(idlePssMiB).toFixed(0)} MiB.`,
      ],
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
