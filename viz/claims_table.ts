/**
 * Claim records as data and as display: one Arrow table per notebook (the
 * scorecard's columns), read back with {@linkcode readClaims}, and an
 * HTML/text bundle with ✓ / ✗ marks. The protocol itself is in `claim.ts`.
 *
 * @module
 */
import { type Table, tableFromArrays, tableFromIPC } from "apache-arrow";
import { escapeHtml } from "./display.ts";
import { type Better, type ClaimRecord, type Outcome, OUTCOMES } from "./claim.ts";

/** The symbol shown for an outcome on the scorecard. */
export function outcomeMark(o: Outcome): string {
  return o === "holds" ? "✓" : o === "fails" ? "✗" : "does not reproduce at this scale";
}

/** A number with 4 significant digits (exponent form outside [1e-3, 1000)). */
export function fmt(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  return a >= 1000 || a < 1e-3 ? x.toExponential(2) : x.toPrecision(4);
}

/**
 * One Arrow table of claim records (the scorecard's columns).
 *
 * @example
 * ```ts
 * import { claimsTable, judgeClaim } from "./claim.ts";
 * const r = judgeClaim({
 *   id: "x", statement: "s", metric: "ppl", better: "lower", evaluation: "e", seeds: [0, 1, 2],
 *   method: { name: "m", bits: 3, values: [1, 1, 1] }, baseline: { name: "b", bits: 3, values: [2, 2, 2] },
 * }, "nb");
 * console.log(claimsTable([r]).getChild("outcome")?.get(0)); // holds
 * ```
 */
export function claimsTable(records: readonly ClaimRecord[]): Table {
  const col = <T>(f: (r: ClaimRecord) => T) => records.map(f);
  const num = (f: (r: ClaimRecord) => number) => Float64Array.from(records, f);
  return tableFromArrays({
    notebook: col((r) => r.notebook),
    id: col((r) => r.id),
    statement: col((r) => r.statement),
    metric: col((r) => r.metric),
    better: col((r) => r.better),
    method: col((r) => r.method.name),
    method_bits: num((r) => r.method.bits),
    method_mean: num((r) => r.methodMean),
    method_spread: num((r) => r.methodSpread),
    method_values: col((r) => JSON.stringify(r.method.values)),
    baseline: col((r) => r.baseline.name),
    baseline_bits: num((r) => r.baseline.bits),
    baseline_mean: num((r) => r.baselineMean),
    baseline_spread: num((r) => r.baselineSpread),
    baseline_values: col((r) => JSON.stringify(r.baseline.values)),
    margin: num((r) => r.margin),
    spread: num((r) => r.spread),
    runs: Int32Array.from(records, (r) => r.seeds.length),
    seeds: col((r) => r.seeds.join(",")),
    evaluation: col((r) => r.evaluation),
    outcome: col((r) => r.outcome),
    expected: col((r) => r.expected ?? ""),
    note: col((r) => r.note ?? ""),
  });
}

