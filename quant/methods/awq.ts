/**
 * AWQ — activation-aware weight quantization.
 *
 * J. Lin, J. Tang, H. Tang, S. Yang, W.-M. Chen, W.-C. Wang, G. Xiao,
 * X. Dang, C. Gan, S. Han, "AWQ: Activation-aware Weight Quantization for
 * LLM Compression and Acceleration", MLSys 2024, arXiv 2306.00978.
 *
 * Algorithm (per decoder layer, per group of projections sharing an input X:
 * q/k/v, o, gate/up, down):
 *   1. s_X = mean |X| per input channel (calibration tokens)
 *   2. search α ∈ {0, 1/N, …, (N−1)/N}:  s = s_X^α (normalised by √(max s · min s)),
 *      L(s) = Σ_group ‖Q(W·diag(s))·diag(s)⁻¹·Xᵀ − W·Xᵀ‖²  (float output of the group)
 *      s* = argmin L  (α = 0 is plain RTN, so the search never does worse on L)
 *   3. fold: W ← W·diag(s*), and 1/s* into the op producing X — the RMSNorm
 *      weight for q/k/v and gate/up, the rows of v_proj for o_proj (only when
 *      v_proj's outputs are o_proj's inputs one to one: no GQA; else o_proj is
 *      not scaled), the rows of up_proj for down_proj. The float network is
 *      unchanged.
 *   4. clipping: per output row and group, the max-value shrink r ∈ [r_min, 1]
 *      that minimises the group's output error ‖(Q(clip(W, r)) − W)·Xᵀ‖²
 *   5. W ← Q(clip(W, r*))
 * Output errors use the Hessian H = XᵀX (‖D·Xᵀ‖² = tr(D·H·Dᵀ)), block-diagonal
 * per quantization group in step 4. Layers run in order; each calibrates on
 * the outputs of the already-quantized layers before it.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomLlama } from "../../model/random_llama.ts";
 * await initGPU();
 * using model = randomLlama(); // 1 layer, hidden 32, N(0, 0.2²) weights
 * const sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]];
 * import { int } from "../quantizer.ts";
 * import { awq } from "./awq.ts";
 * const r = await awq(model, int(4, { group: 32 }), { sequences, grid: 4, clipGrid: 2 });
 * console.log(r.layers.length, r.details.groups.length); // 7 4
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { binary, div, mul, sub } from "../../kernels/ops/elementwise.ts";
import { matmul } from "../../kernels/ops/matmul.ts";
import { concat, split } from "../../kernels/ops/layout.ts";
import { max as reduceMax, min as reduceMin, sum, sumAll } from "../../kernels/ops/reduce.ts";
import { DenseLinear } from "../../model/linear.ts";
import { LAYER_TOPOLOGY, type LlamaModel } from "../../model/llama.ts";
import type { ModelMethod } from "../model.ts";
import { captureLayerInputs, type ObserverLike } from "../../model/capture.ts";
import { HessianObserver } from "../calib/hessian.ts";
import { MomentsObserver } from "../calib/observers.ts";
import { quantizeParts, type QuantLinear, type WeightedLinear, withParts } from "../linear.ts";
import { quantError } from "../metrics.ts";
import { fakeQuant } from "../quantize.ts";
import type { QuantizedWeight } from "../weight.ts";
import { splitRows } from "../split_rows.ts";
import type { Quantizer } from "../quantizer.ts";
import { scaleColumns, scaleRows } from "../transforms/smoothing.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";
import { calibratedRecord, type MethodWrapper, wrapMethod } from "./_wrap.ts";

/** Options of {@link awq}. */
export interface AwqOptions {
  /** Calibration sequences (e.g. `calibrationSequences(text, { n: 16, seqLen: 128 })`). */
  sequences: readonly ArrayLike<number>[];
  /** Points N of the α grid {0, 1/N, …, (N−1)/N} (default 20). */
  grid?: number;
  /** Clip ratios tried in [minClip, 1] (default 20; 0 or 1 turns the clip search off). */
  clipGrid?: number;
  /** Smallest clip ratio (default 0.5). */
  minClip?: number;
  /** false: search and fold the scales only (the float model is unchanged). Default true. */
  quantize?: boolean;
  /** Per-token activation quantizer of the quantized layers. */
  act?: Quantizer;
  /** Capture progress bar (default false). */
  progress?: boolean;
}

