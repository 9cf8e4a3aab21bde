/**
 * Opens exported notebook pages in headless Chromium (Debian's `chromium`,
 * driven by playwright-core) and checks that they render offline: no console
 * errors, no uncaught exceptions, no request leaving `file://`, an SVG
 * (`.main-svg`) in every plotly div, and math typeset: no raw TeX (`$…$`,
 * `\lambda`) left in the markdown cells, no KaTeX error, and KaTeX's stylesheet
 * and fonts loaded from the page's folder. Saves a screenshot of the first chart.
 *
 * Usage: `deno run -A tools/browser_check.ts [site-dir-or-pages…]` (default `site`).
 * Prints `N passed, N failed` (one per page) and exits non-zero on a failure.
 *
 * @example
 * ```ts
 * import { chromiumPath } from "./browser_check.ts";
 * if (typeof chromiumPath() !== "string") throw new Error("unreachable");
 * ```
 * @module
 */

import { chromium } from "playwright-core";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** What the browser found on one page. */
export interface PageReport {
  /** The page's path. */
  page: string;
  /** No problems found. */
  ok: boolean;
  /** Plotly divs on the page. */
  charts: number;
  /** Plotly divs that rendered an SVG. */
  rendered: number;
  /** Math expressions typeset by KaTeX. */
  math: number;
  /** Console errors, uncaught exceptions, blocked requests, undrawn charts, raw or broken math. */
  problems: string[];
}

/** Options of {@linkcode browserTest}. */
export interface BrowserTestOptions {
  /** Where to save a screenshot of the first chart found (none when omitted). */
  screenshot?: string;
  /** Chromium binary (default: $CHROMIUM, /usr/bin/chromium or chromium-browser). */
  executablePath?: string;
  /** Milliseconds to wait for charts per page (default 20000). */
  timeoutMs?: number;
  /** Fewest charts a page must have (default 0; notebook pages: 1, since each has a plot). */
  minCharts?: number;
}

/**
 * The Chromium binary to use: `$CHROMIUM`, else the first of /usr/bin/chromium
 * and /usr/bin/chromium-browser that exists, else "" (none installed).
 *
 * @example
 * ```ts
 * import { chromiumPath } from "./browser_check.ts";
 * const p = chromiumPath();
 * if (p !== "" && !p.includes("chrom")) throw new Error(p);
 * ```
 */
export function chromiumPath(): string {
  let env: string | undefined;
  try {
    env = Deno.env.get("CHROMIUM");
  } catch { /* no env permission */ }
  for (const p of [env, "/usr/bin/chromium", "/usr/bin/chromium-browser"]) {
    if (!p) continue;
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not there, or no read permission */ }
  }
  return "";
}

/** Runs in the page: [plotly divs, plotly divs holding an SVG] (outermost divs only). */
const COUNT_CHARTS = `(() => {
  const sel = ".lowbit-plotly, .js-plotly-plot";
  const divs = [...document.querySelectorAll(sel)]
    .filter((d) => !(d.parentElement && d.parentElement.closest(sel)));
  return [divs.length, divs.filter((d) => d.querySelector(".main-svg")).length];
})()`;

/**
 * Runs in the page once it has loaded: the problems with its math, and how
 * many KaTeX expressions it holds. Raw TeX is a `$…$` or a `\command` in the
 * text of a markdown cell outside code and outside KaTeX's output.
 */
const CHECK_MATH = `(async () => {
  await document.fonts.ready;
  const problems = [];
  const raw = [];
  for (const block of document.querySelectorAll(".jp-RenderedMarkdown, .text_cell_render")) {
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT, {
      acceptNode: (n) => n.parentElement.closest(".katex, .katex-display, code, pre")
        ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT,
    });
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const m = n.data.match(/\\$[^$]+\\$|\\\\[A-Za-z]+/);
      if (m) raw.push(m[0].slice(0, 40));
    }
  }
  if (raw.length) problems.push(raw.length + " raw math expressions (KaTeX not applied): " + raw.slice(0, 3).join(" | "));
  const errors = [...document.querySelectorAll(".katex-error")];
  if (errors.length) problems.push(errors.length + " KaTeX errors: " + errors.slice(0, 3).map((e) => e.title).join(" | "));
  const math = document.querySelectorAll(".katex").length;
  if (math > 0) {
    const family = getComputedStyle(document.querySelector(".katex")).fontFamily;
    if (!family.includes("KaTeX_Main")) problems.push("KaTeX stylesheet not applied (font-family " + family + ")");
    else if (![...document.fonts].some((f) => f.family.replace(/["']/g, "") === "KaTeX_Main" && f.status === "loaded")) {
      problems.push("KaTeX fonts not loaded");
    }
  }
  return [problems, math];
})()`;

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Checks each page in a fresh headless Chromium profile.
 *
 * @example
 * ```ts ignore
 * import { browserTest } from "./browser_check.ts";
 * const reports = await browserTest(["site/00-quickstart.html"], { screenshot: "site/screenshot.png" });
 * ```
 */
