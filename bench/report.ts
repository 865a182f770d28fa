import { cpus } from "node:os";

export interface Row {
  what: string;
  ours: number;
  baseline: number;
  unit: string;
  baselineName: string;
  /** Minimum ratio ours/baseline we aim for (higher is better). */
  target?: number;
  /** Absolute floor for `ours`, in `unit`. */
  floor?: number;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `${cpu.trim()}, ${cpus().length} cores, Node ${process.versions.node}`;
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2);
}

/** Prints rows side by side with their in-run baseline and the ratio. */
export function printTable(title: string, rows: Row[]): void {
  console.log(`\n## ${title}\n`);
  console.log("| measure | skillgate | baseline (same run) | ratio | target |");
  console.log("|---|---:|---:|---:|---|");
  for (const r of rows) {
    const ratio = r.ours / r.baseline;
    const targets: string[] = [];
    if (r.target !== undefined) targets.push(`≥ ${Number(r.target.toFixed(2))}× ${ratio >= r.target ? "met" : "MISSED"}`);
    if (r.floor !== undefined) targets.push(`≥ ${fmt(r.floor)} ${r.unit} ${r.ours >= r.floor ? "met" : "MISSED"}`);
    console.log(
      `| ${r.what} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.baseline)} ${r.unit} (${r.baselineName}) | ${ratio.toFixed(2)}× | ${targets.join(", ") || "-"} |`,
    );
  }
}
