/**
 * `site/index.html`: every notebook with its pass/fail status, claim status,
 * its claims' ✓ / ✗ / not-reproduced counts (linked to `scorecard.html`),
 * run time and, for failures, the error.
 *
 * @example
 * ```ts
 * import { indexHTML } from "./nb_index.ts";
 * const page = indexHTML([{
 *   name: "00-quickstart", title: "Quickstart", ok: true, seconds: 3.2, claim: "passed",
 *   executed: "site/00-quickstart.ipynb",
 * }]);
 * if (!page.includes('href="00-quickstart.html"')) throw new Error("no link");
 * ```
 * @module
 */

import { escapeHtml } from "../viz/display.ts";
import type { NotebookResult } from "./nb_run.ts";
import { claimCounts, countsText } from "./nb_scorecard.ts";

const BADGE: Record<string, string> = {
  passed: "#2ca02c",
  failed: "#d62728",
  "not-run": "#ff7f0e",
  missing: "#d62728",
};

function badge(text: string, color: string): string {
  return `<span style="background:${color};color:white;border-radius:3px;padding:1px 6px">` +
    `${escapeHtml(text)}</span>`;
}

/**
 * The index page for a run.
 *
 * @example
 * ```ts
 * import { indexHTML } from "./nb_index.ts";
 * const page = indexHTML([]);
 * if (!page.includes("0 passed, 0 failed")) throw new Error("no summary");
 * ```
 */
export function indexHTML(results: NotebookResult[], generated = new Date()): string {
  const passed = results.filter((r) => r.ok).length;
  const counts = claimCounts(results.flatMap((r) => r.claims ?? []));
  const rows = results.map((r) => {
    const err = r.failure
      ? `${escapeHtml(r.failure.reason)}${
        r.failure.cell === null ? "" : ` in cell ${r.failure.cell}`
      }` +
        `: ${escapeHtml(`${r.failure.ename}: ${r.failure.evalue}`.slice(0, 300))}`
      : "";
    return `<tr><td><a href="${encodeURIComponent(r.name)}.html">${escapeHtml(r.name)}</a></td>` +
      `<td>${escapeHtml(r.title)}</td>` +
      `<td>${badge(r.ok ? "passed" : "failed", r.ok ? BADGE.passed : BADGE.failed)}</td>` +
      `<td>${badge(r.claim, BADGE[r.claim])}</td>` +
      `<td>${
        r.claims?.length
          ? `<a href="scorecard.html#${encodeURIComponent(r.name)}--${
            encodeURIComponent(r.claims[0].id)
          }">${escapeHtml(countsText(claimCounts(r.claims)))}</a>`
          : "none"
      }</td>` +
      `<td style="text-align:right">${r.seconds.toFixed(1)} s</td>` +
      `<td><a href="${encodeURIComponent(r.name)}.ipynb">ipynb</a></td>` +
      `<td style="color:#a00;font-size:90%">${err}</td></tr>`;
  }).join("\n");
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lowbit notebooks</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
</style></head>
<body>
<h1>lowbit notebooks</h1>
<p>${passed} passed, ${results.length - passed} failed &middot; claims: ${
    countsText(counts)
  } (<a href="scorecard.html">scorecard</a>) &middot; generated ${
    escapeHtml(generated.toISOString())
  }</p>
<table>
<thead><tr><th>notebook</th><th>title</th><th>run</th><th>claim cell</th><th>claims</th><th>time</th><th></th>` +
    `<th>error</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
