/**
 * `Figure`: a plotly figure (`{data, layout}`) that displays itself in
 * Jupyter and writes standalone, offline HTML.
 *
 * In a notebook a figure's MIME bundle has three entries:
 * - `application/vnd.plotly.v1+json` for front ends with a plotly renderer
 *   (VS Code, JupyterLab with the plotly extension);
 * - `text/html`: a `<div>` plus a small script that draws it with the page's
 *   `window.Plotly`. plotly.js itself is NOT embedded in each output: the
 *   exported site (`deno task notebooks`) loads it once per page, and a live
 *   notebook without a plotly renderer can load it once with
 *   {@linkcode plotlyInit};
 * - `text/plain`: a one-line summary.
 *
 * @example
 * ```ts
 * import { Figure } from "./figure.ts";
 * const fig = new Figure([{ type: "scatter", x: [1, 2, 3], y: [1, 4, 9] }], { title: "squares" });
 * if (!fig.toHTML().includes("Plotly.newPlot")) throw new Error("no plot call");
 * ```
 * @module
 */

import { escapeHtml, JUPYTER_DISPLAY, type MimeBundle } from "./display.ts";

/** A plotly trace: `type` plus its attributes (see plotly.js reference). */
export type Trace = { type?: string } & Record<string, unknown>;
/** A plotly layout object. */
export type Layout = Record<string, unknown>;

/** The MIME type of plotly figures in Jupyter. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

let counter = 0;

/**
 * Replaces typed arrays by plain arrays (JSON would turn them into objects) and
 * shortens float32 values to 7 significant digits, recursively.
 *
 * @example
 * ```ts
 * import { plainJSON } from "./figure.ts";
 * const p = plainJSON({ y: new Float32Array([0.1]) }) as { y: number[] };
 * if (p.y[0] !== 0.1) throw new Error(String(p.y[0]));
 * ```
 */
export function plainJSON(v: unknown): unknown {
  if (v instanceof Float32Array) return Array.from(v, (x) => Number(x.toPrecision(7)));
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Array.from(v, Number);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return Array.from(v as unknown as ArrayLike<number>);
  }
  if (Array.isArray(v)) return v.map(plainJSON);
  if (typeof v === "bigint") return Number(v);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = plainJSON(x);
    return out;
  }
  return v;
}

