/**
 * Turns a `bench/main.ts` results JSON into a standalone HTML page of plotly
 * charts (plotly.js inlined from `node_modules/plotly.js-dist-min`, so the
 * page works offline): per batch, kernel time by format and shape (log
 * scale), and for the GEMV batches the share of the copy bandwidth and the
 * speed-up over dense f16. Writes `<same-name>.html` next to the JSON.
 *
 * Usage: `deno run -A bench/chart.ts bench/results/<name>.json`.
 *
 * @example
 * ```ts ignore
 * // deno run -A bench/chart.ts bench/results/2026-11-26-NVIDIA-H100-80GB-HBM3.json
 * ```
 * @module
 */

/** One row of the results JSON (the fields the charts use). */
export interface ResultRow {
  /** Format name, e.g. "int4 g128". */
  format: string;
  /** Output features. */
  N: number;
  /** Input features. */
  K: number;
  /** Activation rows. */
  batch: number;
  /** Kernel used ("gemv-pair", "gemm", "linear", …). */
  kernel: string;
  /** Median time, µs. */
  us: number;
  /** Weight bytes per second over the copy-kernel bandwidth. */
  copyRatio: number;
  /** Dense f16 time over this time. */
  speedupVsF16: number | null;
  /** GEMV configuration. */
  config?: string;
}

/** The results JSON of `bench/main.ts`. */
export interface Results {
  /** ISO date of the run. */
  date: string;
  /** GPU adapter name. */
  adapter: string;
  /** Measured rows. */
  rows: ResultRow[];
  /** Bandwidth measurements (copyKernelGBps is shown). */
  bandwidth?: Record<string, number | string>;
  /** Which dense kernels the ×f16 column compares with. */
  denseBaseline?: string;
}

/** A plotly figure: traces and layout. */
export interface Figure {
  /** Plotly traces. */
  data: Record<string, unknown>[];
  /** Plotly layout. */
  layout: Record<string, unknown>;
}

/**
 * The plotly figures for a results object.
 *
 * @example
 * ```ts
 * import { figures } from "./chart.ts";
 * const rows = [{ format: "int4", N: 8, K: 8, batch: 1, kernel: "gemv", us: 2, copyRatio: 0.5, speedupVsF16: 2 }];
 * console.log(figures({ date: "", adapter: "x", rows }).length); // 3
 * ```
 */
export function figures(r: Results): Figure[] {
  const batches = [...new Set(r.rows.map((x) => x.batch))].sort((a, b) => a - b);
  const shapes = [...new Set(r.rows.map((x) => `${x.N}×${x.K}`))];
  const formats = [...new Set(r.rows.map((x) => x.format))];
  const out: Figure[] = [];
  const bars = (batch: number, y: (x: ResultRow) => number | null, title: string, log: boolean) => {
    const data = formats.map((f) => {
      const rows = shapes.map((s) =>
        r.rows.find((x) => x.format === f && x.batch === batch && `${x.N}×${x.K}` === s)
      );
      return {
        type: "bar",
        name: f,
        x: shapes,
        y: rows.map((x) => (x ? y(x) : null)),
        text: rows.map((x) => (x ? `${x.kernel}${x.config ? ` ${x.config}` : ""}` : "")),
        hovertemplate: "%{x} %{y:.3g}<br>%{text}",
        textposition: "none",
      };
    });
    out.push({
      data,
      layout: {
        title: { text: title },
        barmode: "group",
        yaxis: { type: log ? "log" : "linear" },
        height: 420,
      },
    });
  };
  for (const b of batches) {
    bars(b, (x) => x.us, `batch ${b}: kernel time (µs, log scale; lower is better)`, true);
    if (b === 1) {
      bars(b, (x) => 100 * x.copyRatio, "batch 1: % of the copy-kernel bandwidth", false);
      bars(b, (x) => x.speedupVsF16, "batch 1: × dense f16 (higher is better)", false);
    }
  }
  return out;
}

/**
 * A standalone HTML page with the figures and the given plotly.js source.
 *
 * @example
 * ```ts
 * import { html } from "./chart.ts";
 * console.log(html({ date: "d", adapter: "GPU", rows: [] }, "/*plotly*\/").includes("GPU")); // true
 * ```
 */
export function html(r: Results, plotly: string): string {
  const figs = figures(r);
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const divs = figs.map((_, i) => `<div id="fig${i}"></div>`).join("\n");
  const bw = r.bandwidth?.copyKernelGBps;
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lowbit benchmarks — ${esc(r.adapter)}</title>
<script>${plotly.replace(/<\/script/gi, "<\\/script")}</script>
<style>body{font-family:sans-serif;margin:1em 2em}</style></head>
<body>
<h1>lowbit benchmarks: ${esc(r.adapter)}</h1>
<p>${esc(r.date)}${
    typeof bw === "number" ? ` · WGSL copy kernel ${bw.toFixed(0)} GB/s (read + write)` : ""
  }${r.denseBaseline ? ` · dense f16 baseline: ${esc(r.denseBaseline)}` : ""}</p>
${divs}
<script>
const figs = ${JSON.stringify(figs).replace(/</g, "\\u003c")};
figs.forEach((f, i) => Plotly.newPlot("fig" + i, f.data, f.layout, { responsive: true }));
</script>
</body></html>
`;
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (!path) {
    console.error("usage: deno run -A bench/chart.ts bench/results/<name>.json");
    Deno.exit(2);
  }
  const r = JSON.parse(await Deno.readTextFile(path)) as Results;
  const plotly = await Deno.readTextFile(
    new URL("../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url),
  );
  const out = path.replace(/\.json$/, "") + ".html";
  await Deno.writeTextFile(out, html(r, plotly));
  console.log(`wrote ${out}`);
}