/**
 * Reads a notebook's claims back from its Arrow file (written by
 * {@linkcode Scorecard}): one record per claim, with the judged statistics
 * as stored. Throws, naming the file, when it is missing or is not a claims
 * table.
 *
 * @example
 * ```ts
 * import { readClaims, Scorecard } from "./claim.ts";
 * const dir = Deno.makeTempDirSync();
 * const card = new Scorecard("nb", { expected: { x: "holds" }, out: dir });
 * card.claim({
 *   id: "x", statement: "s", metric: "ppl", better: "lower", evaluation: "e", seeds: [0, 1, 2],
 *   method: { name: "m", bits: 3, values: [1, 1, 1] }, baseline: { name: "b", bits: 3, values: [2, 2, 2] },
 * });
 * console.log(readClaims(`${dir}/nb.arrow`)[0].outcome); // holds
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function readClaims(path: string): ClaimRecord[] {
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new Error(`claims file ${path}: cannot read it (${(e as Error).message})`);
  }
  let rows: Record<string, unknown>[];
  try {
    const t = tableFromIPC(bytes);
    const names = new Set(t.schema.fields.map((f) => f.name));
    const missing = ["notebook", "id", "outcome", "expected"].filter((k) => !names.has(k));
    if (missing.length) throw new Error(`no column ${missing.join(", ")}`);
    rows = t.toArray().map((r) => r.toJSON() as Record<string, unknown>);
  } catch (e) {
    throw new Error(`claims file ${path}: not an Arrow table of claims (${(e as Error).message})`);
  }
  const str = (r: Record<string, unknown>, k: string): string => {
    if (typeof r[k] !== "string") {
      throw new Error(`claims file ${path}: column "${k}" is missing or not text`);
    }
    return r[k] as string;
  };
  const num = (r: Record<string, unknown>, k: string): number => {
    if (typeof r[k] !== "number") {
      throw new Error(`claims file ${path}: column "${k}" is missing or not a number`);
    }
    return r[k] as number;
  };
  const outcome = (r: Record<string, unknown>, k: string): Outcome | undefined => {
    const v = str(r, k);
    if (v === "" && k === "expected") return undefined;
    if (!OUTCOMES.includes(v as Outcome)) {
      throw new Error(`claims file ${path}: ${k} "${v}" is not one of ${OUTCOMES.join(", ")}`);
    }
    return v as Outcome;
  };
  return rows.map((r) => ({
    notebook: str(r, "notebook"),
    id: str(r, "id"),
    statement: str(r, "statement"),
    metric: str(r, "metric"),
    better: str(r, "better") as Better,
    method: {
      name: str(r, "method"),
      bits: num(r, "method_bits"),
      values: JSON.parse(str(r, "method_values")),
    },
    baseline: {
      name: str(r, "baseline"),
      bits: num(r, "baseline_bits"),
      values: JSON.parse(str(r, "baseline_values")),
    },
    seeds: str(r, "seeds").split(",").filter((x) => x !== "").map(Number),
    evaluation: str(r, "evaluation"),
    note: str(r, "note") || undefined,
    methodMean: num(r, "method_mean"),
    methodSpread: num(r, "method_spread"),
    baselineMean: num(r, "baseline_mean"),
    baselineSpread: num(r, "baseline_spread"),
    margin: num(r, "margin"),
    spread: num(r, "spread"),
    outcome: outcome(r, "outcome")!,
    expected: outcome(r, "expected"),
  }));
}

/** A MIME bundle (HTML and text) of claim records with ✓ / ✗ marks. */
export function claimsBundle(records: readonly ClaimRecord[]): Record<string, string> {
  const rows = records.map((r) =>
    `<tr><td>${escapeHtml(outcomeMark(r.outcome))}</td><td>${escapeHtml(r.statement)}</td>` +
    `<td>${escapeHtml(r.method.name)} (${r.method.bits.toFixed(2)} b)<br>${fmt(r.methodMean)} ± ${
      fmt(r.methodSpread)
    }</td>` +
    `<td>${escapeHtml(r.baseline.name)} (${r.baseline.bits.toFixed(2)} b)<br>${
      fmt(r.baselineMean)
    } ± ${fmt(r.baselineSpread)}</td>` +
    `<td>${fmt(r.margin)} ± ${fmt(r.spread)}</td><td>${
      escapeHtml(r.metric)
    }, ${r.better} is better; n=${r.seeds.length}; ${escapeHtml(r.evaluation)}</td></tr>`
  ).join("");
  const html = `<table class="lowbit-claims"><thead><tr><th></th><th>claim</th><th>method</th>` +
    `<th>baseline</th><th>margin ± spread</th><th>measured on</th></tr></thead><tbody>${rows}</tbody></table>`;
  const text = records.map((r) =>
    `${outcomeMark(r.outcome)} ${r.statement}: ${r.method.name} ${fmt(r.methodMean)} ± ${
      fmt(r.methodSpread)
    } vs ${r.baseline.name} ${fmt(r.baselineMean)} ± ${fmt(r.baselineSpread)} (margin ${
      fmt(r.margin)
    } ± ${fmt(r.spread)})`
  ).join("\n");
  return { "text/plain": text, "text/html": html };
}