/** JSON that is safe inside an HTML `<script>` element. */
function scriptJSON(v: unknown): string {
  return JSON.stringify(v).replace(/</g, "\\u003c").replace(/>/g, "\\u003e")
    .replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** A plotly figure that renders itself in Jupyter and as standalone HTML. */
export class Figure {
  /** The traces. */
  data: Trace[];
  /** The layout (title, axes, size, …). */
  layout: Layout;
  /** plotly config (`responsive`, `displaylogo`, …). */
  config: Record<string, unknown>;

  /**
   * Makes a figure from traces and a layout.
   *
   * @param data plotly traces; typed arrays are accepted anywhere
   * @param layout plotly layout
   * @param config plotly config
   */
  constructor(data: Trace[], layout: Layout = {}, config: Record<string, unknown> = {}) {
    this.data = data;
    this.layout = layout;
    this.config = { responsive: true, displaylogo: false, ...config };
  }

  /**
   * The figure as plain JSON: `{data, layout, config}` with typed arrays expanded.
   *
   * @example
   * ```ts
   * import { Figure } from "./figure.ts";
   * const j = new Figure([{ type: "bar", y: new Uint8Array([1, 2]) }]).toJSON();
   * if (!Array.isArray(j.data[0].y)) throw new Error("typed array not expanded");
   * ```
   */
  toJSON(): { data: Trace[]; layout: Layout; config: Record<string, unknown> } {
    return plainJSON({ data: this.data, layout: this.layout, config: this.config }) as {
      data: Trace[];
      layout: Layout;
      config: Record<string, unknown>;
    };
  }

  /** The title text without markup (`<br><sub>note</sub>` becomes ` — note`). */
  get title(): string {
    let t = this.layout.title;
    if (t && typeof t === "object") t = (t as { text?: unknown }).text;
    if (typeof t !== "string") return "";
    return t.replace(/<br\s*\/?>/gi, " — ").replace(/<[^>]*>/g, "").replace(/^ — /, "");
  }

  /**
   * An HTML fragment: a div and a script drawing it with `window.Plotly`
   * (which the page must load; see {@linkcode plotlyInit}).
   *
   * @example
   * ```ts
   * import { Figure } from "./figure.ts";
   * const h = new Figure([{ type: "bar", y: [1] }]).htmlFragment();
   * if (!h.includes('class="lowbit-plotly"')) throw new Error("no div");
   * ```
   */
  htmlFragment(): string {
    const id = `lowbit-fig-${Date.now().toString(36)}-${(counter++).toString(36)}`;
    const height = typeof this.layout.height === "number" ? this.layout.height : 420;
    const spec = scriptJSON(this.toJSON());
    return `<div id="${id}" class="lowbit-plotly" style="width:100%;min-height:${height}px">` +
      `</div>\n<script>(function(){var id=${JSON.stringify(id)},spec=${spec};` +
      `function draw(){var el=document.getElementById(id);if(!el||el.dataset.drawn)return;` +
      `el.dataset.drawn="1";window.Plotly.newPlot(el,spec.data,spec.layout,spec.config);}` +
      `if(window.Plotly){draw();}else{(window.__lowbitPlots=window.__lowbitPlots||[]).push(draw);` +
      `var el=document.getElementById(id);if(el){el.textContent=` +
      `"[plotly.js not loaded: display lowbit's plotlyInit() once in this notebook]";}}` +
      `})();</script>`;
  }

  /**
   * A standalone HTML page with plotly.js inlined (about 4.8 MB); works offline.
   *
   * @example
   * ```ts
   * import { Figure } from "./figure.ts";
   * const page = new Figure([{ type: "bar", y: [3, 1] }]).toHTML();
   * if (!page.startsWith("<!DOCTYPE html>")) throw new Error("not a page");
   * ```
   */
  toHTML(): string {
    const title = escapeHtml(this.title || "lowbit figure");
    return `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title>\n` +
      `<script>${plotlySource()}</script>\n</head>\n<body>\n${this.htmlFragment()}\n</body></html>\n`;
  }

  /**
   * Writes {@linkcode Figure.toHTML} to `path`, through a temporary file renamed into place.
   *
   * @example
   * ```ts
   * import { Figure } from "./figure.ts";
   * const path = await Deno.makeTempFile({ suffix: ".html" });
   * await new Figure([{ type: "bar", y: [1] }]).writeHTML(path);
   * if ((await Deno.stat(path)).size < 1e6) throw new Error("plotly.js not inlined");
   * await Deno.remove(path);
   * ```
   */
  async writeHTML(path: string): Promise<void> {
    const tmp = `${path}.${Deno.pid}.tmp`;
    try {
      await Deno.writeTextFile(tmp, this.toHTML());
      await Deno.rename(tmp, path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      throw e;
    }
  }

  /** One-line text summary, used as `text/plain`. */
  toString(): string {
    const kinds = this.data.map((t) => t.type ?? "scatter").join(", ");
    const t = this.title;
    return `Figure${t ? ` "${t}"` : ""} (${this.data.length} trace(s): ${kinds})`;
  }

  /** The Jupyter MIME bundle: plotly JSON, HTML fallback, plain text. */
  [JUPYTER_DISPLAY](): MimeBundle {
    return {
      [PLOTLY_MIME]: this.toJSON(),
      "text/html": this.htmlFragment(),
      "text/plain": this.toString(),
    };
  }
}

let cachedSource: string | undefined;

/**
 * The path of `plotly.min.js` in `node_modules` (resolved through the import map).
 *
 * @example
 * ```ts
 * import { plotlyPath } from "./figure.ts";
 * if (!plotlyPath().endsWith("plotly.min.js")) throw new Error(plotlyPath());
 * ```
 */
export function plotlyPath(): string {
  const candidates: string[] = [];
  try {
    candidates.push(import.meta.resolve("plotly.js-dist-min/plotly.min.js"));
  } catch { /* not in the import map: fall back to the local node_modules */ }
  candidates.push(
    new URL("../node_modules/plotly.js-dist-min/plotly.min.js", import.meta.url).href,
  );
  for (const c of candidates) {
    if (!c.startsWith("file:")) continue;
    const p = decodeURIComponent(new URL(c).pathname);
    try {
      Deno.statSync(p);
      return p;
    } catch (e) {
      if (e instanceof Deno.errors.PermissionDenied) {
        throw new Error(`reading plotly.js needs --allow-read (${p})`, { cause: e });
      }
    }
  }
  throw new Error(
    `plotly.min.js not found (tried ${candidates.join(", ")}); run \`deno install\` ` +
      `so that node_modules/plotly.js-dist-min exists`,
  );
}

/**
 * The text of plotly.min.js (read once, then cached).
 *
 * @example
 * ```ts
 * import { plotlySource } from "./figure.ts";
 * if (!plotlySource().includes("plotly.js")) throw new Error("not plotly");
 * ```
 */
export function plotlySource(): string {
  return cachedSource ??= Deno.readTextFileSync(plotlyPath());
}

/**
 * A displayable that loads plotly.js into a live notebook page once, then
 * draws the figures that were waiting for it. Only needed for front ends that
 * render neither the plotly MIME type nor already have `window.Plotly`. The
 * notebook exporter drops this output (the site loads plotly.js itself).
 *
 * @example
 * ```ts
 * import { plotlyInit } from "./figure.ts";
 * import { bundleOf } from "./display.ts";
 * const b = await bundleOf(plotlyInit());
 * if (!String(b["text/html"]).includes("lowbit-plotly-init")) throw new Error("no marker");
 * ```
 */
export function plotlyInit(): { [JUPYTER_DISPLAY](): MimeBundle } {
  return {
    [JUPYTER_DISPLAY]: () => ({
      "text/plain": "plotly.js loaded",
      "text/html": `<script class="lowbit-plotly-init">if(!window.Plotly){` +
        `${plotlySource().replace(/<\/script/gi, "<\\/script")}\n}` +
        `(window.__lowbitPlots||[]).splice(0).forEach(function(f){f();});</script>`,
    }),
  };
}
