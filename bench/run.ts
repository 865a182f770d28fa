import { fork } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { z } from "zod";
import { benchAudit } from "./audit.js";
import { renderChart } from "./chart.js";
import type { Curve } from "./curve.js";
import type { Area } from "./figure.js";
import { benchGateway } from "./gateway.js";
import { benchRegistry } from "./registry.js";
import { machine, type Report, renderReport } from "./report.js";
import { benchSandbox } from "./sandbox.js";
import { scaleEntries } from "./scale-entries.js";
import { scaleSessions } from "./scale-sessions.js";
import { benchStartup } from "./startup.js";

type Options = { quick: boolean };
const AREAS: Record<string, (o: Options) => Promise<Area>> = {
  audit: benchAudit,
  registry: benchRegistry,
  sandbox: benchSandbox,
  gateway: benchGateway,
  startup: benchStartup,
};
const CURVES: Record<string, (o: Options) => Promise<Curve[]>> = {
  "scale-sessions": scaleSessions,
  "scale-entries": scaleEntries,
};
const NAMES = [...Object.keys(AREAS), ...Object.keys(CURVES)];
const CHARTS_DIR = "docs/benchmarks";

const ArgsSchema = z.object({
  quick: z.boolean().default(false),
  only: z
    .string()
    .optional()
    .transform((s) => s?.split(",").map((w) => w.trim()))
    .pipe(z.array(z.enum(NAMES as [string, ...string[]])).optional()),
  out: z.string().min(1).optional(),
});

function parse(argv: string[]): z.infer<typeof ArgsSchema> {
  const { values } = parseArgs({ args: argv, options: { quick: { type: "boolean" }, only: { type: "string" }, out: { type: "string" } }, strict: true });
  const parsed = ArgsSchema.safeParse(values);
  if (!parsed.success) throw new Error(`--only takes a comma-separated list of: ${NAMES.join(", ")}`);
  return parsed.data;
}

/**
 * Each benchmark runs in a fresh process: no JIT, heap or file-cache state carries from one
 * area into the next, and a crash in one (a V8 fatal error was seen once in a long run)
 * fails that area with its own message instead of taking the whole report down.
 */
function inChild<T>(name: string, quick: boolean): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(import.meta.url), ["--child", name, ...(quick ? ["--quick"] : [])], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    let result: { ok: true; value: T } | { ok: false; message: string } | undefined;
    child.once("message", (m) => (result = m as typeof result));
    child.once("exit", (code, signal) => {
      if (result?.ok) resolve(result.value);
      else reject(new Error(`${name}: ${result ? result.message : `benchmark process exited (${signal ?? code})`}`));
    });
  });
}

async function runChild(name: string, quick: boolean): Promise<void> {
  try {
    const area = AREAS[name];
    const curves = CURVES[name];
    const value = area ? await area({ quick }) : curves ? await curves({ quick }) : undefined;
    if (value === undefined) throw new Error(`no benchmark named ${name}`);
    process.send?.({ ok: true, value });
  } catch (err) {
    process.send?.({ ok: false, message: err instanceof Error ? err.message : String(err) });
  }
  process.disconnect?.();
}

/**
 * `npm run bench [-- --quick] [--only NAME,...] [--out DIR]`: every benchmark, each figure
 * beside its in-run baseline, then the scale curves; writes BENCHMARKS.md, one PNG chart
 * per curve and results.json. Only a full run of everything writes into the working tree by
 * default (that is the committed report); anything else goes to a temporary directory.
 */
async function main(): Promise<void> {
  const child = process.argv.indexOf("--child");
  if (child >= 0) return runChild(process.argv[child + 1] ?? "", process.argv.includes("--quick"));
  const args = parse(process.argv.slice(2));
  const options = { quick: args.quick };
  const chosen = (name: string) => !args.only || args.only.includes(name);
  const out = resolve(args.out ?? (args.quick || args.only ? mkdtempSync(join(tmpdir(), "skillgate-bench-")) : process.cwd()));
  const report: Report = { mode: args.quick ? "quick" : "full", machine: machine(), date: new Date().toISOString().slice(0, 10), areas: [], curves: [] };
  console.log(`# skillgate benchmarks (${report.mode})\n\nMachine: ${report.machine}\n`);
  for (const name of Object.keys(AREAS).filter(chosen)) {
    console.log(`running ${name}…`);
    report.areas.push(await inChild<Area>(name, options.quick));
  }
  for (const name of Object.keys(CURVES).filter(chosen)) {
    console.log(`running ${name}…`);
    report.curves.push(...(await inChild<Curve[]>(name, options.quick)));
  }
  mkdirSync(join(out, CHARTS_DIR), { recursive: true });
  for (const curve of report.curves) writeFileSync(join(out, CHARTS_DIR, `${curve.id}.png`), await renderChart(curve));
  writeFileSync(join(out, CHARTS_DIR, "results.json"), `${JSON.stringify(report, null, 2)}\n`);
  const markdown = renderReport(report, (c) => `${CHARTS_DIR}/${c.id}.png`);
  writeFileSync(join(out, "BENCHMARKS.md"), markdown);
  console.log(`\n${markdown}\nReport written to ${join(out, "BENCHMARKS.md")}, charts and results.json in ${join(out, CHARTS_DIR)}`);
}

main().catch((err: unknown) => {
  console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
