/**
 * Softmax and log-softmax along the last axis, numerically stable (the row
 * maximum is subtracted before `exp`), with an optional input scale and an
 * optional causal mask for attention scores.
 *
 * One pass computes each row's maximum and Σexp together (the "online"
 * softmax: each invocation keeps a running max and a sum rescaled when the
 * max grows; partial results are merged through a tree in workgroup memory),
 * a second writes the outputs. f16 inputs are computed in f32 and rounded once.
 *
 * NaN anywhere in a row makes the whole row NaN (as PyTorch). −∞ inputs are
 * masked positions (probability 0); a row whose every entry is −∞ gives the
 * uniform distribution rather than NaN.
 *
 * Gradients: `softmax_grad.ts` (masked entries get zero gradient).
 *
 * Reference: `tests/reference/softmax.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { softmax } from "./softmax.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[0, Math.log(3)]]);
 * using p = softmax(x);
 * console.log(await p.data()); // Float32Array [0.25000003, 0.75]
 * ```
 * @module
 */
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { expectDType, header, IS_NAN } from "./wgsl.ts";
import { record } from "../autograd.ts";
import { softmaxGrad } from "./softmax_grad.ts";

/**
 * WGSL of the online log-sum-exp state a row reduction carries (running max,
 * Σ exp(x − max); y = 0 means empty; NaN anywhere gives NaN): `S`, `s_init`,
 * `s_comb`. Softmax and cross-entropy share it.
 */
export const LOG_SUM_EXP_STATE = `// State: (running max, Σ exp(x − max)); y == 0 means empty.
alias S = vec2f;
fn s_init() -> S { return vec2f(0.0, 0.0); }
fn s_comb(a: S, b: S) -> S {
  if (a.y == 0.0) { return b; }
  if (b.y == 0.0) { return a; }
  if (is_nan(a.x) || is_nan(b.x) || is_nan(a.y) || is_nan(b.y)) {
    return vec2f(bitcast<f32>(0x7fc00000u), 1.0);
  }
  let m = max(a.x, b.x);
  let ea = select(exp(a.x - m), 1.0, a.x == m);
  let eb = select(exp(b.x - m), 1.0, b.x == m);
  return vec2f(m, a.y * ea + b.y * eb);
}`;

/** Options of {@link softmax} and {@link logSoftmax}. */
export interface SoftmaxOptions {
  /**
   * Causal attention mask for scores of shape `[..., T, S]` (T queries, S
   * keys, T ≤ S, the queries being the last T positions): entry (i, j) is
   * masked when j > i + (S − T). Masked entries get probability 0 (−∞ for
   * log-softmax). Default false.
   */
  causal?: boolean;
  /** Multiplies the inputs first, e.g. 1/√d for attention. Default 1. */
  scale?: number;
}

function softmaxKernel(label: string, x: Tensor, log: boolean, options: SoftmaxOptions): Tensor {
  expectDType(label, x, "f32", "f16");
  if (x.rank === 0) {
    throw new RangeError(`${label}: ${x.toString()} is a scalar; softmax needs a last axis`);
  }
  const S = x.shape[x.rank - 1];
  const rows = x.size / S;
  const causal = options.causal ?? false;
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale)) throw new RangeError(`${label}: scale ${scale} is not finite`);
  let T = 1;
  if (causal) {
    if (x.rank < 2) {
      throw new RangeError(
        `${label}: the causal mask needs scores of shape [..., T, S]; got ${x.toString()}`,
      );
    }
    T = x.shape[x.rank - 2];
    if (T > S) {
      throw new RangeError(
        `${label}: causal scores ${x.toString()} have T = ${T} queries but only S = ${S} keys; ` +
          `expected T ≤ S (the queries are the last T of the S positions)`,
      );
    }
  }
  const y = Tensor.empty(x.shape, x.dtype);
  if (x.size === 0) return y; // nothing to normalise (an empty last axis gives an empty result)
  const { tx, ty } = rowLayout(S);
  const Tt = x.dtype;
  const valid = causal ? "c <= (j % P.t) + P.off" : "true";
  const out = log
    ? `select(P.ninf, v - st.x - log(st.y), ok)`
    : `select(0.0, select(exp(v - st.x), 1.0, v == st.x) / st.y, ok)`;
  const code = rowReduceCode({
    decls: `${header(Tt)}
struct Params { rows: u32, s: u32, t: u32, off: u32, tx: u32, ty: u32, scale: f32, ninf: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${Tt}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${Tt}>;
${IS_NAN}
${LOG_SUM_EXP_STATE}`,
    accumulate: `let live = j < P.rows;
  let base = j * P.s;
  if (live) {
    for (var c = ly; c < P.s; c += P.ty) {
      if (${valid}) { st = s_comb(st, vec2f(f32(X[base + c]) * P.scale, 1.0)); }
    }
  }`,
    finish: `st = sh[lx];
  if (live) {
    for (var c = ly; c < P.s; c += P.ty) {
      let ok = ${valid};
      let v = f32(X[base + c]) * P.scale;
      Y[base + c] = ${Tt}(${out});
    }
  }`,
  });
  const params = new Params().u(rows, S, T, S - T, tx, ty).f(scale, -Infinity);
  dispatch(label, code, [x.buffer, y.buffer], params, grid(Math.ceil(rows / tx), 1));
  return record(label, [x], y, [y], (g, [y]) => [softmaxGrad(g, y, log, options)]);
}

/**
 * Softmax along the last axis: exp(x − max) / Σexp(x − max), in f32 for f16
 * inputs. See {@link SoftmaxOptions} for the causal mask and scale.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { softmax } from "./softmax.ts";
 * await initGPU();
 * using scores = Tensor.fromArray([[1, 2, 3], [1, 2, 3]]);
 * using p = softmax(scores, { causal: true }); // T = 2 queries over S = 3 keys
 * console.log((await p.toArray() as number[][])[0][2]); // 0
 * ```
 */
export function softmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
  return softmaxKernel("softmax", x, false, options);
}

/**
 * Log-softmax along the last axis: x − max − log Σexp(x − max), computed
 * without forming the probabilities (no log of an underflowed 0). Masked
 * entries of the causal variant are −∞.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { logSoftmax } from "./softmax.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[0, 0]]);
 * using y = logSoftmax(x);
 * console.log(await y.data()); // Float32Array [-0.6931472, -0.6931472]
 * ```
 */
export function logSoftmax(x: Tensor, options: SoftmaxOptions = {}): Tensor {
  return softmaxKernel("logSoftmax", x, true, options);
}
