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
import { type LayerMethod, type LayerResult, type LayerTask, quantizeModel } from "../model.ts";
import { describe, elementFormat, isInt, type Quantizer } from "../quantizer.ts";
import { quantizePass } from "../quantize.ts";
import { withParts } from "../linear.ts";
import { QuantizedWeight, streamFormat } from "../weight.ts";
import { packWeights } from "../../kernels/lowbit/layout.ts";
import type { QuantReport } from "../report.ts";
import type { MethodWrapper } from "./_wrap.ts";

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
  const qt = await quantizePass(q, w, { name });
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

/** A checked layer problem of a coordinate method, with its RTN start (see {@link coordinateStart}). */
export interface CoordinateStart extends Disposable {
  /** The layer's name, for messages. */
  name: string;
  /** The quantizer's integer grid. */
  grid: IntGrid;
  /** Rows (outputs) of the weight. */
  rows: number;
  /** Columns (inputs) of the weight, and the size of H. */
  n: number;
  /** The round-to-nearest start; disposed with this object. */
  start: RtnStart;
  /** Σ(w − ŵ)ᵀH(w − ŵ) of the round-to-nearest start. */
  rtnError: number;
}

/** The layer a coordinate method solves: `w` `[out, in]`, `h` `[in, in]`, integer quantizer `q`. */
export interface CoordinateLayer {
  w: Tensor;
  h: Tensor;
  q: Quantizer;
  /** Name for error messages (default `w.name`, else "weight"). */
  name?: string;
}

/**
 * The first step COMQ and GPFQ share on one layer: checks the quantizer
 * ({@link intGrid}) and that H is `[in, in]`, then takes the round-to-nearest
 * start and its error. Errors name `method` and the layer.
 */
export async function coordinateStart(
  method: string,
  layer: CoordinateLayer,
): Promise<CoordinateStart> {
  const { w, h, q } = layer;
  const name = layer.name ?? w.name ?? "weight";
  const grid = intGrid(q, `${method} ${name}`);
  const [rows, n] = w.shape;
  if (h.shape[0] !== n || h.shape[1] !== n) {
    throw new RangeError(`${method} ${name}: H ${h} must be [${n}, ${n}] for weight ${w}`);
  }
  const start = await rtnStart(q, w, name);
  try {
    const rtnError = await layerError(w, start.weight, h);
    return {
      name,
      grid,
      rows,
      n,
      start,
      rtnError,
      [Symbol.dispose]: () => start[Symbol.dispose](),
    };
  } catch (e) {
    start[Symbol.dispose]();
    throw e;
  }
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
  /** The integer codes c `[out · in]` (as f32) and the scales and zeros behind ŵ = (c − z)·s. */
  grid?: { codes: Float32Array; scales: Float32Array; zeros: Float32Array; groupSize: number };
}

/**
 * The {@link QuantizedWeight} of a solution on an integer grid: codes stored
 * as `quantize` stores them (two's complement for symmetric, unsigned with
 * zero points for asymmetric), so it dequantizes to the solution's ŵ.
 */
export function gridWeight(
  q: Quantizer,
  shape: readonly number[],
  grid: NonNullable<LayerSolution["grid"]>,
): QuantizedWeight {
  const fmt = elementFormat(q.format);
  const mask = (1 << fmt.bits) - 1;
  const codes = Uint32Array.from(grid.codes, (c) => (q.symmetric ? c & mask : c));
  return new QuantizedWeight({
    quantizer: q,
    shape,
    groupSize: grid.groupSize,
    codes: packWeights(codes, shape, streamFormat(fmt.bits)),
    scales: grid.scales,
    zeros: q.symmetric ? undefined : grid.zeros,
  });
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

/** A Hessian method's own facts (COMQ, GPFQ), in its report's `details`. */
export interface HessianQuantDetails {
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
 * One layer of a Hessian method on the integer grid, for the driver: the
 * solver's ŵ (and its codes), with the errors relative to ‖WXᵀ‖² as report fields.
 */
export async function solveOnGrid(
  t: LayerTask,
  solve: (w: Tensor, h: Tensor, q: Quantizer, name: string) => Promise<LayerSolution>,
): Promise<LayerResult> {
  const w = t.layer.weight, h = t.hessian!;
  const sol = await solve(w, h, t.quantizer, t.name);
  const base = await energy(w, h);
  const codes = sol.grid ? gridWeight(sol.quantizer, sol.weight.shape, sol.grid) : undefined;
  const linear = withParts(t.layer, { codes, values: sol.weight, quantizer: sol.quantizer }, {
    act: t.act,
  });
  const errors = { relError: sol.error / base, rtnRelError: sol.rtnError / base };
  return { linear, facts: { errors } };
}

/** A model-level driver of a Hessian method: `(model, q, options)`, `q` one quantizer or a rule. */
export type SequentialDriver<O> = MethodWrapper<
  O,
  HessianQuantDetails,
  Quantizer | ((name: string) => Quantizer | null)
>;

/**
 * The model-level driver of the registered Hessian method `method` ("comq",
 * "gpfq") through `quantizeModel`: H of each distinct input is accumulated
 * from the calibration windows, layer by layer, each layer calibrated on the
 * already-quantized layers' outputs; `options` go to the method whole.
 */
export function sequentialDriver<O extends SequentialOptions>(method: string): SequentialDriver<O> {
  return async (model, q, options) =>
    await quantizeModel(model, {
      method,
      quantizer: q,
      act: options.act,
      skip: options.skip,
      calibration: { sequences: options.calibration },
      options: { ...options } as Record<string, unknown>,
      progress: options.progress ?? false,
    }) as QuantReport<HessianQuantDetails>;
}

/** The registry record of a Hessian method on the integer grid (see {@link solveOnGrid}). */
export function gridMethod(
  name: string,
  solver: (
    t: LayerTask,
  ) => (w: Tensor, h: Tensor, q: Quantizer, name: string) => Promise<LayerSolution>,
): LayerMethod {
  return { name, needs: ["hessian"], solve: (t) => solveOnGrid(t, solver(t)) };
}
