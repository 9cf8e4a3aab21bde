/**
 * Shared pieces of the Hessian-driven coordinate methods (COMQ, GPFQ): the
 * integer grid of a quantizer, the round-to-nearest start, the layer-wise
 * error (w − ŵ)ᵀH(w − ŵ) summed over rows, and the model-level driver that
 * collects H = 2/n·XᵀX of every linear input one decoder layer at a time
 * (`captureLayerInputs`), quantizes the layer from it, and lets the next layer
 * calibrate on the quantized layer's outputs (as GPTQ does).
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { layerError } from "./_coordinate.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 2]]);
 * using wq = Tensor.fromArray([[1, 1]]);
 * using h = Tensor.fromArray([[1, 0], [0, 3]]);
 * console.log(await layerError(w, wq, h)); // 3
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { mul, sub } from "../../kernels/ops/elementwise.ts";
import { matmul } from "../../kernels/ops/matmul.ts";
import { sumAll } from "../../kernels/ops/reduce.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { HessianObserver } from "../calib/hessian.ts";
import { quantError } from "../metrics.ts";
import { describe, elementFormat, isInt, type Quantizer } from "../quantizer.ts";
import { quantize } from "../quantize.ts";
import { fromDequantized, type WeightedLinear } from "../linear.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

/** The integer grid of a quantizer: codes c ∈ [qmin, qmax], ŵ = (c − z)·s per group. */
export interface IntGrid {
  /** Smallest integer code. */
  qmin: number;
  /** Largest integer code. */
  qmax: number;
  /** Columns per scale group of a weight with `cols` inputs. */
  groupSize: (cols: number) => number;
}

/** Checks that `q` is an integer quantizer these methods can move along (nearest rounding,
 * per channel, per tensor or per group along the input). */
export function intGrid(q: Quantizer, method: string): IntGrid {
  const fmt = elementFormat(q.format);
  if (!isInt(fmt)) {
    throw new RangeError(
      `${method}: needs an integer quantizer (int(b, …)); got format ${q.format}`,
    );
  }
  if (q.rounding.kind !== "nearest") {
    throw new RangeError(
      `${method}: moves weights along the integer grid itself and has no stochastic rounding; ` +
        `use rounding { kind: "nearest" } (got ${describe(q)})`,
    );
  }
  const g = q.granularity;
  if (g.kind === "token" || (g.kind === "channel" && g.axis === 1)) {
    throw new RangeError(
      `${method}: weight scales must be per output channel, per tensor or per group of inputs`,
    );
  }
  return {
    qmin: fmt.qmin,
    qmax: fmt.qmax,
    groupSize: (cols) => g.kind === "group" ? g.size : cols,
  };
}

/** Round-to-nearest start: ŵ, and per-row group scales and zeros `[rows · groups]`. */
export interface RtnStart extends Disposable {
  /** The round-to-nearest weight `[rows, cols]`. */
  weight: Tensor;
  /** Per row and group scales `[rows · groups]`. */
  scales: Float32Array;
  /** Per row and group integer zero points (0 when symmetric). */
  zeros: Float32Array;
  /** Columns per group. */
  groupSize: number;
}

/** Quantizes `w` `[rows, cols]` with `q` (its range setting) and expands scales to one per row and group. */
export async function rtnStart(q: Quantizer, w: Tensor, name: string): Promise<RtnStart> {
  const [rows, cols] = w.shape;
  const qt = await quantize(q, w, { name });
  const groupSize = q.granularity.kind === "group" ? q.granularity.size : cols;
  const groups = cols / groupSize;
  const scales = new Float32Array(rows * groups);
  const zeros = new Float32Array(rows * groups);
  const shared = qt.scales.length === 1 && rows * groups > 1; // per tensor
  for (let i = 0; i < rows * groups; i++) {
    scales[i] = qt.scales[shared ? 0 : i] * qt.tensorScale;
    zeros[i] = qt.zeros ? qt.zeros[shared ? 0 : i] : 0;
  }
  qt.codes.dispose();
  const weight = qt.dequantized;
  return {
    weight,
    scales,
    zeros,
    groupSize,
    [Symbol.dispose]: () => weight.dispose(),
  };
}

/** G = (W − Ŵ)·H `[rows, n]`, the gradient of ½‖X(w − ŵ)‖² per row (up to sign). */
export function residualGrad(w: Tensor, wq: Tensor, h: Tensor): Tensor {
  using r = sub(w, wq);
  return matmul(r, h);
}

/**
 * Σ_rows (w − ŵ)ᵀH(w − ŵ): with H = XᵀX the squared reconstruction error ‖(W − Ŵ)Xᵀ‖²_F.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { layerError } from "./_coordinate.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 0], [0, 1]]);
 * using z = Tensor.zeros([2, 2]);
 * using h = Tensor.fromArray([[2, 0], [0, 2]]);
 * console.log(await layerError(w, z, h)); // 4
 * ```
 */
