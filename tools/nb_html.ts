/**
 * Exports executed notebooks to HTML pages that render plotly charts offline.
 *
 * nbconvert's HTML templates do not render `application/vnd.plotly.v1+json`;
 * they fall back to the output's `text/html`, which for lowbit figures is a div
 * plus a script calling `window.Plotly`. So each page gets plotly.js once: a
 * `<script src="plotly.min.js">` next to the pages (default), or inlined
 * (`inline: true`, about 4.8 MB a page). The `file://` scripts of Debian's
 * template (require.js, MathJax 2) are removed, so a page loads nothing from
 * outside its folder. The TeX of markdown cells is rendered with KaTeX at export
 * (`tools/nb_math.ts`); the pages share `katex/katex.min.css` and its fonts.
 *
 * @example
 * ```ts
 * import { postprocessHTML } from "./nb_html.ts";
 * const page = '<html><head><script src="file:///usr/share/x.js"> </script></head><body></body></html>';
 * const out = postprocessHTML(page, { plotlyTag: '<script src="plotly.min.js"></script>' });
 * if (out.includes("file://") || !out.includes("plotly.min.js")) throw new Error(out);
 * ```
 * @module
 */

import { basename, join } from "node:path";
import { Figure, plotlyPath, plotlySource } from "../viz/figure.ts";
import type { Notebook } from "./nb_run.ts";
import { copyKatexAssets, KATEX_CSS_TAG, renderMath } from "./nb_math.ts";

const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/**
 * A copy of the notebook ready for export: `plotlyInit()` outputs (plotly.js
 * inlined into the notebook) are dropped, and plotly outputs without a
 * `text/html` fallback (from other libraries) get one.
 *
 * @example
 * ```ts
 * import { prepareForExport } from "./nb_html.ts";
 * const nb = { cells: [{ cell_type: "code", source: "", outputs: [
 *   { output_type: "display_data", data: { "application/vnd.plotly.v1+json": { data: [], layout: {} } } },
 * ] }] };
 * const out = prepareForExport(nb);
 * if (!("text/html" in out.cells[0].outputs![0].data!)) throw new Error("no fallback");
 * ```
 */
export function prepareForExport(nb: Notebook): Notebook {
  const copy: Notebook = structuredClone(nb);
  for (const cell of copy.cells) {
    if (!cell.outputs) continue;
    cell.outputs = cell.outputs.filter((o) => {
      const h = o.data?.["text/html"];
      const text = Array.isArray(h) ? h.join("") : String(h ?? "");
      return !text.includes("lowbit-plotly-init");
    });
    for (const o of cell.outputs) {
      const spec = o.data?.[PLOTLY_MIME] as
        | { data?: []; layout?: Record<string, unknown>; config?: Record<string, unknown> }
        | undefined;
      if (spec && o.data && !o.data["text/html"]) {
        o.data["text/html"] = new Figure(spec.data ?? [], spec.layout ?? {}, spec.config ?? {})
          .htmlFragment();
      }
    }
  }
  return copy;
}

/** Options of {@linkcode postprocessHTML}. */
export interface PostprocessOptions {
  /** The tag that loads plotly.js, inserted before `</head>`. */
  plotlyTag: string;
}

/**
 * Removes `file://` scripts, renders the math of markdown cells with KaTeX
 * ({@linkcode renderMath}), and inserts the KaTeX stylesheet and the plotly.js
 * tag into a page.
 *
 * @example
 * ```ts
 * import { postprocessHTML } from "./nb_html.ts";
 * const out = postprocessHTML("<head></head>", { plotlyTag: "<script>var $& = 1</script>" });
 * if (!out.includes("$&")) throw new Error("replacement patterns must not be expanded");
 * ```
 */
export function postprocessHTML(html: string, options: PostprocessOptions): string {
  const cleaned = renderMath(
    html.replace(/<script\s+src="file:\/\/[^"]*"\s*>\s*<\/script>\s*/g, ""),
  );
  const tags = KATEX_CSS_TAG + "\n" + options.plotlyTag;
  const at = cleaned.indexOf("</head>");
  if (at < 0) return tags + cleaned;
  return cleaned.slice(0, at) + tags + "\n" + cleaned.slice(at);
}

/** Options of {@linkcode exportHTML}. */
export interface ExportOptions {
  /** Folder of the pages (and of `plotly.min.js` unless inlined). */
  outDir: string;
  /** Inline plotly.js into every page instead of sharing `plotly.min.js` (KaTeX's CSS and fonts stay shared in `katex/`). */
  inline?: boolean;
}

/**
 * Converts executed notebooks to `<outDir>/<name>.html` with one
 * `jupyter nbconvert --to html` call, then post-processes the pages. Returns the page paths.
 *
 * @example
 * ```ts ignore
 * import { exportHTML } from "./nb_html.ts";
 * const pages = await exportHTML(["site/00-quickstart.ipynb"], { outDir: "site" });
 * ```
 */
export async function exportHTML(notebooks: string[], options: ExportOptions): Promise<string[]> {
  if (notebooks.length === 0) return [];
  await Deno.mkdir(options.outDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ prefix: "lowbit-nb-html-" });
  try {
    const inputs: string[] = [];
    for (const path of notebooks) {
      const nb: Notebook = JSON.parse(await Deno.readTextFile(path));
      const input = join(tmp, basename(path));
      await Deno.writeTextFile(input, JSON.stringify(prepareForExport(nb)));
      inputs.push(input);
    }
    const out = await new Deno.Command("jupyter", {
      args: ["nbconvert", "--to", "html", "--output-dir", tmp, "--log-level", "WARN", ...inputs],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      const err = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-10).join("\n");
      throw new Error(`jupyter nbconvert --to html failed (exit ${out.code}):\n${err}`);
    }
    const plotlyTag = options.inline
      ? `<script>${plotlySource()}</script>`
      : `<script src="plotly.min.js"></script>`;
    if (!options.inline) await Deno.copyFile(plotlyPath(), join(options.outDir, "plotly.min.js"));
    await copyKatexAssets(options.outDir);
    const pages: string[] = [];
    for (const input of inputs) {
      const name = basename(input).replace(/\.ipynb$/, "");
      const html = await Deno.readTextFile(join(tmp, `${name}.html`));
      const page = join(options.outDir, `${name}.html`);
      await Deno.writeTextFile(page, postprocessHTML(html, { plotlyTag }));
      pages.push(page);
    }
    return pages;
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
