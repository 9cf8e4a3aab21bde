/**
 * Grouped quantization kernels that know nothing of particular formats: a
 * row of `cols` values is cut into groups of `groupSize`; each group has its
 * own scale. A format is described by a *decision table*: its representable
 * values sorted ascending, the code of each, and the thresholds between
 * neighbours (the smallest input that rounds up). Any monotone
 * round-to-nearest rule — ties to even, nearest in the log domain, … — is a
 * decision table, so one kernel serves every ≤ 8-bit format bit-exactly.
 *
 * Reference: `tests/reference/quantize.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { groupStats } from "./quantize.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, -3, 2, 0]]);
 * using s = groupStats(x, 2);
 * console.log((await s.data()).slice(0, 3)); // absmax, min, max of [1, -3]: [3, -3, 1]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, header, IS_NAN } from "./wgsl.ts";

/** Columns of the {@link groupStats} table, in order. */
export const GROUP_STATS = [
  "absmax",
  "min",
  "max",
  "sum",
  "sumAbs",
  "sumSq",
  "nonFinite",
  "firstNonFinite",
] as const;

/** Number of f32 columns per group in {@link groupStats}. */
export const GROUP_STATS_WIDTH = GROUP_STATS.length;

function checkGroups(op: string, x: Tensor, groupSize: number): { cols: number; groups: number } {
  const cols = x.shape.at(-1) ?? 1;
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new RangeError(`${op}: groupSize must be a positive integer, got ${groupSize}`);
  }
  if (cols % groupSize !== 0) {
    throw new RangeError(
      `${op}: ${x.toString()} has ${cols} columns, not a multiple of the group size ${groupSize}; ` +
        `choose a group size that divides ${cols} (e.g. ${
          largestDivisorAtMost(cols, groupSize)
        }) ` +
        `or pad the input dimension`,
    );
  }
  return { cols, groups: x.size / groupSize };
}

