/** A scale curve: how a figure moves as sessions or log size grow, with its baseline where there is one. */
export interface Curve {
  /** File stem of the chart (`<id>.png`). */
  id: string;
  title: string;
  command: string;
  x: { title: string; log: boolean };
  y: { title: string; log?: boolean };
  series: Series[];
  /** What the curve shows, in one or two sentences (written from the figures, not assumed). */
  reading: string;
}

export interface Series {
  name: string;
  /** A reference line (a floor, a bound): drawn dashed, under the measured series. */
  reference?: boolean;
  points: Point[];
}

export interface Point {
  x: number;
  y: number;
}
