/**
 * `deno task notebooks`: executes every `notebooks/*.ipynb` headless, each in
 * a fresh Deno kernel with a time limit (with `LOWBIT_CLAIMS_OUT=site/claims`,
 * where each notebook's `lb.Scorecard` writes `<name>.arrow`); writes
 * `site/<name>.ipynb`, exports `site/<name>.html` (plotly rendered offline),
 * `site/scorecard.html` (every claim: ✓ / ✗ / does not reproduce at this
 * scale, with its numbers) and `site/index.html`; checks the pages in headless
 * Chromium; and ends with the line `N passed, N failed` (notebooks). A
 * notebook passes when every cell ran, its claim cell (first line
 * `// claim:`) ran clean, the claims it recorded are exactly those of
 * `<notebooks>/claims/<name>.json` with the committed outcomes (a notebook
 * without claims fails), and its page rendered.
 *
 * Usage: `deno run -A tools/notebooks.ts [filters…] [options]`
 * - filters: names or substrings (`12-gptq`, `gptq`); files starting with `_`
 *   are skipped unless named by a filter or `--all` is given.
 * - `--limit=S` seconds per notebook (default 120, or $LOWBIT_NB_LIMIT)
 * - `--out=DIR` output folder (default `site`); `--dir=DIR` notebooks folder
 * - `--jobs=N` notebooks run in parallel (default 1)
 * - `--inline-plotly` embed plotly.js in each page instead of `plotly.min.js`
 * - `--no-html`, `--no-browser` skip the export / the browser check
 *
 * @example
 * ```ts
 * import { parseArgs, selectNotebooks } from "./notebooks.ts";
 * const o = parseArgs(["gptq", "--limit=60"]);
 * const picked = selectNotebooks(["00-quickstart.ipynb", "12-gptq.ipynb", "_smoke.ipynb"], o);
 * if (picked.join() !== "12-gptq.ipynb" || o.limitS !== 60) throw new Error(picked.join());
 * ```
 * @module
 */

import { join } from "node:path";
import { describeFailure, type NotebookResult, runNotebook } from "./nb_run.ts";
import { exportHTML } from "./nb_html.ts";
import { indexHTML } from "./nb_index.ts";
import { scorecardHTML } from "./nb_scorecard.ts";
import { browserTest } from "./browser_check.ts";

/** Parsed command line of the runner. */
export interface RunnerOptions {
  /** Name filters. */
  filters: string[];
  /** Seconds per notebook. */
  limitS: number;
  /** Output folder. */
  out: string;
  /** Notebooks folder. */
  dir: string;
  /** Parallel notebooks. */
  jobs: number;
  /** Include `_` notebooks without naming them. */
  all: boolean;
  /** Inline plotly.js into every page. */
  inlinePlotly: boolean;
  /** Export HTML. */
  html: boolean;
  /** Check the pages in Chromium. */
  browser: boolean;
}

/**
 * Parses the runner's arguments (see the module doc).
 *
 * @example
 * ```ts
 * import { parseArgs } from "./notebooks.ts";
 * const o = parseArgs(["--no-browser", "--jobs=2"]);
 * if (o.browser || o.jobs !== 2 || o.out !== "site") throw new Error(JSON.stringify(o));
 * ```
 */
