/**
 * COMQ — coordinate-wise minimisation of the layer-wise reconstruction error.
 *
 * A. Zhang, Z. Yang, N. Wang, Y. Qi, J. Xin, X. Li, P. Yin, "COMQ: A
 * Backpropagation-Free Algorithm for Post-Training Quantization", 2024
 * (arXiv:2403.07134).
 *
 * Each row w of a layer is quantized as ŵ = δ ⊙ Q (an integer bit-code Q and a
 * floating-point scale δ per row or group). COMQ minimises the layer-wise
 * error ‖X(w − δQ)‖² = (w − δQ)ᵀH(w − δQ), H = XᵀX, over every bit-code and
 * every scale, one coordinate at a time with all others fixed; each step is a
 * dot product and a rounding:
 *
 *   0. δ⁰ from the quantizer's range setting, Q⁰ = round(w / δ⁰)     (RTN start)
 *   1. order the coordinates greedily: |wᵢ|·‖Xᵢ‖ = |wᵢ|·√Hᵢᵢ descending
 *   2. for k = 1..K:
 *        for i in that order:  Qᵢ ← clamp(round(Qᵢ + (H(w − δQ))ᵢ / (δ Hᵢᵢ)))
 *        for each group g:     δ_g ← δ_g + ⟨Q_g, H(w − δQ)⟩ / (Q_gᵀ H Q_g)
 *
 * The bit-code pass runs on the GPU (`kernels/ops/coordinate.ts`, one
 * workgroup per row, H(w − δQ) kept up to date by rank-1 corrections); the
 * scale pass is a few dot products per group on the CPU; H comes from
 * `HessianObserver` (2/n·XᵀX: the factor does not change any minimiser). With
 * zero points (asymmetric int) the code is Q − z and z stays fixed. Scales are
 * rounded to the quantizer's scale format (f16) after each update, so the
 * stored bits per weight are those of the quantizer.
 *
 * @example
 * ```ts
 * import { initGPU, int, ops, Tensor } from "../../mod.ts";
 * import { comqLayer } from "./comq.ts";
 * await initGPU();
 * using x = Tensor.randn([64, 32], { seed: 1 });
 * using h = ops.matmul(x, x, { transA: true }); // XᵀX
 * using w = Tensor.randn([8, 32], { seed: 2 });
 * const r = await comqLayer(w, h, int(3, { group: 16 }));
 * console.log(r.error < r.rtnError); // true
 * r.weight.dispose();
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { coordinateSweep } from "../../kernels/ops/coordinate.ts";
import type { Quantizer } from "../quantizer.ts";
import {
  coordinateStart,
  gridMethod,
  layerError,
  type LayerSolution,
  residualGrad,
  type SequentialDriver,
  sequentialDriver,
  type SequentialOptions,
} from "./_coordinate.ts";
import type { LayerMethod } from "../model.ts";

export type {
  HessianQuantDetails,
  LayerErrorRow,
  LayerSolution,
  SequentialDriver,
  SequentialOptions,
} from "./_coordinate.ts";

/** Options of {@link comqLayer}. */
export interface ComqOptions {
  /** Iterations K over all bit-codes (and scales). Default 3. */
  iterations?: number;
  /** "greedy" (|wᵢ|·√Hᵢᵢ descending, per row; the paper's) or "natural" (0..n−1). Default "greedy". */
  order?: "greedy" | "natural";
  /** Update the scales after each bit-code pass. Default true (not for per-tensor scales). */
  updateScales?: boolean;
  /** Name for error messages. */
  name?: string;
}

/**
 * COMQ on one layer: `w` `[out, in]`, `h` = XᵀX (any positive multiple)
 * `[in, in]`, integer quantizer `q`. Returns the quantized weight (owned by
 * the caller) and Σ(w − ŵ)ᵀH(w − ŵ) for COMQ and for RTN.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { comqLayer } from "./comq.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.3, 0.3, -1]]);
 * using h = Tensor.fromArray([[1, 1, 0], [1, 1, 0], [0, 0, 1]]); // inputs 0 and 1 are equal
 * const r = await comqLayer(w, h, int(2, { per: "channel" }), { updateScales: false });
 * console.log(r.rtnError.toFixed(2), r.error.toFixed(2)); // 0.36 0.16
 * r.weight.dispose();
 * ```
 */
