/**
 * The claim protocol: how a notebook states what a paper claims, measures it
 * against the strongest fair baseline, and records whether it held.
 *
 * A claim compares a **method** with a **baseline** on one metric over
 * several runs (calibration seeds; for a method with nothing random, seeds
 * pick disjoint evaluation slices). Runs are paired: run i of the method and
 * run i of the baseline share seed i. With dᵢ the method's advantage in run i
 * (baseline − method when lower is better), the claim's
 *
 * - **margin** is mean(dᵢ), and its **spread** the sample standard deviation
 *   of the dᵢ (0 for a single run);
 * - outcome is `"holds"` (✓) when margin > 2·spread and margin > 0,
 *   `"fails"` (✗) when margin < −2·spread and margin < 0 (the baseline is
 *   better beyond the noise), and otherwise `"inconclusive"`: the claim does
 *   not reproduce at this scale because the difference is within the noise.
 *
 * Comparisons are at equal bits per weight: a method that stores more bits
 * than its baseline is refused (name a baseline with at least as many bits).
 *
 * Each notebook commits its **expected** outcomes in
 * `notebooks/claims/<notebook>.json` (`{ "<claim id>": "holds" | "fails" |
 * "inconclusive" }`). {@linkcode Scorecard.claim} throws when a measured
 * outcome differs from the expected one, in either direction, so a change of
 * outcome fails CI until the file is updated on purpose. Every claim is also
 * written, with its numbers, to one Arrow IPC file per notebook
 * (`$LOWBIT_CLAIMS_OUT/<notebook>.arrow`, default `site/claims/`), which the
 * notebook site turns into a scorecard.
 *
 * @example
 * ```ts
 * import { Scorecard } from "./claim.ts";
 * const card = new Scorecard("demo", { expected: { "b-beats-a": "holds" }, out: null });
 * const r = card.claim({
 *   id: "b-beats-a",
 *   statement: "B has lower perplexity than A at 4 bits",
 *   metric: "perplexity",
 *   better: "lower",
 *   method: { name: "B", bits: 4.5, values: [3.10, 3.11, 3.09] },
 *   baseline: { name: "A", bits: 4.5, values: [3.30, 3.32, 3.29] },
 *   seeds: [0, 1, 2],
 *   evaluation: "1024 bytes of valid.txt",
 * });
 * console.log(r.outcome, r.margin.toFixed(3)); // holds 0.203
 * ```
 * @module
 */

import { type Table, tableToIPC } from "apache-arrow";
import { claimsBundle, claimsTable, fmt } from "./claims_table.ts";

export { claimsBundle, claimsTable, outcomeMark, readClaims } from "./claims_table.ts";
import { JUPYTER_DISPLAY } from "./display.ts";

/** Which direction of the metric is better. */
export type Better = "lower" | "higher";

/** A claim's outcome: ✓ holds, ✗ fails (reversed beyond the noise), or within the noise. */
export type Outcome = "holds" | "fails" | "inconclusive";

/** The outcomes a claim can have, for validation. */
export const OUTCOMES: readonly Outcome[] = ["holds", "fails", "inconclusive"];

/** One side of a comparison. */
export interface ClaimSide {
  /** What was run, e.g. `"GPTQ W3 g32"`. */
  name: string;
  /** Bits per weight it stores, scales, zeros and low-rank factors included. */
  bits: number;
  /** The metric, one value per run, in the order of {@linkcode ClaimSpec.seeds}. */
  values: readonly number[];
}

/** What a notebook claims and what it measured. */
export interface ClaimSpec {
  /** Key in `notebooks/claims/<notebook>.json`, unique in the notebook (kebab-case). */
  id: string;
  /** The claim in one sentence, as the paper makes it. */
  statement: string;
  /** The metric compared, e.g. `"perplexity"`, `"layer error"`, `"SQNR (dB)"`. */
  metric: string;
  /** Which direction of the metric is better. */
  better: "lower" | "higher";
  /** The method the claim is about. */
  method: ClaimSide;
  /** The strongest fair baseline, at no fewer bits per weight than the method. */
  baseline: ClaimSide;
  /** The seed of each run (at least 3). */
  seeds: readonly number[];
  /** What the metric was evaluated on and how much, e.g. `"4096 bytes of valid.txt, 256-token windows"`. */
  evaluation: string;
  /** Anything a reader needs to judge the comparison. */
  note?: string;
  /** Bits per weight the method may exceed the baseline by (rounding of reports). Default 0.01. */
  bitsSlack?: number;
}

