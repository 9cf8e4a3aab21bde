/**
 * GPFQ — greedy path-following quantization.
 *
 * J. Zhang, Y. Zhou, R. Saab, "Post-training Quantization for Neural Networks
 * with Provable Guarantees", 2022 (arXiv:2201.11113), after E. Lybrand and
 * R. Saab, "A Greedy Algorithm for Quantizing Neural Networks", JMLR 2021.
 *
 * Each neuron w ∈ ℝᴺ (a row of the weight) is quantized one input at a time,
 * t = 1..N, so that the running error u_t = Σ_{j≤t} (w_j − q_j) X_j of the
 * layer's output (X_j: the j-th input feature over the calibration samples)
 * stays small:
 *
 *   u₀ = 0
 *   q_t = Q( ⟨X_t, u_{t−1} + w_t X_t⟩ / ‖X_t‖² )
 *   u_t = u_{t−1} + w_t X_t − q_t X_t
 *
 * with Q rounding to the alphabet (here: the quantizer's integer grid with its
 * round-to-nearest scale per row or group). Since ⟨X_t, u_{t−1}⟩ =
 * Σ_{j<t} (w_j − q_j)·H_{jt} with H = XᵀX, the same step reads
 * q_t = Q(w_t + (H(w − q̃))_t / H_tt), where q̃ holds q_j for j < t and w_j
 * for j ≥ t: a single pass of the coordinate sweep of
 * `kernels/ops/coordinate.ts` started from q̃ = w, with g = H(w − q̃) = 0.
 * An input with ‖X_t‖ = 0 is rounded to nearest.
 *
 * @example
 * ```ts
 * import { initGPU, int, ops, Tensor } from "../../mod.ts";
 * import { gpfqLayer } from "./gpfq.ts";
 * await initGPU();
 * using x = Tensor.randn([64, 32], { seed: 1 });
 * using h = ops.matmul(x, x, { transA: true }); // XᵀX
 * using w = Tensor.randn([8, 32], { seed: 2 });
 * const r = await gpfqLayer(w, h, int(3, { group: 16 }));
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
  type SequentialDriver,
  sequentialDriver,
  type SequentialOptions,
} from "./_coordinate.ts";
import type { LayerMethod } from "../model.ts";

/** Options of {@link gpfqLayer}. */
export interface GpfqOptions {
  /** The order t = 1..N of the inputs (a permutation of 0..N−1); default the natural order. */
  order?: Uint32Array;
  /** Name for error messages. */
  name?: string;
}

/**
 * GPFQ on one layer: `w` `[out, in]`, `h` = XᵀX (any positive multiple)
 * `[in, in]`, integer quantizer `q` (its round-to-nearest scales are the
 * alphabet's step). Returns the quantized weight (owned by the caller) and
 * Σ(w − q)ᵀH(w − q) for GPFQ and for RTN.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { gpfqLayer } from "./gpfq.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.3, 0.3, -1]]);
 * using h = Tensor.fromArray([[1, 1, 0], [1, 1, 0], [0, 0, 1]]); // X₀ = X₁
 * const r = await gpfqLayer(w, h, int(2, { per: "channel" }));
 * // q₀ = Q(0.3) = 0, then q₁ = Q(0.3 + 0.3) = 1: the pair sums to 1 ≈ 0.6
 * console.log(await r.weight.data(), r.rtnError.toFixed(2), r.error.toFixed(2)); // [0, 1, -1] 0.36 0.16
 * r.weight.dispose();
 * ```
 */
export async function gpfqLayer(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  options: GpfqOptions = {},
): Promise<LayerSolution> {
  // the alphabet: the quantizer's grid with its round-to-nearest scales
  using c = await coordinateStart("gpfq", { w, h, q, name: options.name });
  const { grid, rows, n, start, rtnError } = c;
  const groups = n / start.groupSize;
  using s = Tensor.fromArray(start.scales, [rows, groups]);
  using z = Tensor.fromArray(start.zeros, [rows, groups]);
  // u₀ = 0: start from q̃ = w, so g = H(w − q̃) = 0; then one pass t = 1..N
  using u0 = Tensor.zeros([rows, n]);
  const r = coordinateSweep({
    weight: w,
    grad: u0,
    hessian: h,
    scales: s,
    zeros: z,
    groupSize: start.groupSize,
    qmin: grid.qmin,
    qmax: grid.qmax,
    order: options.order,
  });
  r.grad.dispose();
  try {
    const codes = await r.codes.data() as Float32Array;
    r.codes.dispose();
    const error = await layerError(w, r.weight, h);
    const grid = { codes, scales: start.scales, zeros: start.zeros, groupSize: start.groupSize };
    return { weight: r.weight, quantizer: q, error, rtnError, grid };
  } catch (e) {
    r.weight.dispose();
    r.codes.dispose();
    throw e;
  }
}

/** Options of {@link gpfq}: calibration and the per-layer {@link GpfqOptions}. */
export interface GpfqModelOptions extends SequentialOptions {}

/**
 * Quantizes every decoder linear of `model` in place with GPFQ, one decoder
 * layer at a time (each layer calibrated on the already-quantized layers'
 * outputs, as the paper quantizes layer ℓ with the quantized network's
 * inputs X̃^{(ℓ−1)}; here H = X̃ᵀX̃, the paper's variant that uses the
 * full-precision X for ⟨X_t, ·⟩ is not implemented).
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { calibrationSequences } from "../../model/capture.ts";
 * import { gpfq } from "./gpfq.ts";
 * await initGPU();
 * using model = await loadModel();
 * const text = await Deno.readTextFile(new URL("../../data/corpus/train.txt", import.meta.url));
 * const calibration = calibrationSequences(text, { n: 2, seqLen: 32 });
 * const report = await gpfq(model, int(4, { group: 32 }), { calibration, layers: 1 });
 * console.log(report.layers.length, report.bitsPerWeight.toFixed(3)); // 7 4.500
 * ```
 */
export const gpfq: SequentialDriver<GpfqModelOptions> = sequentialDriver("gpfq");

/** GPFQ's record in the method registry (natural order, as the model-level driver always ran it). */
export const GPFQ: LayerMethod = gridMethod(
  "gpfq",
  () => (w, h, q, name) => gpfqLayer(w, h, q, { name }),
);
