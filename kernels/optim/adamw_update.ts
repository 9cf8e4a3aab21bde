/**
 * The fused AdamW update of one f32 tensor, in place: decoupled weight decay,
 * both moment updates and the bias-corrected step in one kernel, in the order
 * of `torch.optim.AdamW` (single-tensor path):
 *
 *   p ← p·decay                          (decay = 1 − lr·wd)
 *   m ← lerp(m, g, 1 − β₁)               (m + w·(g − m); torch's two-sided lerp)
 *   v ← v·β₂ + (1 − β₂)·g·g
 *
 * with 1 − β₁ and 1 − β₂ computed in f64 on the CPU and rounded once, as
 * torch does with Python floats (1 − f32(0.999) would be off by 1.3e-5).
 *   p ← p − stepSize · m / (√v / √bc₂ + ε)   (stepSize = lr / bc₁, bcₖ = 1 − βₖᵗ)
 *
 * NaN in `g` propagates to `m`, `v` and `p` of that element, as in torch.
 * The caller computes the scalars (see {@link adamwScalars}).
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { adamwScalars, adamwUpdate } from "./adamw_update.ts";
 * await initGPU();
 * using p = Tensor.fromArray([1, 2]);
 * using g = Tensor.fromArray([0.5, -0.5]);
 * using m = Tensor.zeros([2]);
 * using v = Tensor.zeros([2]);
 * adamwUpdate(p, g, m, v, adamwScalars({ lr: 0.1, step: 1 }));
 * console.log(await p.data()); // Float32Array [0.9000000357627869, 2.0999999046325684]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import type { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS } from "../ops/wgsl.ts";
import { expectF32, expectSameShape } from "./_checks.ts";

const WG = 256;

/** The scalars of one AdamW step, as the kernel reads them (rounded to f32 on upload). */
export interface AdamWScalars {
  /** `1 − lr·weightDecay` (1 when the tensor is not decayed). */
  decay: number;
  /** `1 − β₁`, the weight of g in the first moment. */
  oneMinusBeta1: number;
  /** β₂. */
  beta2: number;
  /** `1 − β₂`. */
  oneMinusBeta2: number;
  /** `lr / (1 − β₁ᵗ)`. */
  stepSize: number;
  /** `√(1 − β₂ᵗ)`. */
  bc2Sqrt: number;
  /** ε, added to `√v̂`. */
  eps: number;
}

/** Hyperparameters of one AdamW step of one tensor. */
export interface AdamWStepOptions {
  /** Learning rate of this step. */
  lr: number;
  /** This tensor's step number t, counted from 1. */
  step: number;
  /** β₁. Default 0.9. */
  beta1?: number;
  /** β₂. Default 0.999. */
  beta2?: number;
  /** ε. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay (0 for a tensor that is not decayed). Default 0. */
  weightDecay?: number;
}

/**
 * The kernel's scalars for step `t`, computed in f64 as torch computes them
 * in Python floats.
 *
 * @example
 * ```ts
 * import { adamwScalars } from "./adamw_update.ts";
 * const s = adamwScalars({ lr: 0.1, step: 1, weightDecay: 0.5 });
 * console.log(s.decay, s.stepSize.toFixed(6)); // 0.95 "1.000000"
 * ```
 */
export function adamwScalars(
  { lr, step, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weightDecay = 0 }: AdamWStepOptions,
): AdamWScalars {
  if (!Number.isInteger(step) || step < 1) {
    throw new RangeError(`adamwScalars: step ${step} must be an integer ≥ 1 (the first is 1)`);
  }
  return {
    decay: 1 - lr * weightDecay,
    oneMinusBeta1: 1 - beta1,
    beta2,
    oneMinusBeta2: 1 - beta2,
    stepSize: lr / (1 - beta1 ** step),
    bc2Sqrt: Math.sqrt(1 - beta2 ** step),
    eps,
  };
}

/** WGSL of the per-element AdamW update (shared with the 8-bit kernel). */
export const ADAMW_ELEMENT = `
struct Moments { p: f32, m: f32, v: f32, }
fn adamw_element(p0: f32, g: f32, m0: f32, v0: f32) -> Moments {
  let p = p0 * P.decay;
  let w1 = P.w1;
  let m = select(g - (g - m0) * (1.0 - w1), m0 + w1 * (g - m0), w1 < 0.5);
  let v = v0 * P.beta2 + P.w2 * g * g;
  let denom = sqrt(v) / P.bc2_sqrt + P.eps;
  return Moments(p - P.step_size * (m / denom), m, v);
}`;

/** WGSL fields of the scalars' uniform block, in the order {@link putScalars} writes them. */
export const ADAMW_FIELDS =
  "decay: f32, w1: f32, beta2: f32, w2: f32, step_size: f32, bc2_sqrt: f32, eps: f32,";

/** Appends the scalars to a uniform block in the order of {@link ADAMW_FIELDS}. */
export function putScalars(params: Params, s: AdamWScalars): Params {
  return params.f(s.decay, s.oneMinusBeta1, s.beta2, s.oneMinusBeta2, s.stepSize, s.bc2Sqrt, s.eps);
}

function adamwCode(): string {
  return `
struct Params { ${ADAMW_FIELDS} n: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> M: array<f32>;
@group(0) @binding(4) var<storage, read_write> V: array<f32>;
${ADAMW_ELEMENT}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= P.n) { return; }
  let r = adamw_element(W[i], G[i], M[i], V[i]);
  W[i] = r.p;
  M[i] = r.m;
  V[i] = r.v;
}`;
}

/**
 * One AdamW step of `p` in place, updating its moments `m` and `v` in place;
 * all four f32 tensors of one shape. `g` is read, never modified.
 */
export function adamwUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, s: AdamWScalars): void {
  const op = "adamwUpdate";
  expectF32(op, p, g, m, v);
  expectSameShape(op, p, g, m, v);
  if (p.size === 0) return;
  const params = putScalars(new Params(), s).u(p.size);
  dispatch(op, adamwCode(), [p.buffer, g.buffer, m.buffer, v.buffer], params, grid(p.size, WG));
}