/** A judged claim: the spec and its statistics. */
export interface ClaimRecord extends ClaimSpec {
  /** The notebook that made it. */
  notebook: string;
  /** Mean of the method's values. */
  methodMean: number;
  /** Sample standard deviation of the method's values. */
  methodSpread: number;
  /** Mean of the baseline's values. */
  baselineMean: number;
  /** Sample standard deviation of the baseline's values. */
  baselineSpread: number;
  /** Mean advantage of the method over the baseline (positive: the method is better). */
  margin: number;
  /** Sample standard deviation of the paired advantages. */
  spread: number;
  /** The measured outcome. */
  outcome: Outcome;
  /** The outcome committed in `notebooks/claims/<notebook>.json`, if any. */
  expected?: Outcome;
}

/** The minimum number of runs a claim needs. */
export const MIN_RUNS = 3;

function mean(v: readonly number[]): number {
  return v.reduce((s, x) => s + x, 0) / v.length;
}

function sampleStd(v: readonly number[]): number {
  if (v.length < 2) return 0;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

function checkSide(id: string, what: string, side: ClaimSide, runs: number): void {
  if (!side || typeof side.name !== "string" || !Number.isFinite(side.bits)) {
    throw new TypeError(`claim ${id}: ${what} needs { name, bits, values }`);
  }
  if (side.values.length !== runs) {
    throw new RangeError(
      `claim ${id}: ${what} "${side.name}" has ${side.values.length} values for ${runs} seeds; ` +
        `give one value per seed, in the order of seeds`,
    );
  }
  const bad = side.values.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) {
    throw new RangeError(
      `claim ${id}: ${what} "${side.name}" value ${bad} (seed run ${bad}) is ${
        side.values[bad]
      }; a claim needs finite measurements`,
    );
  }
}

/**
 * Judges a claim without recording it: the statistics and the outcome (see
 * the module doc for the rule). Throws on fewer than {@linkcode MIN_RUNS}
 * runs, mismatched lengths, non-finite values, and a method that stores more
 * bits per weight than its baseline.
 *
 * @example
 * ```ts
 * import { judgeClaim } from "./claim.ts";
 * const r = judgeClaim({
 *   id: "x", statement: "s", metric: "ppl", better: "lower", evaluation: "e", seeds: [0, 1, 2],
 *   method: { name: "m", bits: 3.5, values: [3.2, 3.5, 3.1] },
 *   baseline: { name: "b", bits: 3.5, values: [3.3, 3.3, 3.3] },
 * });
 * console.log(r.outcome); // inconclusive
 * ```
 */
export function judgeClaim(spec: ClaimSpec, notebook = ""): ClaimRecord {
  const id = spec.id;
  if (typeof id !== "string" || !/^[a-z0-9][a-z0-9-]*$/.test(id)) {
    throw new TypeError(`claim: id ${JSON.stringify(id)} must be kebab-case (a-z, 0-9, -)`);
  }
  if (spec.better !== "lower" && spec.better !== "higher") {
    throw new TypeError(`claim ${id}: better must be "lower" or "higher", not ${spec.better}`);
  }
  const runs = spec.seeds.length;
  if (runs < MIN_RUNS) {
    throw new RangeError(
      `claim ${id}: ${runs} run(s); the protocol needs at least ${MIN_RUNS} seeds to know the spread`,
    );
  }
  checkSide(id, "method", spec.method, runs);
  checkSide(id, "baseline", spec.baseline, runs);
  const slack = spec.bitsSlack ?? 0.01;
  if (spec.method.bits > spec.baseline.bits + slack) {
    throw new RangeError(
      `claim ${id}: unequal bits — "${spec.method.name}" stores ${
        spec.method.bits.toFixed(3)
      } bits per weight, ` +
        `its baseline "${spec.baseline.name}" ${spec.baseline.bits.toFixed(3)}; ` +
        `compare against a baseline with at least as many bits`,
    );
  }
  const sign = spec.better === "lower" ? 1 : -1;
  const d = spec.method.values.map((m, i) => sign * (spec.baseline.values[i] - m));
  const margin = mean(d);
  const spread = sampleStd(d);
  const outcome: Outcome = margin > 0 && margin > 2 * spread
    ? "holds"
    : margin < 0 && -margin > 2 * spread
    ? "fails"
    : "inconclusive";
  return {
    ...spec,
    notebook,
    methodMean: mean(spec.method.values),
    methodSpread: sampleStd(spec.method.values),
    baselineMean: mean(spec.baseline.values),
    baselineSpread: sampleStd(spec.baseline.values),
    margin,
    spread,
    outcome,
  };
}

