/**
 * `site/scorecard.html`: every notebook's claims in one table — ✓ (holds),
 * ✗ (fails: the baseline is better beyond the noise) or "does not reproduce
 * at this scale" (within the noise) — with the method and its baseline at
 * their bits per weight, mean ± spread of each, the paired margin ± spread,
 * the seeds and what the metric was evaluated on.
 *
 * @example
 * ```ts
 * import { claimCounts, scorecardHTML } from "./nb_scorecard.ts";
 * const page = scorecardHTML([]);
 * if (!page.includes("0 claims")) throw new Error("no summary");
 * if (claimCounts([]).holds !== 0) throw new Error("counts");
 * ```
 * @module
 */

import { escapeHtml } from "../viz/display.ts";
import { type ClaimRecord, outcomeMark } from "../viz/claim.ts";
import type { NotebookResult } from "./nb_run.ts";

/** Claims by outcome. */
export interface ClaimCounts {
  /** ✓ */
  holds: number;
  /** ✗ */
  fails: number;
  /** Within the noise. */
  inconclusive: number;
}

/**
 * Counts claims by outcome.
 *
 * @example
 * ```ts
 * import { claimCounts } from "./nb_scorecard.ts";
 * const c = claimCounts([{ outcome: "holds" }, { outcome: "fails" }, { outcome: "holds" }]);
 * if (c.holds !== 2 || c.fails !== 1 || c.inconclusive !== 0) throw new Error(JSON.stringify(c));
 * ```
 */
export function claimCounts(claims: readonly Pick<ClaimRecord, "outcome">[]): ClaimCounts {
  const c: ClaimCounts = { holds: 0, fails: 0, inconclusive: 0 };
  for (const r of claims) c[r.outcome]++;
  return c;
}

/**
 * Counts as one short line, e.g. `2 ✓ · 1 ✗ · 1 not reproduced`.
 *
 * @example
 * ```ts
 * import { countsText } from "./nb_scorecard.ts";
 * const t = countsText({ holds: 2, fails: 1, inconclusive: 0 });
 * if (t !== "2 ✓ · 1 ✗ · 0 not reproduced") throw new Error(t);
 * ```
 */
export function countsText(c: ClaimCounts): string {
  return `${c.holds} ✓ · ${c.fails} ✗ · ${c.inconclusive} not reproduced`;
}

function num(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1000 || a < 1e-3 ? x.toExponential(2) : x.toPrecision(4);
}

const COLOR = { holds: "#2ca02c", fails: "#d62728", inconclusive: "#7f7f7f" } as const;

function row(r: ClaimRecord): string {
  const mismatch = r.expected !== undefined && r.expected !== r.outcome
    ? `<br><b style="color:#d62728">expected ${escapeHtml(r.expected)}</b>`
    : r.expected === undefined
    ? `<br><b style="color:#d62728">not in the expected file</b>`
    : "";
  const side = (s: ClaimRecord["method"], mean: number, spread: number) =>
    `${escapeHtml(s.name)} <span class="b">(${s.bits.toFixed(2)} b)</span><br>` +
    `${num(mean)} ± ${num(spread)}`;
  return `<tr id="${escapeHtml(`${r.notebook}--${r.id}`)}">` +
    `<td><a href="${encodeURIComponent(r.notebook)}.html">${escapeHtml(r.notebook)}</a></td>` +
    `<td style="color:${COLOR[r.outcome]};font-weight:bold">${
      escapeHtml(outcomeMark(r.outcome))
    }${mismatch}</td>` +
    `<td>${escapeHtml(r.statement)}<br><code>${escapeHtml(r.id)}</code>${
      r.note ? `<br><span class="n">${escapeHtml(r.note)}</span>` : ""
    }</td>` +
    `<td>${side(r.method, r.methodMean, r.methodSpread)}</td>` +
    `<td>${side(r.baseline, r.baselineMean, r.baselineSpread)}</td>` +
    `<td>${num(r.margin)} ± ${num(r.spread)}</td>` +
    `<td>${escapeHtml(r.metric)} (${r.better} is better)</td>` +
    `<td>${escapeHtml(r.seeds.join(", "))}</td>` +
    `<td>${escapeHtml(r.evaluation)}</td></tr>`;
}

/**
 * The scorecard page of a run: every claim of every notebook, in notebook order.
 *
 * @example
 * ```ts
 * import { scorecardHTML } from "./nb_scorecard.ts";
 * const r = {
 *   notebook: "nb", id: "a", statement: "A beats B", metric: "ppl", better: "lower" as const,
 *   method: { name: "A", bits: 4.5, values: [1, 1, 1] }, baseline: { name: "B", bits: 4.5, values: [2, 2, 2] },
 *   seeds: [0, 1, 2], evaluation: "e", methodMean: 1, methodSpread: 0, baselineMean: 2,
 *   baselineSpread: 0, margin: 1, spread: 0, outcome: "holds" as const, expected: "holds" as const,
 * };
 * const page = scorecardHTML([{ name: "nb", title: "NB", ok: true, seconds: 1, claim: "passed",
 *   executed: "site/nb.ipynb", claims: [r] }]);
 * if (!page.includes("1 ✓ · 0 ✗")) throw new Error(page);
 * ```
 */
export function scorecardHTML(results: readonly NotebookResult[], generated = new Date()): string {
  const all = results.flatMap((r) => r.claims ?? []);
  const counts = claimCounts(all);
  const missing = results.filter((r) => !(r.claims?.length)).map((r) => r.name);
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>lowbit claims scorecard</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; }
table { border-collapse: collapse; }
td, th { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
.b, .n { color: #666; font-size: 90%; }
</style></head>
<body>
<h1>lowbit claims scorecard</h1>
<p>${all.length} claims: ${countsText(counts)} &middot; generated ${
    escapeHtml(generated.toISOString())
  } &middot; <a href="index.html">notebooks</a></p>
<p>Each claim compares a method with its strongest fair baseline at no fewer bits per weight,
over paired runs (one per seed). The margin is the mean advantage of the method, the spread
the standard deviation of the paired advantages: ✓ when the margin exceeds twice the spread,
✗ when the baseline wins by more than twice the spread, otherwise the claim does not reproduce
at this scale.</p>
${
    missing.length
      ? `<p style="color:#d62728">No claims recorded by: ${escapeHtml(missing.join(", "))}</p>`
      : ""
  }
<table>
<thead><tr><th>notebook</th><th>outcome</th><th>claim</th><th>method</th><th>baseline</th>` +
    `<th>margin ± spread</th><th>metric</th><th>seeds</th><th>evaluated on</th></tr></thead>
<tbody>
${all.map(row).join("\n")}
</tbody></table>
</body></html>
`;
}
