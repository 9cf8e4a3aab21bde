/**
 * OneBit's weight decomposition and its SVID initialisation, as a PTQ method.
 *
 * Y. Xu, X. Han, Z. Yang, S. Wang, Q. Zhu, Z. Liu, W. Liu, W. Che, "OneBit:
 * Towards Extremely Low-bit Large Language Models", NeurIPS 2024,
 * arXiv:2402.11295 (§3.2 the 1-bit linear layer, §3.3 Sign-Value-Independent
 * Decomposition). A weight W ∈ ℝ^{out×in} is stored as one sign matrix and two
 * f16 value vectors:
 *
 *   Ŵ = diag(a) · sign(W) · diag(b),   y = ((x ⊙ b) · sign(W)ᵀ) ⊙ a
 *
 * SVID (the initialisation):
 *   1. S = sign(W)               (sign(0) = +1, the binary format's rule)
 *   2. |W| ≈ u·σ·vᵀ              (the leading singular triple of |W|)
 *   3. a = √σ·u, b = √σ·v         (both ≥ 0: |W| is non-negative)
 *   4. Ŵ = S ⊙ (a·bᵀ)
 *
 * The registered method (`quantizeModel(model, { method: "onebit" })`) is the
 * initialisation alone: a post-training quantizer needing no data. The
 * paper's second stage, knowledge distillation with the 1-bit layer trained,
 * is `quant/qat/onebit_linear.ts` and `quant/qat/onebit_distill.ts`.
 *
 * Departures: the leading singular pair is found by power iteration in f64 on
 * the CPU (|W| is non-negative, so it starts from a positive vector and stays
 * in the positive cone), not by a library SVD; a and b are rounded to f16, as
 * the paper stores them. Storage: 1 bit per weight + 16·(in + out)/(in·out)
 * for the two vectors. The layer runs on the packed binary kernel: codes =
 * sign bits with decode scales a (one per row), and b as an input transform
 * (per-channel scales x ← x ⊙ b); see `quant/linear.ts`.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { loadModel } from "../../model/load.ts";
 * import { onebit } from "./onebit.ts";
 * await initGPU();
 * using model = await loadModel();
 * const r = await onebit(model); // = quantizeModel(model, { method: "onebit", quantizer: ONEBIT_QUANTIZER })
 * console.log(r.layers.length, r.bitsPerWeight.toFixed(3)); // 28 1.198
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { packWeights } from "../../kernels/lowbit/layout.ts";
import { binary, type Quantizer } from "../quantizer.ts";
import { type QuantLinear, type WeightedLinear, withParts } from "../linear.ts";
import { QuantizedWeight } from "../weight.ts";
import { type LayerMethod, quantizeModel } from "../model.ts";
import type { LlamaModel } from "../../model/llama.ts";
import type { QuantReport } from "../report.ts";

/** The quantizer OneBit's codes are described by: binary, one f16 scale (a) per row. */
export const ONEBIT_QUANTIZER: Quantizer = binary({ per: "channel", scale: "f16" });

/** OneBit's storage bits per weight of an `[out, in]` layer: 1 + 16·(in + out)/(in·out). */
export function oneBitBits(out: number, inF: number): number {
  return 1 + (16 * (inF + out)) / (inF * out);
}

/** The SVID of a weight: the value vectors a `[out]`, b `[in]` and σ of |W|. */
export interface Svid {
  /** Output (row) values a = √σ·u, rounded to f16. */
  a: Float32Array;
  /** Input (column) values b = √σ·v, rounded to f16. */
  b: Float32Array;
  /** The leading singular value of |W|. */
  sigma: number;
  /** Power iterations used. */
  iterations: number;
}

/**
 * SVID (step 2–3): the rank-1 fit a·bᵀ ≈ |W| of a row-major weight `[rows,
 * cols]` by power iteration in f64 (until the singular value changes by less
 * than `tol` relative, at most `maxIterations`). Throws on NaN/Inf, naming
 * `name`. An all-zero weight gives a = b = 0.
 *
 * @example
 * ```ts
 * import { svid } from "./onebit.ts";
 * const { a, b } = svid(Float32Array.from([2, -4, -1, 2]), 2, 2); // |W| = [2 4; 1 2], rank 1
 * console.log(Array.from(a, (x, i) => (x * b[1 - i]).toFixed(2))); // [ "4.00", "1.00" ]
 * ```
 */
export function svid(
  w: ArrayLike<number>,
  rows: number,
  cols: number,
  options: { maxIterations?: number; tol?: number; name?: string } = {},
): Svid {
  const name = options.name ?? "svid";
  if (w.length !== rows * cols) {
    throw new RangeError(`${name}: ${w.length} values do not make a [${rows}, ${cols}] weight`);
  }
  const abs = new Float64Array(rows * cols);
  for (let i = 0; i < abs.length; i++) {
    if (!Number.isFinite(w[i])) {
      throw new RangeError(
        `${name}: element [${Math.floor(i / cols)}, ${i % cols}] is ${w[i]}; OneBit needs a ` +
          `finite weight (find where the NaN/Inf came from before quantizing)`,
      );
    }
    abs[i] = Math.abs(w[i]);
  }
  const maxIt = options.maxIterations ?? 200, tol = options.tol ?? 1e-12;
  // start: the column means of |W| (positive whenever |W| ≠ 0)
  let v = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) v[c] += abs[r * cols + c];
  const u = new Float64Array(rows);
  let sigma = 0, it = 0;
  const normalize = (x: Float64Array) => {
    let n = 0;
    for (const t of x) n += t * t;
    n = Math.sqrt(n);
    if (n > 0) { for (let i = 0; i < x.length; i++) x[i] /= n; }
    return n;
  };
  if (normalize(v) > 0) {
    for (it = 1; it <= maxIt; it++) {
      // u = |W|·v / ‖·‖, v = |W|ᵀ·u / ‖·‖ = σ
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += abs[r * cols + c] * v[c];
        u[r] = s;
      }
      normalize(u);
      const next = new Float64Array(cols);
      for (let r = 0; r < rows; r++) {
        const ur = u[r];
        for (let c = 0; c < cols; c++) next[c] += abs[r * cols + c] * ur;
      }
      const s = normalize(next);
      v = next;
      const done = Math.abs(s - sigma) <= tol * s;
      sigma = s;
      if (done) break;
    }
  }
  const root = Math.sqrt(sigma);
  return {
    a: Float32Array.from(Float16Array.from(u, (x) => root * x)),
    b: Float32Array.from(Float16Array.from(v, (x) => root * x)),
    sigma,
    iterations: Math.min(it, maxIt),
  };
}

