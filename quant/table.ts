/**
 * Decision tables: a scalar format's rounding rule written as data the GPU
 * kernel can search. The thresholds are found from the format's own `encode`
 * by bisection over f32 bit patterns, so the GPU rounds exactly as the
 * pure-TS reference does — ties to even, log-domain nearest, whatever the
 * format defines — as long as `encode` is monotone.
 *
 * @example
 * ```ts
 * import { decisionTable } from "./table.ts";
 * import { e2m1 } from "./formats/mod.ts";
 * const t = decisionTable(e2m1);
 * // 16 values: −0 and +0 are distinct codes; the tie 0.25 between +0 and 0.5 goes to the even code
 * console.log(t.values.length, t.codes[7], t.codes[8], t.thresholds[8] > 0.25); // 16 8 0 true
 * ```
 * @module
 */
import type { ElementFormat } from "./formats/mod.ts";
import type { DecisionTable } from "../kernels/quantize/mod.ts";

const cache = new WeakMap<ElementFormat, DecisionTable>();

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Maps an f32 to an integer that orders like the float (−0 and +0 adjacent). */
function orderKey(x: number): number {
  f32[0] = x;
  const b = u32[0];
  return b & 0x80000000 ? 0x7fffffff - (b & 0x7fffffff) : 0x80000000 + b;
}

function fromKey(k: number): number {
  u32[0] = k >= 0x80000000 ? k - 0x80000000 : 0x80000000 | (0x7fffffff - k);
  return f32[0];
}

/**
 * The decision table of `fmt` (cached): values ascending without reserved or
 * NaN codes, each value's canonical code, and for each neighbour pair the
 * smallest f32 input that encodes to the upper value.
 *
 * @example
 * ```ts
 * import { decisionTable } from "./table.ts";
 * import { int4 } from "./formats/mod.ts";
 * const t = decisionTable(int4);
 * // −7.5 is a tie between −8 and −7 and rounds to the even −8, so the threshold lies just above it
 * console.log(t.values[0], t.codes[0], t.thresholds[0] > -7.5); // -8 8 true
 * ```
 */
export function decisionTable(fmt: ElementFormat): DecisionTable {
  const hit = cache.get(fmt);
  if (hit) return hit;
  const reserved = new Set(fmt.reserved);
  const entries: { value: number; code: number }[] = [];
  const seen = new Set<number>();
  for (let c = 0; c < fmt.values.length; c++) {
    const v = fmt.values[c];
    if (reserved.has(c) || Number.isNaN(v) || !Number.isFinite(v)) continue;
    // −0 and +0 stay two entries when the format keeps the sign of zero (IEEE-style
    // minifloats): small negative inputs then round to the negative-zero code.
    const canonical = fmt.encode(v);
    if (seen.has(canonical)) continue;
    seen.add(canonical);
    entries.push({ value: fmt.values[canonical], code: canonical });
  }
  entries.sort((a, b) => orderKey(a.value) - orderKey(b.value));
  const n = entries.length;
  const values = Float32Array.from(entries, (e) => e.value);
  const codes = Uint32Array.from(entries, (e) => e.code);
  const thresholds = new Float32Array(Math.max(0, n - 1));
  for (let i = 0; i + 1 < n; i++) {
    // smallest x in (values[i], values[i+1]] whose code's value is ≥ values[i+1]
    let lo = orderKey(values[i]);
    let hi = orderKey(values[i + 1]);
    while (hi - lo > 1) {
      const mid = lo + Math.floor((hi - lo) / 2);
      if (fmt.values[fmt.encode(fromKey(mid))] >= values[i + 1]) hi = mid;
      else lo = mid;
    }
    thresholds[i] = fromKey(hi);
  }
  const table = { values, codes, thresholds, byCode: Float32Array.from(fmt.values) };
  cache.set(fmt, table);
  return table;
}
