import { createRequire } from "node:module";
import { Resvg } from "@resvg/resvg-js";
import { parse, type Spec, View } from "vega";
import type { Curve } from "./curve.js";

// A font shipped with the dev dependencies, so a chart reads the same on a machine without fonts.
const FONT_FILE = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf");
const FONT = "DejaVu Sans";

/** A Vega line chart: one coloured line with points per series, log axes where the curve asks. */
function spec(curve: Curve): Spec {
  // References last: dashed over a measured line that coincides with them, both stay visible.
  const ordered = [...curve.series].sort((a, b) => Number(Boolean(a.reference)) - Number(Boolean(b.reference)));
  const values = ordered.flatMap((s) => s.points.map((p) => ({ series: s.name, reference: Boolean(s.reference), x: p.x, y: p.y })));
  const font = { labelFont: FONT, titleFont: FONT };
  return {
    width: 640,
    height: 320,
    padding: 16,
    background: "white",
    title: { text: curve.title, font: FONT, fontSize: 15 },
    data: [{ name: "points", values }],
    scales: [
      { name: "x", type: curve.x.log ? "log" : "linear", domain: { data: "points", field: "x" }, range: "width", nice: false },
      curve.y.log
        ? { name: "y", type: "log", domain: { data: "points", field: "y" }, range: "height", nice: true }
        : { name: "y", type: "linear", domain: { data: "points", field: "y" }, range: "height", zero: true, nice: true },
      { name: "color", type: "ordinal", domain: { data: "points", field: "series" }, range: "category" },
    ],
    axes: [
      { orient: "bottom", scale: "x", title: curve.x.title, grid: true, format: "~s", labelOverlap: true, ...font },
      { orient: "left", scale: "y", title: curve.y.title, grid: true, labelOverlap: true, ...font },
    ],
    legends: [{ fill: "color", stroke: "color", orient: "bottom", direction: "vertical", labelLimit: 640, ...font }],
    marks: [
      {
        type: "group",
        from: { facet: { name: "series", data: "points", groupby: "series" } },
        marks: [
          {
            type: "line",
            from: { data: "series" },
            encode: {
              enter: {
                x: { scale: "x", field: "x" },
                y: { scale: "y", field: "y" },
                stroke: { scale: "color", field: "series" },
                strokeWidth: { signal: "datum.reference ? 1.5 : 2.5" },
                strokeDash: { signal: "datum.reference ? [6, 4] : [1, 0]" },
              },
            },
          },
          {
            type: "symbol",
            from: { data: "series" },
            encode: { enter: { x: { scale: "x", field: "x" }, y: { scale: "y", field: "y" }, fill: { scale: "color", field: "series" }, size: { value: 36 } } },
          },
        ],
      },
    ],
  };
}

/** Renders a curve to PNG bytes: Vega draws the SVG, resvg rasterises it. */
export async function renderChart(curve: Curve): Promise<Buffer> {
  const view = new View(parse(spec(curve)), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, { font: { loadSystemFonts: false, fontFiles: [FONT_FILE], defaultFontFamily: FONT }, fitTo: { mode: "zoom", value: 2 } });
    return png.render().asPng();
  } finally {
    view.finalize();
  }
}