export async function layerError(w: Tensor, wq: Tensor, h: Tensor): Promise<number> {
  using r = sub(w, wq);
  return await energy(r, h);
}

/** Σ_rows rᵀHr of `r` `[rows, n]`. */
async function energy(r: Tensor, h: Tensor): Promise<number> {
  using rh = matmul(r, h);
  using p = mul(r, rh);
  using s = sumAll(p);
  return await s.item();
}

/** What one layer's solver returns. */
export interface LayerSolution {
  /** The quantized (dequantized) weight `[out, in]`, owned by the caller. */
  weight: Tensor;
  /** The quantizer whose storage cost applies (scales may have been re-fitted). */
  quantizer: Quantizer;
  /** Σ (w − ŵ)ᵀH(w − ŵ) of the solution. */
  error: number;
  /** The same for round-to-nearest with the quantizer. */
  rtnError: number;
}

/** Per-layer errors of a Hessian-driven method, relative to ‖WXᵀ‖². */
export interface LayerErrorRow {
  /** Layer (or point) name. */
  name: string;
  /** (w − ŵ)ᵀH(w − ŵ) / wᵀHw of the method, summed over rows. */
  relError: number;
  /** The same for round-to-nearest. */
  rtnRelError: number;
}

/** A {@link QuantReport} with the layer-wise reconstruction errors. */
export interface HessianQuantReport extends QuantReport {
  /** One row per quantized layer, in order. */
  errors: LayerErrorRow[];
}

/** Options of the model-level drivers (`comq`, `gpfq`). */
export interface SequentialOptions {
  /** Calibration windows (equal length), e.g. `calibrationSequences(text, { n: 8, seqLen: 128 })`. */
  calibration: readonly ArrayLike<number>[];
  /** Per-token activation quantizer (W8A8, W4A8); the calibration sees float activations. */
  act?: Quantizer;
  /** Layers to leave in full precision. */
  skip?: string[];
  /** Show a progress bar (default false). */
  progress?: boolean | string;
  /** Quantize only the first `layers` decoder layers (default all). */
  layers?: number;
}

/**
 * Quantizes every decoder linear of `model` in place, layer by layer: H of
 * each distinct input (q/k/v share one, gate/up another) is accumulated from
 * the calibration windows, `solve` returns the new weight, and the layer's
 * outputs are recomputed before the next layer is calibrated.
 */
export async function sequentialQuantize(
  model: LlamaModel,
  q: Quantizer | ((name: string) => Quantizer | null),
  solve: (w: Tensor, h: Tensor, q: Quantizer, name: string) => Promise<LayerSolution>,
  options: SequentialOptions,
): Promise<HessianQuantReport> {
  const choose = typeof q === "function" ? q : () => q;
  const layers: QuantReport["layers"] = [];
  const errors: LayerErrorRow[] = [];
  // one observer per distinct input tensor (per layer); aliases share it
  const byTensor = new Map<Tensor, HessianObserver>();
  const byName = new Map<string, HessianObserver>();
  await captureLayerInputs(model, options.calibration, {
    progress: options.progress ?? false,
    layers: options.layers,
    onLinearInput: (name, x) => {
      if (options.skip?.includes(name) || !choose(name)) return;
      let obs = byTensor.get(x);
      if (!obs) {
        obs = byName.get(name) ?? new HessianObserver(name);
        obs.observe(x);
        byTensor.set(x, obs);
      }
      byName.set(name, obs);
    },
    afterLayer: async (layer) => {
      byTensor.clear();
      const hessians = new Map<HessianObserver, Tensor>();
      try {
        for (const [name, lin] of model.linears({ layer })) {
          const obs = byName.get(name);
          const quantizer = choose(name);
          if (!obs || !quantizer) continue;
          let h = hessians.get(obs);
          if (!h) {
            h = await obs.finish();
            hessians.set(obs, h);
          }
          const dense = lin as WeightedLinear;
          if (!dense.weight) {
            throw new TypeError(`layer ${name} has no float weight (already quantized?)`);
          }
          const sol = await solve(dense.weight, h, quantizer, name);
          const base = await energy(dense.weight, h);
          const ql = fromDequantized(dense, sol.weight, sol.quantizer, { act: options.act });
          const err = await quantError(dense.weight, ql.weight);
          layers.push({
            name,
            out: ql.outFeatures,
            in: ql.inFeatures,
            bitsPerWeight: ql.bitsPerWeight,
            sqnrDb: err.sqnr,
          });
          errors.push({
            name,
            relError: sol.error / base,
            rtnRelError: sol.rtnError / base,
          });
          model.setLinear(name, ql);
        }
      } finally {
        for (const h of hessians.values()) h.dispose();
        byName.clear();
      }
    },
  });
  return { layers, errors, bitsPerWeight: meanBitsPerWeight(layers) };
}