export async function browserTest(
  pages: string[],
  options: BrowserTestOptions = {},
): Promise<PageReport[]> {
  const executablePath = options.executablePath ?? chromiumPath();
  if (!executablePath) {
    throw new Error(
      "no Chromium found: install Debian's `chromium` package (apt-get install -y chromium) " +
        "or set $CHROMIUM",
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "lowbit-chromium-" });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: ARGS,
    viewport: { width: 1100, height: 800 },
  });
  const reports: PageReport[] = [];
  let shot = options.screenshot;
  try {
    for (const page of pages) {
      const report = await checkPage(
        context,
        page,
        options.timeoutMs ?? 20000,
        shot,
        options.minCharts ?? 0,
      );
      if (shot && report.rendered > 0) shot = undefined;
      reports.push(report);
    }
  } finally {
    await context.close();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
  return reports;
}

type Context = Awaited<ReturnType<typeof chromium.launchPersistentContext>>;

async function checkPage(
  context: Context,
  path: string,
  timeoutMs: number,
  screenshot: string | undefined,
  minCharts = 0,
): Promise<PageReport> {
  const problems: string[] = [];
  const tab = await context.newPage();
  tab.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  tab.on("pageerror", (e) => problems.push(`uncaught: ${e.message}`));
  await tab.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith("file:") || url.startsWith("data:") || url.startsWith("blob:")) {
      return route.continue();
    }
    problems.push(`blocked request to ${url}`);
    return route.abort();
  });
  tab.on("requestfailed", (r) => {
    if (r.url().startsWith("file:")) problems.push(`missing file ${r.url()}`);
  });
  let charts = 0, rendered = 0, math = 0;
  try {
    await tab.goto(pathToFileURL(resolve(path)).href, { waitUntil: "load", timeout: timeoutMs });
    const count = () => tab.evaluate(COUNT_CHARTS) as Promise<[number, number]>;
    const deadline = Date.now() + timeoutMs;
    [charts, rendered] = await count();
    while (rendered < charts && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      [charts, rendered] = await count();
    }
    const [mathProblems, mathCount] = await tab.evaluate(CHECK_MATH) as [string[], number];
    problems.push(...mathProblems);
    math = mathCount;
    if (rendered < charts) problems.push(`${charts - rendered} of ${charts} charts not rendered`);
    if (charts < minCharts) {
      problems.push(
        `${charts} charts, expected at least ${minCharts} (is a plot not the last expression of its cell?)`,
      );
    }
    if (screenshot && rendered > 0) {
      const first = tab.locator(".main-svg").first().locator("xpath=../..");
      await first.scrollIntoViewIfNeeded();
      await first.screenshot({ path: screenshot });
    }
  } catch (e) {
    problems.push(`could not check the page: ${e instanceof Error ? e.message : e}`);
  } finally {
    await tab.close();
  }
  return { page: path, ok: problems.length === 0, charts, rendered, math, problems };
}

/** Lists `*.html` pages (index.html excluded) in a folder, sorted. */
function pagesIn(dir: string): string[] {
  return [...Deno.readDirSync(dir)]
    .filter((e) => e.isFile && e.name.endsWith(".html") && e.name !== "index.html")
    .map((e) => join(dir, e.name)).sort();
}

if (import.meta.main) {
  const args = Deno.args.length ? Deno.args : ["site"];
  const pages = args.flatMap((a) => Deno.statSync(a).isDirectory ? pagesIn(a) : [a]);
  const dir = Deno.statSync(args[0]).isDirectory ? args[0] : ".";
  const reports = await browserTest(pages, { screenshot: join(dir, "screenshot.png") });
  for (const r of reports) {
    console.log(
      `${r.ok ? "✓" : "✗"} ${r.page}: ${r.rendered}/${r.charts} charts rendered, ${r.math} math`,
    );
    for (const p of r.problems) console.log(`    ${p}`);
  }
  const failed = reports.filter((r) => !r.ok).length;
  console.log(`${reports.length - failed} passed, ${failed} failed`);
  Deno.exit(failed ? 1 : 0);
}
