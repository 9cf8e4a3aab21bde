/**
 * The SGD update of one f32 tensor, in place, as `torch.optim.SGD`
 * (single-tensor path), with `d` the descent direction:
 *
 *   d ← g + wd·p                               (when wd ≠ 0)
 *   b ← d on the first step, else b·μ + (1 − τ)·d   (when μ ≠ 0; τ = dampening)
 *   d ← d + μ·b (nesterov) or b                (when μ ≠ 0)
 *   p ← p − lr·d
 *
 * NaN in `g` propagates to `b` and `p` of that element.
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sgdUpdate } from "./sgd_update.ts";
 * await initGPU();
 * using p = Tensor.fromArray([1, 2]);
 * using g = Tensor.fromArray([1, -1]);
 * sgdUpdate(p, g, undefined, { lr: 0.5 });
 * console.log(await p.data()); // Float32Array [0.5, 2.5]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import type { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS } from "../ops/wgsl.ts";
import { expectF32, expectSameShape } from "./_checks.ts";

const WG = 256;

/** Hyperparameters of one SGD step of one tensor. */
export interface SgdStepOptions {
  /** Learning rate of this step. */
  lr: number;
  /** Momentum μ; needs a momentum buffer when ≠ 0. Default 0. */
  momentum?: number;
  /** Dampening τ of the momentum. Default 0. */
  dampening?: number;
  /** L2 weight decay added to the gradient (coupled, as torch's SGD). Default 0. */
  weightDecay?: number;
  /** Nesterov momentum. Default false. */
  nesterov?: boolean;
  /** True on the buffer's first step: it is set to the direction, not blended. Default false. */
  first?: boolean;
}

function sgdCode(withBuffer: boolean): string {
  return `
struct Params { lr: f32, wd: f32, momentum: f32, dampening: f32, nesterov: u32, first: u32, n: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
${withBuffer ? "@group(0) @binding(3) var<storage, read_write> B: array<f32>;" : ""}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= P.n) { return; }
  let p = W[i];
  var d = G[i];
  if (P.wd != 0.0) { d = d + P.wd * p; }
  ${
    withBuffer
      ? `let b = select(B[i] * P.momentum + (1.0 - P.dampening) * d, d, P.first != 0u);
  B[i] = b;
  d = select(b, d + P.momentum * b, P.nesterov != 0u);`
      : ""
  }
  W[i] = p - P.lr * d;
}`;
}

/**
 * One SGD step of `p` in place; `buf` (the momentum buffer, updated in place)
 * is required when `momentum ≠ 0` and ignored otherwise. `g` is read, never modified.
 */
export function sgdUpdate(
  p: Tensor,
  g: Tensor,
  buf: Tensor | undefined,
  { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, first = false }:
    SgdStepOptions,
): void {
  const op = "sgdUpdate";
  const withBuffer = momentum !== 0;
  if (withBuffer && !buf) {
    throw new TypeError(`${op}: momentum ${momentum} needs a momentum buffer of ${p.toString()}`);
  }
  const ts = withBuffer ? [p, g, buf!] : [p, g];
  expectF32(op, ...ts);
  expectSameShape(op, ...ts);
  if (p.size === 0) return;
  const params = new Params().f(lr, weightDecay, momentum, dampening)
    .u(nesterov ? 1 : 0, first ? 1 : 0, p.size);
  dispatch(op, sgdCode(withBuffer), ts.map((t) => t.buffer), params, grid(p.size, WG));
}