/** Options of a {@linkcode Scorecard}. */
export interface ScorecardOptions {
  /**
   * Expected outcomes by claim id. Default: read from
   * `notebooks/claims/<notebook>.json` in this repository.
   */
  expected?: Record<string, Outcome>;
  /**
   * Folder of the Arrow file, or `null` to write nothing. Default
   * `$LOWBIT_CLAIMS_OUT`, else `site/claims/` in this repository.
   */
  out?: string | null;
}

/** Where a notebook's expected outcomes are committed. */
export function expectedPath(notebook: string): string {
  return new URL(`../notebooks/claims/${notebook}.json`, import.meta.url).pathname;
}

/**
 * Reads and validates a notebook's expected outcomes.
 *
 * @example
 * ```ts
 * import { readExpected } from "./claim.ts";
 * try { readExpected("no-such-notebook"); } catch (e) { console.log((e as Error).name); } // Error
 * ```
 */
export function readExpected(
  notebook: string,
  path: string = expectedPath(notebook),
): Record<string, Outcome> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new Error(
      `claims of ${notebook}: cannot read the expected outcomes ${path} (${
        (e as Error).message
      }); ` +
        `create it with one entry per claim id, e.g. { "my-claim": "holds" }`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`claims of ${notebook}: ${path} is not JSON (${(e as Error).message})`);
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new TypeError(`claims of ${notebook}: ${path} must hold an object { "<id>": outcome }`);
  }
  const out: Record<string, Outcome> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!OUTCOMES.includes(v as Outcome)) {
      throw new TypeError(
        `claims of ${notebook}: ${path}: "${k}" is ${JSON.stringify(v)}, not one of ${
          OUTCOMES.join(", ")
        }`,
      );
    }
    out[k] = v as Outcome;
  }
  return out;
}

/**
 * A notebook's claims: judges each against its expected outcome, keeps the
 * records, writes them as one Arrow table, and displays them.
 */
export class Scorecard {
  /** The notebook's name (its file name without `.ipynb`). */
  readonly notebook: string;
  /** Expected outcomes by id. */
  readonly expected: Readonly<Record<string, Outcome>>;
  /** The claims judged so far, in order. */
  readonly records: ClaimRecord[] = [];
  readonly #out: string | null;

  /**
   * A scorecard for one notebook: reads its expected outcomes and picks the
   * folder of its Arrow file.
   *
   * @param notebook the notebook's file name without `.ipynb`
   * @param options expected outcomes and the output folder
   */
  constructor(notebook: string, options: ScorecardOptions = {}) {
    this.notebook = notebook;
    this.expected = options.expected ?? readExpected(notebook);
    this.#out = options.out === undefined
      ? (Deno.env.get("LOWBIT_CLAIMS_OUT") ??
        new URL("../site/claims/", import.meta.url).pathname)
      : options.out;
  }

  /**
   * Judges a claim, records it, and throws when its outcome is not the
   * committed expected one (or the claim id is not in the expected file).
   * The record is written before the check, so the scorecard shows it
   * either way.
   */
  claim(spec: ClaimSpec): ClaimRecord {
    if (this.records.some((r) => r.id === spec.id)) {
      throw new Error(`claims of ${this.notebook}: claim "${spec.id}" was made twice`);
    }
    const expected = Object.hasOwn(this.expected, spec.id) ? this.expected[spec.id] : undefined;
    const r: ClaimRecord = { ...judgeClaim(spec, this.notebook), expected };
    this.records.push(r);
    this.write();
    const line = `${spec.method.name} ${fmt(r.methodMean)} ± ${fmt(r.methodSpread)} vs ` +
      `${spec.baseline.name} ${fmt(r.baselineMean)} ± ${fmt(r.baselineSpread)} (${spec.metric}, ` +
      `${spec.better} is better; margin ${fmt(r.margin)}, spread ${
        fmt(r.spread)
      }, n=${spec.seeds.length})`;
    if (expected === undefined) {
      throw new Error(
        `claims of ${this.notebook}: "${spec.id}" ${r.outcome}: ${line}; it is not in ` +
          `${
            expectedPath(this.notebook)
          } — add "${spec.id}": "${r.outcome}" if that is the finding`,
      );
    }
    if (expected !== r.outcome) {
      throw new Error(
        `claims of ${this.notebook}: "${spec.id}" was expected to be ${expected} but ${r.outcome}: ` +
          `${line}. If the change is real, update ${
            expectedPath(this.notebook)
          }; never tune the check`,
      );
    }
    return r;
  }

