/**
 * Cross-entropy of logits against integer class targets, fused and
 * numerically stable, with its gradient in one kernel.
 *
 *   loss_j = logsumexp(x_j) − x_j[t_j] = m_j + log Σ_c exp(x_jc − m_j) − x_j[t_j],
 *   m_j = max_c x_jc
 *
 * The forward is one row reduction (the online max and Σexp of `softmax.ts`)
 * that writes each row's loss and its log-sum-exp; `"mean"` divides the sum of
 * the counted rows' losses by their number (rows whose target is
 * `ignoreIndex` count for nothing, as in `torch.nn.functional.cross_entropy`).
 * The backward is one elementwise kernel over the saved log-sum-exp:
 *
 *   ∂L/∂x_jc = (exp(x_jc − lse_j) − [c = t_j]) · s_j,
 *   s_j = g_j ("none"), g ("sum"), g / count ("mean"), and 0 for ignored rows.
 *
 * Conventions: NaN in a row makes that row's loss and gradient NaN; an
 * ignored row has loss 0 and gradient exactly 0 (even when its logits hold
 * NaN); `"mean"` over zero counted rows is NaN (0/0, as PyTorch). Targets
 * given as a CPU array are checked; targets already on the GPU (i32) are not
 * read back: an out-of-range target other than `ignoreIndex` gives a NaN loss
 * for its row.
 *
 * Reference: `tests/reference/cross_entropy.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { crossEntropy } from "./cross_entropy.ts";
 * await initGPU();
 * using logits = Tensor.fromArray([[0, 0], [0, Math.log(3)]]);
 * using loss = crossEntropy(logits, [0, 1], { reduction: "none" });
 * console.log(await loss.data()); // Float32Array [0.6931472, 0.2876821]
 * ```
 * @module
 */
import { record } from "../autograd.ts";
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { binary } from "./elementwise.ts";
import { sumAll } from "./reduce_all.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { ENTRY_BUILTINS, expectDType, IS_NAN } from "./wgsl.ts";
import { LOG_SUM_EXP_STATE } from "./softmax.ts";

/** How the per-row losses are combined. */
export type CrossEntropyReduction = "mean" | "sum" | "none";

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** `"mean"` over counted rows, `"sum"`, or `"none"` (one loss per row). Default `"mean"`. */
  reduction?: CrossEntropyReduction;
  /** Rows whose target equals this are not counted (loss 0, gradient 0). Default −100 (PyTorch's). */
  ignoreIndex?: number;
}

/** Targets: an i32 tensor on the GPU, or CPU integers (checked against the vocabulary). */
export type CrossEntropyTargets = Tensor | Int32Array | readonly number[];

const WG = 256;
const MODES: Record<CrossEntropyReduction, number> = { none: 0, sum: 1, mean: 2 };

function targetsTensor(
  op: string,
  t: CrossEntropyTargets,
  rows: number,
  V: number,
  ignore: number,
): Tensor {
  if (t instanceof Tensor) {
    expectDType(op, t, "i32");
    if (t.size !== rows) {
      throw new RangeError(
        `${op}: targets ${t.toString()} have ${t.size} entries but the logits have ${rows} rows; ` +
          `pass one target per row (flatten [B, T] targets to [B·T])`,
      );
    }
    return t.share();
  }
  if (t.length !== rows) {
    throw new RangeError(
      `${op}: ${t.length} targets for ${rows} rows of logits; pass one target per row`,
    );
  }
  for (let k = 0; k < t.length; k++) {
    const v = t[k];
    if (!Number.isInteger(v) || ((v < 0 || v >= V) && v !== ignore)) {
      throw new RangeError(
        `${op}: target ${v} at row ${k} is not a class index; expected an integer in ` +
          `[0, ${V - 1}] or the ignoreIndex ${ignore}`,
      );
    }
  }
  return Tensor.fromArray(Int32Array.from(t), [rows], "i32");
}

/** Per-row loss, log-sum-exp and counted flag (1/0), in one row reduction. */
function forwardRows(x: Tensor, t: Tensor, rows: number, V: number, ignore: number) {
  const loss = Tensor.empty([rows]);
  const lse = Tensor.empty([rows]);
  const counted = Tensor.empty([rows]);
  const { tx, ty } = rowLayout(V);
  const code = rowReduceCode({
    decls: `struct Params { rows: u32, v: u32, tx: u32, ty: u32, ignore: i32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<i32>;
@group(0) @binding(3) var<storage, read_write> L: array<f32>;
@group(0) @binding(4) var<storage, read_write> Z: array<f32>;
@group(0) @binding(5) var<storage, read_write> C: array<f32>;
${IS_NAN}
${LOG_SUM_EXP_STATE}`,
    accumulate: `let live = j < P.rows;
  let base = j * P.v;
  if (live) {
    for (var c = ly; c < P.v; c += P.ty) { st = s_comb(st, vec2f(X[base + c], 1.0)); }
  }`,
    finish: `st = sh[lx];
  if (live && ly == 0u) {
    let z = st.x + log(st.y);
    let t = T[j];
    Z[j] = z;
    if (t == P.ignore) {
      L[j] = 0.0;
      C[j] = 0.0;
    } else if (t < 0 || u32(t) >= P.v) {
      L[j] = bitcast<f32>(0x7fc00000u);
      C[j] = 1.0;
    } else {
      L[j] = z - X[base + u32(t)];
      C[j] = 1.0;
    }
  }`,
  });
  const params = new Params().u(rows, V, tx, ty).i(ignore);
  dispatch(
    "crossEntropy",
    code,
    [x.buffer, t.buffer, loss.buffer, lse.buffer, counted.buffer],
    params,
    grid(Math.ceil(rows / tx), 1),
  );
  return { loss, lse, counted };
}