export async function comqLayer(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  options: ComqOptions = {},
): Promise<LayerSolution> {
  // 0. RTN start: δ⁰ by the quantizer's range setting, Q⁰ = round(w/δ⁰)
  using c = await coordinateStart("comq", { w, h, q, name: options.name });
  const { grid, rows, n, start, rtnError } = c;
  const iterations = options.iterations ?? 3;
  const updateScales = (options.updateScales ?? true) && q.granularity.kind !== "tensor";
  const groupSize = start.groupSize;
  const groups = n / groupSize;
  const delta = start.scales;
  using z = Tensor.fromArray(start.zeros, [rows, groups]);

  // 1. the greedy order: |w_i|·‖X_i‖ descending, per row
  const hv = Float64Array.from(await h.data());
  const order = options.order === "natural" ? undefined : greedyOrder(await w.data(), hv, rows, n);

  // 2. K passes over bit-codes (GPU) and scales (CPU)
  let wq = start.weight.reshape(start.weight.shape); // a view: start keeps the buffer
  let g = residualGrad(w, wq, h);
  let lastCodes: Float32Array | undefined;
  try {
    for (let k = 0; k < iterations; k++) {
      using s = Tensor.fromArray(delta, [rows, groups]);
      const swept = coordinateSweep({
        weight: wq,
        grad: g,
        hessian: h,
        scales: s,
        zeros: z,
        groupSize,
        qmin: grid.qmin,
        qmax: grid.qmax,
        order,
      });
      wq.dispose();
      g.dispose();
      wq = swept.weight;
      g = swept.grad;
      using codes = swept.codes;
      if (!updateScales) {
        if (k === iterations - 1) lastCodes = await codes.data() as Float32Array;
        continue;
      }
      const Q = await codes.data() as Float32Array;
      lastCodes = Q;
      const G = Float64Array.from(await g.data());
      const zeros = start.zeros;
      const wNew = updateScaleStep(Q, zeros, G, hv, delta, rows, n, groupSize, q.scale);
      wq.dispose();
      g.dispose();
      wq = Tensor.fromArray(wNew, [rows, n]);
      g = Tensor.fromArray(Float32Array.from(G), [rows, n]);
    }
    const error = await layerError(w, wq, h);
    g.dispose();
    // the codes with the final scales (after no sweep: none, the values are RTN's)
    const codes = lastCodes &&
      { codes: lastCodes, scales: delta, zeros: start.zeros, groupSize };
    return { weight: wq, quantizer: q, error, rtnError, grid: codes };
  } catch (e) {
    wq.dispose();
    g.dispose();
    throw e;
  }
}

/** Per row, the coordinates sorted by |w_i|·√H_ii descending (ties by index). */
function greedyOrder(w: ArrayLike<number>, h: Float64Array, rows: number, n: number): Uint32Array {
  const order = new Uint32Array(rows * n);
  const key = new Float64Array(n);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < n; i++) {
      key[i] = Math.abs(w[r * n + i]) * Math.sqrt(Math.max(h[i * n + i], 0));
    }
    idx.sort((a, b) => key[b] - key[a] || a - b);
    order.set(idx, r * n);
  }
  return order;
}

/**
 * The scale coordinates, one group at a time: δ_g ← δ_g + ⟨u, g⟩ / uᵀHu with
 * u = (Q − z) on group g and g = H(w − ŵ) of the row, which then gets the
 * rank-1 correction g ← g − Δδ·Hu. Updates `delta` and `G` in place and
 * returns the new ŵ.
 */
function updateScaleStep(
  Q: Float32Array,
  zeros: Float32Array,
  G: Float64Array,
  h: Float64Array,
  delta: Float32Array,
  rows: number,
  n: number,
  groupSize: number,
  scaleFormat: Quantizer["scale"],
): Float32Array {
  const groups = n / groupSize;
  const hu = new Float64Array(n);
  const wq = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const row = r * n;
    for (let gi = 0; gi < groups; gi++) {
      const z = zeros[r * groups + gi];
      const c0 = gi * groupSize;
      hu.fill(0);
      for (let j = c0; j < c0 + groupSize; j++) {
        const u = Q[row + j] - z;
        if (u === 0) continue;
        for (let i = 0; i < n; i++) hu[i] += h[j * n + i] * u;
      }
      let num = 0, den = 0;
      for (let j = c0; j < c0 + groupSize; j++) {
        const u = Q[row + j] - z;
        num += u * G[row + j];
        den += u * hu[j];
      }
      if (!(den > 0)) continue;
      const old = delta[r * groups + gi];
      const next = storeScale(old + num / den, scaleFormat);
      if (!(next > 0) || !Number.isFinite(next)) continue;
      const step = next - old;
      delta[r * groups + gi] = next;
      for (let i = 0; i < n; i++) G[row + i] -= step * hu[i];
    }
    for (let j = 0; j < n; j++) {
      const gi = Math.floor(j / groupSize);
      wq[row + j] = (Q[row + j] - zeros[r * groups + gi]) * delta[r * groups + gi];
    }
  }
  return wq;
}

/** A scale rounded to its storage format, as `quantize` stores it. */
function storeScale(s: number, format: Quantizer["scale"]): number {
  if (format === "f16") return Float16Array.of(s)[0];
  return Math.fround(s);
}

/** Options of {@link comq}: calibration and the per-layer {@link ComqOptions}. */
export interface ComqModelOptions extends SequentialOptions, ComqOptions {}

/**
 * Quantizes every decoder linear of `model` in place with COMQ, one decoder
 * layer at a time (each layer calibrated on the already-quantized layers'
 * outputs).
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { calibrationSequences } from "../../model/capture.ts";
 * import { comq } from "./comq.ts";
 * await initGPU();
 * using model = await loadModel();
 * const text = await Deno.readTextFile(new URL("../../data/corpus/train.txt", import.meta.url));
 * const calibration = calibrationSequences(text, { n: 2, seqLen: 32 });
 * // the first decoder layer only, to keep the example short
 * const report = await comq(model, int(4, { group: 32 }), { calibration, layers: 1 });
 * const { errors } = report.details;
 * console.log(report.layers.length, errors.every((e) => e.relError <= e.rtnRelError)); // 7 true
 * ```
 */
export const comq: SequentialDriver<ComqModelOptions> = sequentialDriver("comq");

/** COMQ's record in the method registry (options: {@link ComqOptions}). */
export const COMQ: LayerMethod = gridMethod(
  "comq",
  (t) => (w, h, q, name) => comqLayer(w, h, q, { ...t.options as ComqOptions, name }),
);