  /** Throws when a claim of the expected file was never made (a claim cannot vanish silently). */
  finish(): void {
    const made = new Set(this.records.map((r) => r.id));
    const missing = Object.keys(this.expected).filter((id) => !made.has(id));
    if (missing.length) {
      throw new Error(
        `claims of ${this.notebook}: expected claim(s) ${missing.join(", ")} were not made`,
      );
    }
  }

  /** The records as an Arrow table (one row per claim). */
  table(): Table {
    return claimsTable(this.records);
  }

  /** Writes the Arrow file (whole, replacing the previous one) unless output is off. */
  write(): void {
    if (this.#out === null) return;
    Deno.mkdirSync(this.#out, { recursive: true });
    const path = `${this.#out.replace(/\/$/, "")}/${this.notebook}.arrow`;
    const tmp = `${path}.${Deno.pid}.tmp`;
    Deno.writeFileSync(tmp, tableToIPC(this.table(), "file"));
    Deno.renameSync(tmp, path);
  }

  /** The scorecard as text: one line per claim with its mark, means, spreads and margin. */
  toString(): string {
    return claimsBundle(this.records)["text/plain"];
  }

  /** The scorecard as an HTML table, for Jupyter. */
  [JUPYTER_DISPLAY](): Record<string, string> {
    return claimsBundle(this.records);
  }
}

/**
 * Throws unless a live recomputation agrees with a stored result (from a
 * committed sweep) to a relative tolerance: how a notebook shows that the
 * numbers it loads are the ones its code makes.
 *
 * @example
 * ```ts
 * import { checkStored } from "./claim.ts";
 * checkStored("RTN W4 g32 perplexity", 3.2750, 3.2751, { rel: 1e-3 }); // passes
 * try { checkStored("x", 1, 2); } catch (e) { console.log((e as Error).name); } // Error
 * ```
 */
export function checkStored(
  what: string,
  stored: number,
  live: number,
  options: { rel?: number } = {},
): void {
  const rel = options.rel ?? 1e-3;
  const diff = Math.abs(stored - live);
  if (!(diff <= rel * Math.max(Math.abs(stored), Math.abs(live), 1e-30))) {
    throw new Error(
      `${what}: the live run gives ${live}, the stored sweep ${stored} (relative difference ${
        (diff / Math.abs(stored)).toExponential(2)
      } > ${rel}); rerun the sweep script that made the stored file`,
    );
  }
}

/**
 * A Markdown cell computed from measured numbers (for conclusions that quote
 * them): displays as Markdown in Jupyter and as text elsewhere.
 *
 * @example
 * ```ts
 * import { bundleOf } from "./display.ts";
 * import { markdown } from "./claim.ts";
 * const b = await bundleOf(markdown(`GPTQ: **${(3.1234).toFixed(3)}**`));
 * console.log(b["text/markdown"]); // GPTQ: **3.123**
 * ```
 */
export function markdown(text: string): Markdown {
  return new Markdown(text);
}

/** Markdown text that displays as Markdown in Jupyter (see {@linkcode markdown}). */
export class Markdown {
  /** The Markdown source. */
  readonly text: string;
  /**
   * Wraps Markdown text for display.
   *
   * @param text the Markdown source
   */
  constructor(text: string) {
    this.text = text;
  }
  /** Plain text and Markdown, for Jupyter. */
  [JUPYTER_DISPLAY](): Record<string, string> {
    return { "text/plain": this.text, "text/markdown": this.text };
  }
  /** The Markdown source. */
  toString(): string {
    return this.text;
  }
}