/** One input group's search result. */
export interface AwqGroup {
  /** Layer index. */
  layer: number;
  /** The projections sharing the input, e.g. ["…q_proj", "…k_proj", "…v_proj"]. */
  members: string[];
  /** Whether the scales could be folded (false for o_proj under GQA). */
  scaled: boolean;
  /** The chosen α. */
  alpha: number;
  /** Output error L at α = 0 (RTN). */
  errorRtn: number;
  /** Output error L at α*. */
  errorAwq: number;
  /** L(α) over the grid. */
  curve: { alpha: number; error: number }[];
}

/** AWQ's own facts, in its report's `details`. */
export interface AwqDetails {
  /** One row per input group and layer. */
  groups: AwqGroup[];
  /** Per quantized layer: the mean chosen clip ratio (of its input group). */
  clip: { name: string; meanRatio: number }[];
}

interface GroupSpec {
  members: string[];
  /** The projection whose input the group shares. */
  input: string;
  /** Where 1/s is folded: an RMSNorm or a previous linear's rows. */
  prev: { norm: "input" | "post" } | { linear: string };
}

/** Layer i's input groups, from the model's topology (`LAYER_TOPOLOGY`). */
function groupsOf(i: number): GroupSpec[] {
  const p = `layers.${i}`;
  return Object.values(LAYER_TOPOLOGY).map((g) => ({
    members: g.linears.map((l) => `${p}.${l}`),
    input: `${p}.${g.linears[0]}`,
    prev: "norm" in g.foldInto
      ? { norm: g.foldInto.norm }
      : { linear: `${p}.${g.foldInto.linear}` },
  }));
}

/** tr(D·H·Dᵀ) for D = Ŵ − W (the output error ‖D·Xᵀ‖² through H = XᵀX). */
async function outputError(wq: Tensor, w: Tensor, h: Tensor): Promise<number> {
  using d = sub(wq, w);
  using dh = matmul(d, h);
  using p = mul(d, dh);
  using t = sumAll(p);
  return await t.item();
}

/** H scaled as the input X·diag(s)⁻¹ sees it: diag(1/s)·H·diag(1/s). */
function scaleHessian(h: Tensor, inv: Tensor): Tensor {
  using a = scaleColumns(h, inv);
  return scaleRows(a, inv);
}

/**
 * The AWQ scales search (steps 1–2) for one group: returns s* `[in]` and the
 * α curve. `sx` is mean |X| per channel, `h` = XᵀX of the shared input.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { matmul } from "../../kernels/ops/matmul.ts";
import { concat, split } from "../../kernels/ops/layout.ts";
 * import { int } from "../quantizer.ts";
 * import { searchScales } from "./awq.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 16], { seed: 0 });
 * using x = Tensor.randn([32, 16], { seed: 1 });
 * using h = matmul(x, x, { transA: true });
 * const sx = Float32Array.from({ length: 16 }, (_, i) => 1 + i);
 * const r = await searchScales([w], sx, h, int(3, { group: 8 }), 4);
 * console.log(r.curve.length, r.scales.size); // 4 16
 * r.scales.dispose();
 * ```
 */
export async function searchScales(
  weights: Tensor[],
  sx: ArrayLike<number>,
  h: Tensor,
  q: Quantizer,
  grid = 20,
): Promise<{ scales: Tensor; alpha: number; curve: { alpha: number; error: number }[] }> {
  const curve: { alpha: number; error: number }[] = [];
  let best = { alpha: 0, error: Infinity, s: new Float32Array(sx.length).fill(1) };
  for (let g = 0; g < grid; g++) {
    const alpha = g / grid;
    const s = Float32Array.from(sx, (v) => Math.max(v, 1e-4) ** alpha);
    let hi = 0, lo = Infinity;
    for (const v of s) {
      hi = Math.max(hi, v);
      lo = Math.min(lo, v);
    }
    const norm = Math.sqrt(hi * lo);
    for (let i = 0; i < s.length; i++) s[i] /= norm;
    using st = Tensor.fromArray(s);
    let error = 0;
    for (const w of weights) {
      using ws = scaleColumns(w, st);
      using qs = await fakeQuant(q, ws);
      using s2 = st.reshape([1, s.length]);
      using back = div(qs, s2);
      error += await outputError(back, w, h);
    }
    curve.push({ alpha, error });
    if (error < best.error) best = { alpha, error, s };
  }
  return { scales: Tensor.fromArray(best.s), alpha: best.alpha, curve };
}

