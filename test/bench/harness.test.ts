import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import type { Curve } from "../../bench/curve.js";
import { checkTargets, figure, relativeSpeed } from "../../bench/figure.js";
import { summarize } from "../../bench/measure.js";
import type { Report } from "../../bench/report.js";

const RUN = fileURLToPath(new URL("../../bench/run.js", import.meta.url));
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

describe("summaries over repeated runs", () => {
  test("p50 and p99 pool every sample; min–max spans the per-run medians", () => {
    const s = summarize([[10, 20, 30], [40, 50]], "lower");
    assert.equal(s.p50, 30);
    assert.equal(s.min, 20);
    assert.equal(s.max, 45);
    assert.equal(s.runs, 2);
    assert.equal(s.samples, 5);
    assert.ok(s.p99 > 49 && s.p99 <= 50, "a latency's p99 is its slow tail");
  });

  test("a rate's p99 is its low tail, the value 99% of samples beat", () => {
    const s = summarize([[100], [200], [300]], "higher");
    assert.equal(s.p50, 200);
    assert.ok(s.p99 >= 100 && s.p99 < 105);
  });

  test("speed vs baseline is above 1 when we are faster, whichever way the unit points", () => {
    const latency = figure({ what: "x", unit: "µs", better: "lower", ours: [[50]], baseline: [[100]], baselineName: "b", target: { value: 40, ratio: 1.5 } });
    assert.equal(relativeSpeed(latency), 2);
    assert.deepEqual(
      checkTargets(latency).map((c) => c.met),
      [true, false],
    );
    const rate = figure({ what: "x", unit: "/s", better: "higher", ours: [[50]], baseline: [[100]], baselineName: "b", target: { ratio: 0.5 } });
    assert.equal(relativeSpeed(rate), 0.5);
    assert.equal(checkTargets(rate)[0]?.met, true);
  });
});

describe("npm run bench -- --quick (the CI smoke run: the harness works, no time is asserted)", () => {
  const out = mkdtempSync(join(tmpdir(), "sg-bench-smoke-"));
  after(() => rmSync(out, { recursive: true, force: true }));

  test("writes BENCHMARKS.md, results.json and one PNG per scale curve", { timeout: 600_000 }, async () => {
    const child = spawn(process.execPath, [RUN, "--quick", "--out", out], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH } });
    let stderr = "";
    child.stdout.resume();
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    assert.equal(code, 0, stderr);

    const report = JSON.parse(readFileSync(join(out, "docs/benchmarks/results.json"), "utf8")) as Report;
    assert.deepEqual(
      report.areas.map((a) => a.title),
      ["Audit log", "Skill packages", "Sandbox", "Gateway", "Gateway start and idle memory"],
    );
    assert.match(report.machine, /cores, .* Node \d+\.\d+\.\d+/);
    for (const area of report.areas) {
      assert.ok(area.figures.length > 0, area.title);
      for (const f of area.figures) {
        for (const s of [f.ours, f.baseline]) {
          for (const v of [s.p50, s.p99, s.min, s.max]) assert.ok(Number.isFinite(v) && v >= 0, `${area.title}: ${f.what}`);
          assert.ok(s.runs >= 2, `${f.what}: repeated runs`);
          assert.ok(s.min <= s.max);
        }
      }
    }

    const markdown = readFileSync(join(out, "BENCHMARKS.md"), "utf8");
    for (const area of report.areas) assert.match(markdown, new RegExp(`## ${area.title}\\n\\n\`npm run bench -- --only \\S+ --quick\``));
    const tableRows = markdown.split("\n").filter((l) => /^\| [^-|]/.test(l) && !l.startsWith("| measure"));
    assert.ok(tableRows.length >= report.areas.flatMap((a) => a.figures).length);

    const ids = report.curves.map((c) => c.id).sort();
    assert.deepEqual(ids, ["entries-append-rate", "entries-proof-size", "entries-proof-time", "sessions-audit-append", "sessions-invoke-latency", "sessions-worker-memory"]);
    for (const curve of report.curves) {
      assert.match(markdown, new RegExp(`!\\[${curve.title.replace(/[()]/g, "\\$&")}\\]\\(docs/benchmarks/${curve.id}\\.png\\)`));
      const png = readFileSync(join(out, "docs/benchmarks", `${curve.id}.png`));
      assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, curve.id);
      assert.ok(png.readUInt32BE(16) >= 600 && png.readUInt32BE(20) >= 300, `${curve.id}: a chart, not an empty image`);
      for (const series of curve.series) assert.ok(series.points.length >= 2, `${curve.id}: ${series.name}`);
    }

    // Proof sizes are correctness, not speed: RFC 6962 bounds hold at every size measured.
    const proofs = report.curves.find((c) => c.id === "entries-proof-size") as Curve;
    const inclusion = proofs.series.find((s) => s.name.startsWith("inclusion"));
    assert.ok(inclusion);
    for (const p of inclusion.points) assert.ok(p.y <= Math.ceil(Math.log2(p.x)) && p.y >= Math.floor(Math.log2(p.x)) - 1, `inclusion proof at ${p.x}: ${p.y}`);
  });

  test("an unknown benchmark name is a one-line error and a non-zero exit", () => {
    const run = spawnSync(process.execPath, [RUN, "--only", "nope", "--out", out], { encoding: "utf8", env: { PATH: process.env.PATH } });
    assert.equal(run.status, 1);
    assert.match(run.stderr, /^bench: --only takes a comma-separated list of: audit, registry, sandbox, gateway, startup, scale-sessions, scale-entries\n$/);
  });
});
