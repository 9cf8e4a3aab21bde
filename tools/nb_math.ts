/**
 * Renders the TeX in exported notebook pages with KaTeX, at export time.
 *
 * nbconvert keeps the math of markdown cells as raw text (`$…$`, `$$…$$`) for
 * MathJax, which the site does not load (Debian's template points at a
 * `file://` MathJax that is removed). {@linkcode renderMath} replaces each
 * expression inside the rendered-markdown blocks with KaTeX's HTML and
 * MathML, so a page needs no script to show math: only `katex/katex.min.css`
 * and its fonts, which {@linkcode copyKatexAssets} copies next to the pages
 * (KaTeX comes from npm through `deno.json`; nothing is fetched at view time).
 *
 * Rules, as MathJax reads the same cells: `$$…$$` is display math, `$…$`
 * inline math, `\$` a literal dollar; code (`<code>`, `<pre>`) is left alone.
 * A TeX error is rendered in red (`.katex-error`) rather than thrown, and
 * `tools/browser_check.ts` fails a page that has one.
 *
 * @example
 * ```ts
 * import { renderMath } from "./nb_math.ts";
 * const md = '<div class="jp-RenderedMarkdown"><p>Let $x^2$ cost \\$5.</p></div>';
 * const out = renderMath(md);
 * console.log(out.includes('class="katex"'), out.includes("$")); // true true
 * ```
 * @module
 */

import katex from "katex";
import { join } from "node:path";

/** Class names of the blocks that hold rendered markdown (JupyterLab and classic templates). */
const MARKDOWN_BLOCK =
  /<div\b[^>]*class="[^"]*\b(?:jp-RenderedMarkdown|text_cell_render)\b[^"]*"[^>]*>/g;

/** The CSS tag a page needs for the math rendered by {@linkcode renderMath}. */
export const KATEX_CSS_TAG = '<link rel="stylesheet" href="katex/katex.min.css">';

/**
 * Replaces the TeX inside the rendered-markdown blocks of an nbconvert page
 * by KaTeX output. Text outside those blocks (code, outputs) is not touched.
 *
 * @example
 * ```ts
 * import { renderMath } from "./nb_math.ts";
 * const page = '<pre>$a$</pre><div class="jp-RenderedMarkdown">$$a &lt; b$$</div>';
 * const out = renderMath(page);
 * console.log(out.startsWith("<pre>$a$</pre>"), out.includes("katex-display")); // true true
 * ```
 */
export function renderMath(html: string): string {
  let out = "";
  let at = 0;
  for (const m of html.matchAll(MARKDOWN_BLOCK)) {
    const start = m.index! + m[0].length;
    if (start <= at) continue; // nested inside a block already rendered
    const end = closingDiv(html, start);
    out += html.slice(at, start) + renderBlock(html.slice(start, end));
    at = end;
  }
  return out + html.slice(at);
}

/** Index of the `</div>` that closes the div opened just before `from` (or the text's end). */
function closingDiv(html: string, from: number): number {
  const tag = /<(\/?)div\b[^>]*>/g;
  tag.lastIndex = from;
  let depth = 1;
  for (let m = tag.exec(html); m; m = tag.exec(html)) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) return m.index;
  }
  return html.length;
}

/** Renders the math in the text of one markdown block, skipping tags and code. */
function renderBlock(block: string): string {
  const parts = block.split(/(<[^>]*>)/);
  let inCode = 0;
  let out = "";
  for (const part of parts) {
    if (part.startsWith("<")) {
      const t = part.match(/^<(\/?)(code|pre)\b/i);
      if (t) inCode = Math.max(0, inCode + (t[1] ? -1 : 1));
      out += part;
    } else out += inCode ? part : renderText(part);
  }
  return out;
}

/** Renders `$$…$$` and `$…$` in HTML-escaped text; `\$` becomes `$`. */
function renderText(text: string): string {
  if (!text.includes("$")) return text;
  let out = "";
  let i = 0;
  while (i < text.length) {
    if (text[i] === "\\" && text[i + 1] === "$") {
      out += "$";
      i += 2;
      continue;
    }
    if (text[i] !== "$") {
      out += text[i++];
      continue;
    }
    const display = text[i + 1] === "$";
    const open = display ? 2 : 1;
    const close = findClose(text, i + open, display);
    const tex = close < 0 ? "" : text.slice(i + open, close);
    if (tex.trim() === "") {
      out += text.slice(i, i + open);
      i += open;
      continue;
    }
    out += katex.renderToString(unescapeHTML(tex), {
      displayMode: display,
      throwOnError: false,
      output: "htmlAndMathml",
    });
    i = close + open;
  }
  return out;
}

/** Index of the closing `$` (or `$$`) after `from`, skipping `\$`; -1 when there is none. */
function findClose(text: string, from: number, display: boolean): number {
  for (let j = from; j < text.length; j++) {
    if (text[j] === "\\") {
      j++;
      continue;
    }
    if (text[j] !== "$") continue;
    if (!display) return j;
    if (text[j + 1] === "$") return j;
  }
  return -1;
}

function unescapeHTML(s: string): string {
  return s.replace(
    /&(lt|gt|quot|#39|#x27|amp);/g,
    (_, e: string) => ({ lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'", amp: "&" })[e]!,
  );
}

/**
 * The folder of KaTeX's distribution (`katex.min.css`, `fonts/`) in the npm
 * package that `deno.json` maps.
 *
 * @example
 * ```ts
 * import { katexDistPath } from "./nb_math.ts";
 * console.log(katexDistPath().endsWith("dist")); // true
 * ```
 */
export function katexDistPath(): string {
  const candidates: string[] = [];
  try {
    candidates.push(import.meta.resolve("katex/dist/katex.min.css"));
  } catch { /* not resolvable as a file: fall back to the local node_modules */ }
  candidates.push(new URL("../node_modules/katex/dist/katex.min.css", import.meta.url).href);
  for (const c of candidates) {
    if (!c.startsWith("file:")) continue;
    const p = decodeURIComponent(new URL(c).pathname);
    try {
      Deno.statSync(p);
      return p.slice(0, -"/katex.min.css".length);
    } catch { /* try the next */ }
  }
  throw new Error(
    "KaTeX not found in node_modules/katex/dist: run `deno install` (deno.json maps npm:katex)",
  );
}

/**
 * Copies `katex.min.css` and its fonts to `<outDir>/katex/`, where
 * {@linkcode KATEX_CSS_TAG} points.
 *
 * @example
 * ```ts
 * import { copyKatexAssets } from "./nb_math.ts";
 * const dir = await Deno.makeTempDir();
 * await copyKatexAssets(dir);
 * console.log((await Deno.stat(`${dir}/katex/fonts/KaTeX_Main-Regular.woff2`)).isFile); // true
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function copyKatexAssets(outDir: string): Promise<void> {
  const dist = katexDistPath();
  const dest = join(outDir, "katex");
  await Deno.mkdir(join(dest, "fonts"), { recursive: true });
  await Deno.copyFile(join(dist, "katex.min.css"), join(dest, "katex.min.css"));
  for await (const e of Deno.readDir(join(dist, "fonts"))) {
    if (e.isFile) await Deno.copyFile(join(dist, "fonts", e.name), join(dest, "fonts", e.name));
  }
}