/**
 * Steps 4–5 for one weight: the per-(row, group) max-value shrink that
 * minimises the group's output error, then quantization; returns the
 * dequantized weight and the mean ratio. `h` = XᵀX of the (scaled) input.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { matmul } from "../../kernels/ops/matmul.ts";
import { concat, split } from "../../kernels/ops/layout.ts";
 * import { int } from "../quantizer.ts";
 * import { clipAndQuantize } from "./awq.ts";
 * await initGPU();
 * using w = Tensor.randn([4, 16], { seed: 0 });
 * using x = Tensor.randn([32, 16], { seed: 1 });
 * using h = matmul(x, x, { transA: true });
 * const r = await clipAndQuantize(w, h, int(3, { group: 8 }), { grid: 5 });
 * console.log(r.weight.shape, r.meanRatio <= 1); // [4, 16] true
 * r.weight.dispose();
 * ```
 */
export async function clipAndQuantize(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  options: { grid?: number; minClip?: number } = {},
): Promise<{ weight: Tensor; meanRatio: number; clipped: Tensor }> {
  const grid = options.grid ?? 20, minClip = options.minClip ?? 0.5;
  const [out, inF] = w.shape;
  const g = q.granularity;
  const gs = g.kind === "group" ? g.size : g.kind === "channel" && g.axis === 0 ? inF : 0;
  if (grid < 2 || !gs) {
    return { weight: await fakeQuant(q, w), meanRatio: 1, clipped: w.reshape(w.shape) };
  }
  const ng = inF / gs;
  // block-diagonal H: only interactions inside a quantization group
  const hd = await h.data();
  const bd = new Float32Array(inF * inF);
  for (let i = 0; i < inF; i++) {
    const g0 = Math.floor(i / gs) * gs;
    for (let j = g0; j < g0 + gs; j++) bd[i * inF + j] = hd[i * inF + j];
  }
  using hbd = Tensor.fromArray(bd, [inF, inF]);
  using wg = w.reshape([out * ng, gs]);
  using wmin = reduceMin(wg, -1, { keepDims: true });
  using wmax = reduceMax(wg, -1, { keepDims: true });
  const bestErr = new Float64Array(out * ng).fill(Infinity);
  const bestR = new Float32Array(out * ng).fill(1);
  const clipped = (r: Tensor | number) => {
    using lo = mul(wmin, r);
    using hi = mul(wmax, r);
    using a = binary("max", wg, lo);
    using b = binary("min", a, hi);
    return b.reshape([out, inF]);
  };
  for (let c = 0; c < grid; c++) {
    const r = 1 - (c / (grid - 1)) * (1 - minClip);
    using wc = clipped(r);
    using qc = await fakeQuant(q, wc);
    using d = sub(qc, w);
    using dh = matmul(d, hbd);
    using p = mul(d, dh);
    using pg = p.reshape([out * ng, gs]);
    using e = sum(pg, -1);
    const err = await e.data();
    for (let k = 0; k < err.length; k++) {
      if (err[k] < bestErr[k]) {
        bestErr[k] = err[k];
        bestR[k] = r;
      }
    }
  }
  using rt = Tensor.fromArray(bestR, [out * ng, 1]);
  const wc = clipped(rt);
  return {
    weight: await fakeQuant(q, wc),
    meanRatio: bestR.reduce((a, b) => a + b, 0) / bestR.length,
    clipped: wc,
  };
}

/** Feeds one batch to several observers. */
class Both implements ObserverLike {
  constructor(readonly moments: MomentsObserver, readonly hessian: HessianObserver) {}
  observe(x: Tensor): void {
    this.moments.observe(x);
    this.hessian.observe(x);
  }
}

/**
 * AWQ on every decoder linear of `model`, in place (see the module doc):
 * `quantizeModel` with method "awq". With `quantize: false` only the scales
 * are searched and folded.
 */
export const awq: MethodWrapper<AwqOptions, AwqDetails> = wrapMethod("awq");

/** AWQ's record in the method registry (options: {@link AwqOptions}). */
export const AWQ: ModelMethod = calibratedRecord("awq", runAwq, { weight: true, act: "optional" });

