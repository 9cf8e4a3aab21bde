/**
 * Per-group statistics of a tensor's last axis (absmax, min, max, sums,
 * non-finite count and first index) in one pass: what range setting and
 * error reports need before a tensor is quantized.
 *
 * Reference: `tests/reference/quantize.ts` (`groupStatsRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { groupStats } from "./group_stats.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, -3, 2, 0]]);
 * using s = groupStats(x, 2);
 * console.log((await s.data()).slice(0, 3)); // absmax, min, max of [1, -3]: [3, -3, 1]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, header, IS_NAN } from "../ops/wgsl.ts";
import { checkGroups } from "./_wgsl.ts";

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
 * import { groupStats } from "./group_stats.ts";
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