/** The parts of a OneBit layer, all f32 on the CPU. */
export interface OneBitFactors {
  /** `[out, in]` row-major, one per weight: 0 = +1, 1 = −1. */
  signs: Uint8Array;
  /** Output values `[out]`. */
  a: Float32Array;
  /** Input values `[in]`. */
  b: Float32Array;
}

/**
 * A {@link QuantLinear} from OneBit factors: the codes (sign bits, decode
 * scale a per row), the input transform (scales b) and, unless `packed`, the
 * fake-quant values Ŵ = a_r · s_rc · b_c in f32; the bias is shared from
 * `layer` as a view. The layer packs (`pack()`), saves and loads like any
 * QuantLinear.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { DenseLinear } from "../../model/linear.ts";
 * import { oneBitLayer } from "./onebit.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.zeros([2, 3]));
 * const f = { signs: Uint8Array.of(0, 1, 0, 1, 1, 0), a: Float32Array.of(1, 2), b: Float32Array.of(1, 0.5, 2) };
 * using q = oneBitLayer(dense, f);
 * console.log(await q.weight!.data()); // Float32Array [1, -0.5, 2, -2, -1, 4]
 * ```
 */
export function oneBitLayer(
  layer: Pick<WeightedLinear, "outFeatures" | "inFeatures" | "bias">,
  f: OneBitFactors,
  options: { packed?: boolean } = {},
): QuantLinear {
  const out = layer.outFeatures, inF = layer.inFeatures;
  if (f.signs.length !== out * inF || f.a.length !== out || f.b.length !== inF) {
    throw new RangeError(
      `oneBitLayer: signs (${f.signs.length}), a (${f.a.length}), b (${f.b.length}) do not fit ` +
        `a [${out}, ${inF}] layer (expected ${out * inF}, ${out}, ${inF})`,
    );
  }
  const codes = new QuantizedWeight({
    quantizer: ONEBIT_QUANTIZER,
    shape: [out, inF],
    groupSize: inF,
    codes: packWeights(f.signs, [out, inF], "binary"),
    scales: Float32Array.from(f.a),
  });
  let values: Tensor | undefined;
  if (!options.packed) {
    const v = new Float32Array(out * inF);
    for (let r = 0; r < out; r++) {
      for (let c = 0; c < inF; c++) {
        const s = f.signs[r * inF + c] ? -1 : 1;
        v[r * inF + c] = f.a[r] * s * f.b[c];
      }
    }
    values = Tensor.fromArray(v, [out, inF]);
  }
  return withParts(layer as WeightedLinear, {
    codes,
    values,
    transform: { kind: "scales", scales: Tensor.fromArray(Float32Array.from(f.b)) },
    quantizer: ONEBIT_QUANTIZER,
    bitsPerWeight: oneBitBits(out, inF),
  });
}

/** The sign codes of a weight (0 = +1 for w ≥ 0 and −0, 1 = −1). */
export function signCodes(w: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(w, (x) => (x < 0 ? 1 : 0));
}

/**
 * OneBit with SVID initialisation (steps 1–4) of one float layer: a new
 * {@link QuantLinear} (fake-quant values, or `packed`); `layer` is not modified.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { DenseLinear } from "../../model/linear.ts";
 * import { oneBitLinear } from "./onebit.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.fromArray([[2, -4], [-1, 2]]));
 * using q = await oneBitLinear(dense);
 * console.log(Array.from(await q.weight!.data(), (x) => x.toFixed(2))); // [ "2.00", "-4.00", "-1.00", "2.00" ]
 * ```
 */
export async function oneBitLinear(
  layer: WeightedLinear,
  options: { packed?: boolean; name?: string } = {},
): Promise<QuantLinear> {
  const [out, inF] = layer.weight.shape;
  const w = await layer.weight.data() as Float32Array;
  // 1. S = sign(W); 2–3. a, b from the rank-1 fit of |W|
  const { a, b } = svid(w, out, inF, { name: options.name ?? "oneBitLinear" });
  // 4. Ŵ = S ⊙ a·bᵀ
  return oneBitLayer(layer, { signs: signCodes(w), a, b }, options);
}

/** OneBit's record in the method registry: SVID initialisation, no data (`quantizer` is ignored). */
export const ONEBIT: LayerMethod = {
  name: "onebit",
  needs: [],
  solve: async (t) => ({ linear: await oneBitLinear(t.layer, { name: `${t.name}.weight` }) }),
};

/**
 * Quantizes every linear layer of `model` (except lm_head) in place with
 * OneBit's SVID initialisation (`quantizeModel` with method "onebit").
 */
export async function onebit(
  model: LlamaModel,
  options: { skip?: string[]; progress?: boolean | string } = {},
): Promise<QuantReport> {
  return await quantizeModel(model, {
    method: "onebit",
    quantizer: ONEBIT_QUANTIZER,
    skip: options.skip,
    progress: options.progress,
  });
}