async function runAwq(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: Omit<AwqOptions, "sequences"> & { weight: Quantizer },
): Promise<QuantReport<AwqDetails>> {
  const q = options.weight;
  const inputs = new Set<string>();
  for (let i = 0; i < model.numLayers; i++) for (const g of groupsOf(i)) inputs.add(g.input);
  const groups: AwqGroup[] = [];
  const layers: QuantReport["layers"] = [];
  const clip: AwqDetails["clip"] = [];
  const observers = new Map<string, Both>();
  const dense = (name: string) => {
    const l = model.getLinear(name) as WeightedLinear;
    if (!(l instanceof DenseLinear)) {
      throw new TypeError(`awq: layer ${name} is not a float DenseLinear (already quantized?)`);
    }
    return l;
  };
  await captureLayerInputs(model, sequences, {
    observers: (name) => {
      if (!inputs.has(name)) return undefined;
      const o = new Both(
        new MomentsObserver(name, { kurtosis: false }),
        new HessianObserver(name),
      );
      observers.set(name, o);
      return o;
    },
    progress: options.progress ?? false,
    afterLayer: async (i) => {
      // steps 1–3: search every group's scales on the float weights, then fold
      const scaledH = new Map<string, Tensor>();
      try {
        for (const spec of groupsOf(i)) {
          const obs = observers.get(spec.input)!;
          const sx = (await obs.moments.finish()).absmean;
          using h = await obs.hessian.finish();
          // rows are quantized independently: the group's weights stacked give the same result
          using wcat = concat(spec.members.map((n) => dense(n).weight), 0);
          let foldable = true;
          if ("linear" in spec.prev) {
            foldable = dense(spec.prev.linear).outFeatures === dense(spec.members[0]).inFeatures;
          }
          const found = foldable
            ? await searchScales([wcat], sx, h, q, options.grid ?? 20)
            : { scales: Tensor.full([sx.length], 1), alpha: 0, curve: [] };
          using s = found.scales;
          const c0 = found.curve[0]?.error ?? NaN;
          const cb = found.curve.find((c) => c.alpha === found.alpha)?.error ?? NaN;
          groups.push({
            layer: i,
            members: spec.members,
            scaled: foldable,
            alpha: found.alpha,
            errorRtn: c0,
            errorAwq: cb,
            curve: found.curve,
          });
          using inv = div(1, s);
          for (const n of spec.members) {
            const l = dense(n);
            model.setLinear(
              n,
              new DenseLinear(scaleColumns(l.weight, s), l.bias?.reshape(l.bias.shape)),
            );
          }
          if ("norm" in spec.prev) {
            model.setLayerNorm(i, spec.prev.norm, mul(model.layerNorm(i, spec.prev.norm), inv));
          } else if (foldable) {
            const p = dense(spec.prev.linear);
            model.setLinear(
              spec.prev.linear,
              new DenseLinear(scaleRows(p.weight, inv), p.bias ? mul(p.bias, inv) : undefined),
            );
          }
          scaledH.set(spec.input, scaleHessian(h, inv));
        }
        if (options.quantize === false) return;
        // steps 4–5: clip search and quantization on the scaled weights
        for (const spec of groupsOf(i)) {
          const members = spec.members.map(dense);
          using wcat = concat(members.map((l) => l.weight), 0);
          let { weight, meanRatio, clipped } = await clipAndQuantize(
            wcat,
            scaledH.get(spec.input)!,
            q,
            { grid: options.clipGrid ?? 20, minClip: options.minClip },
          );
          const sizes = members.map((l) => l.outFeatures);
          // rows quantize independently (per channel or group): each member's codes from its
          // clipped rows give the stacked result's values; per tensor, the stacked weight's
          // one scale: its codes split by rows (the same pass gives the stacked values)
          const perRow = q.granularity.kind !== "tensor";
          let stacked: QuantizedWeight[] | undefined;
          if (!perRow) {
            weight.dispose();
            const r = await quantizeParts(clipped, q, { name: spec.members.join("+") });
            using _codes = r.codes;
            stacked = await splitRows(r.codes, sizes);
            weight = r.values;
          }
          const parts = split(weight, sizes, 0);
          const clips = split(clipped, sizes, 0);
          weight.dispose();
          clipped.dispose();
          for (let k = 0; k < members.length; k++) {
            const l = members[k], n = spec.members[k];
            let ql: QuantLinear;
            if (stacked) {
              ql = withParts(l, { codes: stacked[k], values: parts[k], quantizer: q }, {
                act: options.act,
              });
            } else {
              parts[k].dispose();
              const { codes, values } = await quantizeParts(clips[k], q, { name: n });
              ql = withParts(l, { codes, values, quantizer: q }, { act: options.act });
            }
            clips[k].dispose();
            const err = await quantError(l.weight, ql.weight!);
            layers.push({
              name: n,
              out: ql.outFeatures,
              in: ql.inFeatures,
              bitsPerWeight: ql.bitsPerWeight,
              sqnrDb: err.sqnr,
            });
            clip.push({ name: n, meanRatio });
            model.setLinear(n, ql);
          }
        }
      } finally {
        for (const t of scaledH.values()) t.dispose();
      }
    },
  });
  return { layers, bitsPerWeight: meanBitsPerWeight(layers), details: { groups, clip } };
}