export function parseArgs(
  args: string[],
  env: Record<string, string | undefined> = {},
): RunnerOptions {
  const o: RunnerOptions = {
    filters: [],
    limitS: Number(env.LOWBIT_NB_LIMIT ?? 120),
    out: "site",
    dir: "notebooks",
    jobs: 1,
    all: false,
    inlinePlotly: false,
    html: true,
    browser: true,
  };
  for (const a of args) {
    const [key, value] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, ""];
    const num = () => {
      const n = Number(value);
      if (!(n > 0)) throw new Error(`${key} needs a positive number, got "${value}"`);
      return n;
    };
    if (key === "--limit") o.limitS = num();
    else if (key === "--jobs") o.jobs = Math.floor(num());
    else if (key === "--out") o.out = value;
    else if (key === "--dir") o.dir = value;
    else if (key === "--all") o.all = true;
    else if (key === "--inline-plotly") o.inlinePlotly = true;
    else if (key === "--no-html") o.html = false;
    else if (key === "--no-browser") o.browser = false;
    else if (key.startsWith("--")) throw new Error(`unknown option ${key}`);
    else o.filters.push(a.replace(/^.*\//, "").replace(/\.ipynb$/, ""));
  }
  if (!(o.limitS > 0)) throw new Error(`bad LOWBIT_NB_LIMIT: ${env.LOWBIT_NB_LIMIT}`);
  return o;
}

/**
 * The notebook files to run, sorted: those matching a filter (exact name
 * first, else substring), or all not starting with `_`.
 *
 * @example
 * ```ts
 * import { parseArgs, selectNotebooks } from "./notebooks.ts";
 * const all = selectNotebooks(["b.ipynb", "a.ipynb", "_x.ipynb", "notes.md"], parseArgs([]));
 * if (all.join() !== "a.ipynb,b.ipynb") throw new Error(all.join());
 * ```
 */
export function selectNotebooks(files: string[], o: RunnerOptions): string[] {
  const nbs = files.filter((f) => f.endsWith(".ipynb")).sort();
  if (o.filters.length === 0) return nbs.filter((f) => o.all || !f.startsWith("_"));
  return nbs.filter((f) => {
    const name = f.replace(/\.ipynb$/, "");
    return o.filters.some((q) =>
      name === q || (name.includes(q) && (o.all || !f.startsWith("_") || q.startsWith("_")))
    );
  });
}

async function pool<T, R>(items: T[], jobs: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return out;
}

function line(r: NotebookResult): string {
  const n = r.claims?.length ?? 0;
  return r.ok
    ? `✓ ${r.name} (${r.seconds.toFixed(1)} s, claim ${r.claim}, ${n} claim${n === 1 ? "" : "s"})`
    : describeFailure(r.name, r.failure!) + `\n    (${r.seconds.toFixed(1)} s, claim ${r.claim})`;
}

/** Runs the whole pipeline; returns the results (also printed). */
export async function main(args: string[]): Promise<NotebookResult[]> {
  const o = parseArgs(args, { LOWBIT_NB_LIMIT: Deno.env.get("LOWBIT_NB_LIMIT") });
  let files: string[] = [];
  try {
    files = [...Deno.readDirSync(o.dir)].filter((e) => e.isFile).map((e) => e.name);
  } catch { /* no folder: nothing to run */ }
  const picked = selectNotebooks(files, o);
  if (o.filters.length && picked.length === 0) {
    throw new Error(`no notebook in ${o.dir}/ matches ${o.filters.join(", ")}`);
  }
  console.log(`running ${picked.length} notebook(s) from ${o.dir}/ (limit ${o.limitS} s each)`);
  const results = await pool(picked, o.jobs, async (f) => {
    const r = await runNotebook(join(o.dir, f), { outDir: o.out, limitS: o.limitS });
    console.log(line(r));
    return r;
  });
  const exported = results.filter((r) => {
    try {
      return Deno.statSync(r.executed).isFile;
    } catch {
      return false;
    }
  });
  if (o.html && exported.length) {
    const pages = await exportHTML(exported.map((r) => r.executed), {
      outDir: o.out,
      inline: o.inlinePlotly,
    });
    console.log(`exported ${pages.length} page(s) to ${o.out}/`);
    if (o.browser) {
      const reports = await browserTest(pages, {
        screenshot: join(o.out, "screenshot.png"),
        minCharts: 1,
      });
      reports.forEach((rep, i) => {
        const r = exported[i];
        console.log(`${rep.ok ? "✓" : "✗"} page ${rep.page}: ${rep.rendered}/${rep.charts} charts`);
        for (const p of rep.problems) console.log(`    ${p}`);
        if (!rep.ok && r.ok) {
          r.ok = false;
          r.failure = {
            reason: "browser",
            cell: null,
            sourceHead: "",
            ename: "PageError",
            evalue: rep.problems.join("; "),
            traceback: [],
          };
        }
      });
    }
  }
  await Deno.mkdir(o.out, { recursive: true });
  await Deno.writeTextFile(join(o.out, "scorecard.html"), scorecardHTML(results));
  await Deno.writeTextFile(join(o.out, "index.html"), indexHTML(results));
  if (o.html && o.browser) {
    const [card] = await browserTest([join(o.out, "scorecard.html")], { minCharts: 0 });
    console.log(`${card.ok ? "✓" : "✗"} page ${card.page}`);
    for (const p of card.problems) console.log(`    ${p}`);
  }
  const total = results.reduce((s, r) => s + r.seconds, 0);
  console.log(`notebooks: ${total.toFixed(1)} s in all; index at ${join(o.out, "index.html")}`);
  return results;
}

if (import.meta.main) {
  try {
    const results = await main(Deno.args);
    const failed = results.filter((r) => !r.ok).length;
    console.log(`${results.length - failed} passed, ${failed} failed`);
    Deno.exit(failed ? 1 : 0);
  } catch (e) {
    console.error(`notebooks: ${e instanceof Error ? e.message : e}`);
    console.log("0 passed, 1 failed");
    Deno.exit(1);
  }
}
