/**
 * The MSE-optimal clipping ratio of each group against a decision table,
 * searched on the GPU over a list of candidate ratios.
 *
 * Reference: `tests/reference/quantize.ts` (`mseClipSearchRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { mseClipSearch } from "./mse_clip.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([0.4, 0.4, 0.4, 1]);
 * using amax = Tensor.fromArray([1]);
 * using best = mseClipSearch(x, { groupSize: 4, table, amax, maxValue: 1, ratios: [1, 0.5] });
 * console.log(await best.data()); // Int32Array [1]: clipping to 0.5 keeps the three 0.4s
 * ```
 * @module
 */
import { dispatch, grid } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { expectDType, header } from "../ops/wgsl.ts";
import { checkGroups, tableIndexFn } from "./_wgsl.ts";
import type { DecisionTable } from "./decision_table.ts";

/**
 * MSE-optimal clipping search (symmetric): for each group and each candidate
 * ratio r, the scale is r · amax / maxValue; returns, per group, the index of
 * the ratio with the smallest Σ (x − x̂)² (ties: the first, i.e. the largest r
 * when ratios are given in decreasing order).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { mseClipSearch } from "./mse_clip.ts";
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