function largestDivisorAtMost(n: number, k: number): number {
  for (let d = Math.min(n, k); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/**
 * Per-group statistics of the last axis in groups of `groupSize`: a tensor
 * [groups, 8] with absmax, min, max, sum, sum |x|, sum x², the count of
 * non-finite values and the index of the first one within its group (−1 when
 * none; as f32, exact for groups of up to 2²⁴ elements: the tensor index
 * g·groupSize + i is formed by the caller, since f32 cannot hold indices past
 * 2²⁴). Non-finite values are left out of the other columns.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { groupStats } from "./quantize.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, NaN, -2, 4]);
 * using s = groupStats(x, 4);
 * const d = await s.data();
 * console.log(d[0], d[6], d[7]); // 4 1 1
 * ```
 */
export function groupStats(x: Tensor, groupSize: number): Tensor {
  expectDType("groupStats", x, "f32", "f16");
  const { groups } = checkGroups("groupStats", x, groupSize);
  const out = Tensor.empty([groups, GROUP_STATS_WIDTH], "f32");
  if (groups === 0) return out;
  const perThread = groupSize <= 256;
  const WG = perThread ? 64 : 256;
  const T = x.dtype;
  const accumulate = `
    let v = f32(X[base + k]);
    if (is_nan(v) || abs(v) > 3.4028234e38) {
      nf += 1.0;
      first = min(first, k);
    } else {
      amax = max(amax, abs(v)); mn = min(mn, v); mx = max(mx, v);
      s += v; sa += abs(v); sq += v * v;
    }`;
  const init = `var amax = 0.0; var mn = 3.4028234e38; var mx = -3.4028234e38;
    var s = 0.0; var sa = 0.0; var sq = 0.0; var nf = 0.0; var first = 0xffffffffu;`;
  const write = (g: string) => `
    let o = ${g} * ${GROUP_STATS_WIDTH}u;
    Y[o] = amax; Y[o + 1u] = mn; Y[o + 2u] = mx; Y[o + 3u] = s;
    Y[o + 4u] = sa; Y[o + 5u] = sq; Y[o + 6u] = nf;
    Y[o + 7u] = select(f32(first), -1.0, first == 0xffffffffu);`;
  const code = perThread
    ? `${header(T)}
@group(0) @binding(0) var<storage, read> X: array<${T}>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
${IS_NAN}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let g = ${linearIndex(WG)};
  if (g >= ${groups}u) { return; }
  let base = g * ${groupSize}u;
  ${init}
  for (var k = 0u; k < ${groupSize}u; k++) { ${accumulate} }
  ${write("g")}
}`
    : `${header(T)}
@group(0) @binding(0) var<storage, read> X: array<${T}>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
var<workgroup> red: array<f32, ${WG * 7}>;
var<workgroup> redFirst: array<u32, ${WG}>;
${IS_NAN}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u,
    @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= ${groups}u) { return; }
  let base = g * ${groupSize}u;
  ${init}
  for (var k = t; k < ${groupSize}u; k += ${WG}u) { ${accumulate} }
  red[t * 7u] = amax; red[t * 7u + 1u] = mn; red[t * 7u + 2u] = mx; red[t * 7u + 3u] = s;
  red[t * 7u + 4u] = sa; red[t * 7u + 5u] = sq; red[t * 7u + 6u] = nf; redFirst[t] = first;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
    if (t < w) {
      let a = t * 7u; let b = (t + w) * 7u;
      red[a] = max(red[a], red[b]); red[a + 1u] = min(red[a + 1u], red[b + 1u]);
      red[a + 2u] = max(red[a + 2u], red[b + 2u]); red[a + 3u] += red[b + 3u];
      red[a + 4u] += red[b + 4u]; red[a + 5u] += red[b + 5u]; red[a + 6u] += red[b + 6u];
      redFirst[t] = min(redFirst[t], redFirst[t + w]);
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    amax = red[0]; mn = red[1]; mx = red[2]; s = red[3]; sa = red[4]; sq = red[5]; nf = red[6];
    first = redFirst[0];
    ${write("g")}
  }
}`;
  const wg = perThread ? grid(groups, WG) : grid(groups, 1);
  dispatch("groupStats", code, [x.buffer, out.buffer], null, wg);
  return out;
}

/** A format's decision table: sorted values, their codes, and the rounding thresholds. */
export interface DecisionTable {
  /** Representable values, ascending (reserved codes excluded). */
  values: Float32Array;
  /** `codes[i]` is the code of `values[i]`. */
  codes: Uint32Array;
  /** `thresholds[i]` (length n−1): the smallest input that rounds to `values[i + 1]`. */
  thresholds: Float32Array;
  /** Value of every code (length 2^bits), for dequantization. */
  byCode: Float32Array;
}

/** How the kernel maps x to the format's domain and back, per group. */
export interface TableQuantizeOptions {
  /** Elements per group along the last axis (must divide it). */
  groupSize: number;
  /** The format. */
  table: DecisionTable;
  /** Per-group encode scale [groups]: v = x / scale ("div") or v = x · scale ("mul"). */
  encode: Tensor;
  /** "div" (integer and scaled-float formats) or "mul" (MX and NVFP4 encode multipliers). */
  mode: "div" | "mul";
  /** Per-group decode multiplier [groups]: x̂ = value · decode · decode2. */
  decode: Tensor;
  /** A second decode multiplier for every group (NVFP4's tensor scale). Default 1. */
  decode2?: number;
  /** Stochastic rounding with this seed (rounds up with probability of the distance). */
  stochasticSeed?: number;
}

/** Codes and dequantized values of a tensor. */
export interface TableQuantized {
  /** One u32 code per element, shaped like the input. */
  codes: Tensor;
  /** The dequantized values (f32), shaped like the input. */
  dequantized: Tensor;
}

const PCG = `
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn uniform01(seed: u32, i: u32) -> f32 { return f32(pcg(pcg(i) ^ seed) >> 8u) * (1.0 / 16777216.0); }`;

/**
 * WGSL `table_index(v) -> u32`: the number of decision thresholds ≤ v, i.e.
 * the index of v's value in a table of `n` values stored in `TBL` with the
 * n − 1 thresholds after them (binary search).
 */
function tableIndexFn(n: number): string {
  return `
fn table_index(v: f32) -> u32 {
  var lo = 0u;
  var hi = ${n - 1}u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (TBL[${n}u + mid] <= v) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}`;
}

/**
 * Quantizes `x` group by group against a decision table and returns the codes
 * and the dequantized values. Scales are given per group, so any range
 * setting or scale format can be computed before (see `quant/quantize.ts`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { tableQuantize } from "./quantize.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([0.2, -0.9, 2]);
 * using s = Tensor.fromArray([1]);
 * const q = tableQuantize(x, { groupSize: 3, table, encode: s, mode: "div", decode: s });
 * console.log(await q.codes.data(), await q.dequantized.data()); // [0, 3, 1] [0, -1, 1]
 * ```
 */
export function tableQuantize(x: Tensor, o: TableQuantizeOptions): TableQuantized {
  expectDType("tableQuantize", x, "f32", "f16");
  const { groups } = checkGroups("tableQuantize", x, o.groupSize);
  for (const [name, t] of [["encode", o.encode], ["decode", o.decode]] as const) {
    if (t.size !== groups) {
      throw new RangeError(
        `tableQuantize: ${name} scales have ${t.size} entries; ${groups} groups need one each`,
      );
    }
    expectDType(`tableQuantize ${name}`, t, "f32");
  }
  const n = o.table.values.length;
  if (n < 2 || o.table.thresholds.length !== n - 1 || o.table.codes.length !== n) {
    throw new RangeError(
      "tableQuantize: a decision table needs n ≥ 2 values, n codes, n−1 thresholds",
    );
  }
  const codes = Tensor.empty(x.shape, "u32");
  const deq = Tensor.empty(x.shape, "f32");
  if (x.size === 0) return { codes, dequantized: deq };
  const T = x.dtype;
  const stochastic = o.stochasticSeed !== undefined;
  const WG = 256;
  const tbl = Tensor.fromArray(
    new Float32Array([
      ...o.table.values,
      ...o.table.thresholds,
      ...new Float32Array(o.table.codes.buffer),
    ]),
  );
  // codes are stored bit-for-bit in the f32 table buffer and read back with bitcast.
  const code = `${header(T)}
struct Params { decode2: f32, seed: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> TBL: array<f32>;
@group(0) @binding(3) var<storage, read> ENC: array<f32>;
@group(0) @binding(4) var<storage, read> DEC: array<f32>;
@group(0) @binding(5) var<storage, read_write> C: array<u32>;
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;
${PCG}
${tableIndexFn(n)}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${x.size}u) { return; }
  let g = i / ${o.groupSize}u;
  let x = f32(X[i]);
  let v = ${o.mode === "div" ? "x / ENC[g]" : "x * ENC[g]"};
  var idx = table_index(v);
  ${
    stochastic
      ? `// stochastic: between the neighbours below and above v, round up with probability ∝ distance
  let below = select(idx, idx - 1u, idx > 0u && TBL[idx] > v);
  let above = min(below + 1u, ${n - 1}u);
  if (above != below && v >= TBL[below] && v <= TBL[above]) {
    let p = (v - TBL[below]) / (TBL[above] - TBL[below]);
    idx = select(below, above, uniform01(P.seed, i) < p);
  }`
      : ""
  }
  C[i] = bitcast<u32>(TBL[${2 * n - 1}u + idx]);
  Y[i] = (TBL[idx] * DEC[g]) * P.decode2;
}`;
  dispatch(
    "tableQuantize",
    code,
    [x.buffer, tbl.buffer, o.encode.buffer, o.decode.buffer, codes.buffer, deq.buffer],
    new Params().f(o.decode2 ?? 1).u(o.stochasticSeed ?? 0),
    grid(x.size, WG),
  );
  tbl.dispose();
  return { codes, dequantized: deq };
}

/** Options of {@link affineQuantize}. */
export interface AffineQuantizeOptions {
  /** Elements per group along the last axis. */
  groupSize: number;
  /** Bits of the integer codes (1–8). */
  bits: number;
  /** Smallest and largest integer (e.g. −8, 7 for signed int4; 0, 15 for unsigned). */
  qmin: number;
  qmax: number;
  /** Per-group scale [groups] (x ≈ scale · (q − zero)). */
  scale: Tensor;
  /** Per-group integer zero point [groups] (f32 holding integers). */
  zero: Tensor;
  /** Stochastic rounding seed. */
  stochasticSeed?: number;
}

/**
 * Integer quantization with a zero point, per group:
 * q = clamp(round_half_even(x / scale) + zero, qmin, qmax), code = q mod 2^bits,
 * x̂ = (q − zero) · scale.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { affineQuantize } from "./quantize.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-1, 0.5, 2]);
 * using scale = Tensor.fromArray([0.2]);
 * using zero = Tensor.fromArray([5]);
 * const q = affineQuantize(x, { groupSize: 3, bits: 4, qmin: 0, qmax: 15, scale, zero });
 * console.log(await q.codes.data()); // Uint32Array [0, 7, 15] (2.5 rounds to even 2)
 * ```
 */
export function affineQuantize(x: Tensor, o: AffineQuantizeOptions): TableQuantized {
  expectDType("affineQuantize", x, "f32", "f16");
  const { groups } = checkGroups("affineQuantize", x, o.groupSize);
  if (o.scale.size !== groups || o.zero.size !== groups) {
    throw new RangeError(
      `affineQuantize: scale/zero have ${o.scale.size}/${o.zero.size} entries; need ${groups}`,
    );
  }
  const codes = Tensor.empty(x.shape, "u32");
  const deq = Tensor.empty(x.shape, "f32");
  if (x.size === 0) return { codes, dequantized: deq };
  const T = x.dtype;
  const WG = 256;
  const stochastic = o.stochasticSeed !== undefined;
  const code = `${header(T)}
struct Params { qmin: f32, qmax: f32, mask: u32, seed: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> Z: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
${PCG}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${x.size}u) { return; }
  let g = i / ${o.groupSize}u;
  let v = f32(X[i]) / S[g];
  ${
    stochastic
      ? "let r = floor(v) + select(0.0, 1.0, uniform01(P.seed, i) < v - floor(v));"
      : "let r = round(v);"
  }
  let q = clamp(r + Z[g], P.qmin, P.qmax);
  C[i] = bitcast<u32>(i32(q)) & P.mask;
  Y[i] = (q - Z[g]) * S[g];
}`;
  dispatch(
    "affineQuantize",
    code,
    [x.buffer, o.scale.buffer, o.zero.buffer, codes.buffer, deq.buffer],
    new Params().f(o.qmin, o.qmax).u((1 << o.bits) - 1, o.stochasticSeed ?? 0),
    grid(x.size, WG),
  );
  return { codes, dequantized: deq };
}

/**
 * Values of codes: x̂ = byCode[code] · decode[group] · decode2 (the inverse of
 * {@link tableQuantize}), or (code − zero) · scale for affine integers when
 * `zero` is given (codes sign-extended from `bits` when `signed`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { tableDequantize } from "./quantize.ts";
 * await initGPU();
 * using c = Tensor.fromArray([0, 1, 3], [3], "u32");
 * using s = Tensor.fromArray([2]);
 * using y = tableDequantize(c, { groupSize: 3, byCode: new Float32Array([0, 1, 0, -1]), decode: s });
 * console.log(await y.data()); // Float32Array [0, 2, -2]
 * ```
 */
export function tableDequantize(
  codes: Tensor,
  o: { groupSize: number; byCode: Float32Array; decode: Tensor; decode2?: number; zero?: Tensor },
): Tensor {
  expectDType("tableDequantize", codes, "u32");
  const { groups } = checkGroups("tableDequantize", codes, o.groupSize);
  if (o.decode.size !== groups) {
    throw new RangeError(`tableDequantize: ${o.decode.size} scales for ${groups} groups`);
  }
  const y = Tensor.empty(codes.shape, "f32");
  if (codes.size === 0) return y;
  const WG = 256;
  const byCode = Tensor.fromArray(o.byCode);
  const zero = o.zero ?? o.decode;
  const code = `
struct Params { decode2: f32, useZero: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> C: array<u32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read> Z: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${codes.size}u) { return; }
  let g = i / ${o.groupSize}u;
  let v = V[C[i]];
  if (P.useZero == 1u) { Y[i] = (v - Z[g]) * S[g]; } else { Y[i] = (v * S[g]) * P.decode2; }
}`;
  dispatch(
    "tableDequantize",
    code,
    [codes.buffer, byCode.buffer, o.decode.buffer, zero.buffer, y.buffer],
    new Params().f(o.decode2 ?? 1).u(o.zero ? 1 : 0),
    grid(codes.size, WG),
  );
  byCode.dispose();
  return y;
}

/**
 * MSE-optimal clipping search (symmetric): for each group and each candidate
 * ratio r, the scale is r · amax / maxValue; returns, per group, the index of
 * the ratio with the smallest Σ (x − x̂)² (ties: the first, i.e. the largest r
 * when ratios are given in decreasing order).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { mseClipSearch } from "./quantize.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([0.1, 0.1, 0.1, 1]);
 * using amax = Tensor.fromArray([1]);
 * using best = mseClipSearch(x, { groupSize: 4, table, amax, maxValue: 1, ratios: [1, 0.5, 0.2] });
 * console.log(await best.data()); // Int32Array [0]
 * ```
 */
export function mseClipSearch(
  x: Tensor,
  o: { groupSize: number; table: DecisionTable; amax: Tensor; maxValue: number; ratios: number[] },
): Tensor {
  expectDType("mseClipSearch", x, "f32", "f16");
  const { groups } = checkGroups("mseClipSearch", x, o.groupSize);
  if (o.amax.size !== groups) {
    throw new RangeError(`mseClipSearch: ${o.amax.size} amax values for ${groups} groups`);
  }
  const best = Tensor.empty([groups], "i32");
  if (groups === 0) return best;
  const n = o.table.values.length;
  const T = x.dtype;
  const WG = 64;
  const tbl = Tensor.fromArray(new Float32Array([...o.table.values, ...o.table.thresholds]));
  const ratios = Tensor.fromArray(new Float32Array(o.ratios));
  const code = `${header(T)}
@group(0) @binding(0) var<storage, read> X: array<${T}>;
@group(0) @binding(1) var<storage, read> TBL: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> R: array<f32>;
@group(0) @binding(4) var<storage, read_write> B: array<i32>;
var<workgroup> red: array<f32, ${WG}>;
${tableIndexFn(n)}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u,
    @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let g = wid.x + wid.y * nwg.x;
  if (g >= ${groups}u) { return; }
  let base = g * ${o.groupSize}u;
  var bestErr = 3.4028234e38;
  var bestIdx = 0;
  for (var r = 0u; r < ${o.ratios.length}u; r++) {
    let scale = select(1.0, R[r] * A[g] / ${o.maxValue.toExponential()}, A[g] > 0.0);
    var err = 0.0;
    for (var k = t; k < ${o.groupSize}u; k += ${WG}u) {
      let x = f32(X[base + k]);
      let d = x - TBL[table_index(x / scale)] * scale;
      err += d * d;
    }
    red[t] = err;
    workgroupBarrier();
    for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
      if (t < w) { red[t] += red[t + w]; }
      workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    if (total < bestErr) { bestErr = total; bestIdx = i32(r); }
  }
  if (t == 0u) { B[g] = bestIdx; }
}`;
  dispatch(
    "mseClipSearch",
    code,
    [x.buffer, tbl.buffer, o.amax.buffer, ratios.buffer, best.buffer],
    null,
    grid(groups, 1),
  );
  tbl.dispose();
  ratios.dispose();
  return best;
}

/**
 * Dynamic per-row fake quantization on the GPU, with no readback: each row
 * (a token's activations) gets scale = clipRatio · max|row| / maxValue and
 * every element is rounded through the decision table, then multiplied back.
 * This is the activation side of W8A8 / W4A8 (per-token dynamic scales).
 * Rows that are all zero stay zero; NaN propagates.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { fakeQuantRows } from "./quantize.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([[0.2, -4, 3], [0, 0, 0]]);
 * using y = fakeQuantRows(x, { table, maxValue: 1 });
 * console.log(await y.data()); // Float32Array [0, -4, 4, 0, 0, 0]
 * ```
 */
export function fakeQuantRows(
  x: Tensor,
  o: { table: DecisionTable; maxValue: number; clipRatio?: number },
): Tensor {
  expectDType("fakeQuantRows", x, "f32", "f16");
  const cols = x.shape.at(-1) ?? 1;
  const rows = cols === 0 ? 0 : x.size / cols;
  const y = Tensor.empty(x.shape, x.dtype);
  if (x.size === 0) return y;
  const n = o.table.values.length;
  const T = x.dtype;
  const WG = 128;
  const tbl = Tensor.fromArray(new Float32Array([...o.table.values, ...o.table.thresholds]));
  const code = `${header(T)}
struct Params { factor: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> TBL: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<${T}>;
var<workgroup> red: array<f32, ${WG}>;
${tableIndexFn(n)}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u,
    @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= ${rows}u) { return; }
  let base = row * ${cols}u;
  var m = 0.0;
  for (var k = t; k < ${cols}u; k += ${WG}u) { m = max(m, abs(f32(X[base + k]))); }
  red[t] = m;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] = max(red[t], red[t + w]); }
    workgroupBarrier();
  }
  let scale = select(1.0, red[0] * P.factor, red[0] > 0.0);
  for (var k = t; k < ${cols}u; k += ${WG}u) {
    let x = f32(X[base + k]);
    Y[base + k] = ${T}(select(TBL[table_index(x / scale)] * scale, x, is_nan(x)));
  }
}
${IS_NAN}`;
  dispatch(
    "fakeQuantRows",
    code,
    [x.buffer, tbl.buffer, y.buffer],
    new Params().f((o.clipRatio ?? 1) / o.maxValue),
    grid(rows, 1),
  );
  tbl.dispose();
  return y;
}
