import { type Better, type Summary, summarize } from "./measure.js";

/** A target from the issues: a ratio to the baseline, an absolute bound on our p50, or both. */
export interface Target {
  /** Minimum speed relative to the baseline (see `relativeSpeed`). */
  ratio?: number;
  /** Bound on our p50, in the figure's unit: at most for `lower`, at least for `higher`. */
  value?: number;
}

/** One line of a benchmark table: our measurement beside a baseline taken in the same run. */
export interface Figure {
  what: string;
  unit: string;
  better: Better;
  ours: Summary;
  baseline: Summary;
  baselineName: string;
  target?: Target;
}

export interface Area {
  title: string;
  /** The command that reproduces this table alone. */
  command: string;
  figures: Figure[];
  notes: string[];
}

export function figure(spec: {
  what: string;
  unit: string;
  better: Better;
  ours: number[][];
  baseline: number[][];
  baselineName: string;
  target?: Target;
}): Figure {
  const { ours, baseline, ...rest } = spec;
  return { ...rest, ours: summarize(ours, spec.better), baseline: summarize(baseline, spec.better) };
}

/** How many times faster (or more) than the baseline we are, on the medians: above 1 is better. */
export function relativeSpeed(f: Figure): number {
  return f.better === "higher" ? f.ours.p50 / f.baseline.p50 : f.baseline.p50 / f.ours.p50;
}

export interface TargetCheck {
  text: string;
  met: boolean;
}

export function checkTargets(f: Figure): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const t = f.target;
  if (t?.ratio !== undefined) checks.push({ text: `≥ ${Number(t.ratio.toFixed(2))}× baseline`, met: relativeSpeed(f) >= t.ratio });
  if (t?.value !== undefined) {
    const sign = f.better === "lower" ? "≤" : "≥";
    checks.push({ text: `p50 ${sign} ${t.value.toLocaleString("en-US")} ${f.unit}`, met: f.better === "lower" ? f.ours.p50 <= t.value : f.ours.p50 >= t.value });
  }
  return checks;
}
