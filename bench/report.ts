import { cpus, release, totalmem } from "node:os";
import type { Curve } from "./curve.js";
import { type Area, checkTargets, type Figure, relativeSpeed } from "./figure.js";
import type { Summary } from "./measure.js";

export interface Report {
  mode: "quick" | "full";
  machine: string;
  date: string;
  areas: Area[];
  curves: Curve[];
}

export function machine(): string {
  const cpu = cpus()[0]?.model.trim() ?? "unknown CPU";
  const memGiB = (totalmem() / 2 ** 30).toFixed(0);
  return `${cpu}, ${cpus().length} cores, ${memGiB} GiB RAM, Linux ${release()}, Node ${process.versions.node}`;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (Number.isInteger(n) || abs >= 100) return Math.round(n).toLocaleString("en-US");
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const ratio = (r: number) => (r < 0.1 ? r.toPrecision(2) : r.toFixed(2));
const spread = (s: Summary) => (s.runs > 1 ? `${fmt(s.min)}–${fmt(s.max)}` : "-");

function figureRow(f: Figure): string {
  const checks = checkTargets(f);
  const target = checks.length ? checks.map((c) => `${c.text}: ${c.met ? "met" : "**missed**"}`).join("; ") : "-";
  return `| ${f.what} | ${fmt(f.ours.p50)} ${f.unit} | ${fmt(f.ours.p99)} | ${spread(f.ours)} (${f.ours.runs}) | ${fmt(f.baseline.p50)} ${f.unit} (p99 ${fmt(f.baseline.p99)}), ${f.baselineName} | ${ratio(relativeSpeed(f))}× | ${target} |`;
}

export function renderArea(area: Area): string {
  const lines = [
    `## ${area.title}`,
    "",
    `\`${area.command}\``,
    "",
    "| measure | skillgate p50 | p99 | min–max of run medians (runs) | baseline, same run | speed vs baseline | target |",
    "|---|---:|---:|---:|---|---:|---|",
    ...area.figures.map(figureRow),
  ];
  if (area.notes.length) lines.push("", ...area.notes.map((n) => `- ${n}`));
  return lines.join("\n");
}

export function renderCurve(curve: Curve, chartPath: string | undefined): string {
  const xs = [...new Set(curve.series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const cell = (name: string, x: number) => {
    const p = curve.series.find((s) => s.name === name)?.points.find((q) => q.x === x);
    return p ? fmt(p.y) : "-";
  };
  const lines = [`### ${curve.title}`, "", `\`${curve.command}\``, ""];
  if (chartPath) lines.push(`![${curve.title}](${chartPath})`, "");
  lines.push(
    `| ${curve.x.title} | ${curve.series.map((s) => s.name).join(" | ")} |`,
    `|---:|${curve.series.map(() => "---:").join("|")}|`,
    ...xs.map((x) => `| ${x.toLocaleString("en-US")} | ${curve.series.map((s) => cell(s.name, x)).join(" | ")} |`),
    "",
    curve.reading,
  );
  return lines.join("\n");
}

const PREAMBLE = `Every figure stands beside a baseline measured in the same run on the same machine. **p50** and **p99** are over every sample of every run (a sample is one timed operation, or one run's rate; for a rate the p99 is the low tail, the value 99% of samples beat). **min–max** is the spread of the per-run medians. **Speed vs baseline** divides the medians so that above 1× means faster than the baseline. Nothing here is asserted by a test: CI runs \`npm run bench -- --quick\` only to prove the harness works.`;

export function renderReport(report: Report, chartPath: (curve: Curve) => string | undefined): string {
  return [
    "# skillgate benchmarks",
    "",
    `Made by \`npm run bench${report.mode === "quick" ? " -- --quick" : ""}\` on ${report.date}.${report.mode === "quick" ? " **Quick smoke run: too few samples to quote.**" : ""}`,
    "",
    `Machine: ${report.machine}.`,
    "",
    PREAMBLE,
    "",
    ...report.areas.flatMap((a) => [renderArea(a), ""]),
    "## Scale curves",
    "",
    ...report.curves.flatMap((c) => [renderCurve(c, chartPath(c)), ""]),
  ].join("\n");
}
