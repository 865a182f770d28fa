import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type Percentiles, percentiles, rssKb } from "./measure.js";
import type { Row } from "./report.js";

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

const fmt = (p: Percentiles) => `p50 ${p.p50.toFixed(0)} ms, p99 ${p.p99.toFixed(0)} ms, ${p.min.toFixed(0)}–${p.max.toFixed(0)}`;

/**
 * Gateway start to a healthy /healthz (state dir made beforehand, so it is the start that is
 * timed, not `init`), beside a bare Node HTTP server's start; then the idle RSS of the
 * gateway and its sandbox workers, a few seconds after start.
 */
export async function benchStartup(options: { quick: boolean }): Promise<{ rows: Row[]; notes: string[] }> {
  const runs = options.quick ? 3 : 15;
  const home = await mkdtemp(join(tmpdir(), "sg-bench-start-"));
  try {
    const init = spawn(process.execPath, [CLI, "--home", home, "init"], { stdio: "ignore" });
    await new Promise((resolve) => init.once("exit", resolve));
    const ours: number[] = [];
    const bare: number[] = [];
    let idleMb = 0;
    for (let i = 0; i < runs; i++) {
      const g = await startUntilHealthy([CLI, "--home", home, "--json", "serve", "--port", "0"]);
      ours.push(g.ms * 1000);
      if (i === runs - 1) {
        await new Promise((r) => setTimeout(r, options.quick ? 500 : 3000));
        idleMb = rssKb(g.child.pid as number) / 1024;
      }
      await stop(g.child);
      const b = await startUntilHealthy(["-e", BARE]);
      bare.push(b.ms * 1000);
      await stop(b.child);
    }
    const o = percentiles(ours.map((us) => us / 1000));
    const b = percentiles(bare.map((us) => us / 1000));
    return {
      rows: [{ what: `gateway start to a healthy /healthz (${fmt(o)}, ${runs} runs)`, ours: 1000 / o.p50, baseline: 1000 / b.p50, unit: "starts/s", baselineName: `bare node:http server (${fmt(b)})`, floor: 1000 / 500 }],
      notes: [`Idle RSS of the gateway and its sandbox workers after start: ${idleMb.toFixed(0)} MiB (target ≤ 200 MiB).`],
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}