/**
 * The gradient of {@link crossEntropy} with respect to the logits:
 * (softmax(x) − onehot(t)) · s per row, s as in the module doc, from the
 * saved per-row log-sum-exp. `g` is the loss's gradient (one element, or one
 * per row for `"none"`); `count` the number of counted rows (one element,
 * read only for `"mean"`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { crossEntropyGrad } from "./cross_entropy.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[0, 0]]);
 * using t = Tensor.fromArray([1], [1], "i32");
 * using lse = Tensor.fromArray([Math.log(2)]);
 * using g = Tensor.fromArray([1]);
 * using dx = crossEntropyGrad(x, t, lse, g, g, { reduction: "sum" });
 * console.log(await dx.data()); // Float32Array [0.5, -0.5]
 * ```
 */
export function crossEntropyGrad(
  x: Tensor,
  t: Tensor,
  lse: Tensor,
  g: Tensor,
  count: Tensor,
  options: CrossEntropyOptions = {},
): Tensor {
  const V = x.shape[x.rank - 1];
  const mode = MODES[options.reduction ?? "mean"];
  const ignore = options.ignoreIndex ?? -100;
  const dx = Tensor.empty(x.shape);
  if (dx.size === 0) return dx;
  const code = `struct Params { n: u32, v: u32, mode: u32, ignore: i32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read> T: array<i32>;
@group(0) @binding(3) var<storage, read> Z: array<f32>;
@group(0) @binding(4) var<storage, read> G: array<f32>;
@group(0) @binding(5) var<storage, read> N: array<f32>;
@group(0) @binding(6) var<storage, read_write> D: array<f32>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= P.n) { return; }
  let j = i / P.v;
  let c = i % P.v;
  let t = T[j];
  if (t == P.ignore) { D[i] = 0.0; return; }
  var s = G[0];
  if (P.mode == 0u) { s = G[j]; }
  if (P.mode == 2u) { s = G[0] / N[0]; }
  let p = exp(X[i] - Z[j]);
  D[i] = (p - select(0.0, 1.0, i32(c) == t)) * s;
}`;
  dispatch(
    "crossEntropy backward",
    code,
    [x.buffer, t.buffer, lse.buffer, g.buffer, count.buffer, dx.buffer],
    new Params().u(dx.size, V, mode).i(ignore),
    grid(dx.size, WG),
  );
  return dx;
}

/**
 * Cross-entropy of `logits` (`[N, V]` or `[..., V]`, f32) against one class
 * index per row (`targets`, N = the product of the leading axes). Returns a
 * scalar for `"mean"` and `"sum"`, or the per-row losses shaped like the
 * leading axes for `"none"`, owned by the caller. Differentiable with respect
 * to the logits (one fused backward kernel).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { crossEntropy } from "./cross_entropy.ts";
 * await initGPU();
 * using logits = Tensor.fromArray([[[0, 0], [5, 5]]]); // [B=1, T=2, V=2]
 * using loss = crossEntropy(logits, [1, -100]); // the second row is ignored
 * console.log(await loss.item()); // 0.6931471824645996
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  targets: CrossEntropyTargets,
  options: CrossEntropyOptions = {},
): Tensor {
  const op = "crossEntropy";
  expectDType(op, logits, "f32");
  const reduction = options.reduction ?? "mean";
  if (!(reduction in MODES)) {
    throw new RangeError(`${op}: reduction "${reduction}" is not one of "mean", "sum", "none"`);
  }
  const ignore = options.ignoreIndex ?? -100;
  if (!Number.isInteger(ignore)) {
    throw new RangeError(`${op}: ignoreIndex ${ignore} must be an integer`);
  }
  if (logits.rank < 1 || logits.shape[logits.rank - 1] === 0) {
    throw new RangeError(
      `${op}: logits ${logits.toString()} need a non-empty last (class) axis, e.g. [N, V]`,
    );
  }
  const V = logits.shape[logits.rank - 1];
  const rows = logits.size / V;
  if (rows === 0) {
    throw new RangeError(`${op}: logits ${logits.toString()} have no rows`);
  }
  using t = targetsTensor(op, targets, rows, V, ignore);
  const { loss, lse, counted } = forwardRows(logits, t, rows, V, ignore);
  using _c = counted;
  using _z = lse;
  let y: Tensor;
  let count: Tensor;
  if (reduction === "none") {
    y = loss.reshape(logits.shape.slice(0, -1));
    loss.dispose();
    count = Tensor.zeros([1]);
  } else {
    using s = sumAll(loss);
    loss.dispose();
    count = sumAll(counted);
    y = reduction === "sum" ? s.share() : binary("div", s, count);
  }
  using _n = count;
  return record(op, [logits], y, [logits, t, lse, count], (g, [x, tt, z, n]) => {
    using gf = g.reshape([g.size]);
    using n1 = n.reshape([1]);
    return [crossEntropyGrad(x, tt, z, gf, n1, { reduction, ignoreIndex: ignore })];
  });
}
