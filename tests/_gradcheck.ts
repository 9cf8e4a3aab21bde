/**
 * Gradient checks against f64 finite differences: the GPU gradient of
 * L = Σ f(x)·r (r a fixed random weighting, so every output counts) is
 * compared with central differences of the same L computed in f64 by a
 * pure-TS reference of f. Inputs are f32 values, so both sides see the same
 * numbers.
 */
import { assert } from "@std/assert";
import { Tensor } from "../kernels/tensor.ts";
import { Rng } from "../kernels/random.ts";
import { valueAndGrad } from "../kernels/autograd.ts";
import { mul } from "../kernels/ops/elementwise.ts";
import { sumAll } from "../kernels/ops/reduce_all.ts";

/** One input of a gradient check: its shape and values (random normal when omitted). */
export interface GradInput {
  shape: number[];
  values?: ArrayLike<number>;
  /** Draw |N(0,1)| + 0.2 instead of N(0,1). */
  positive?: boolean;
  /** A constant: passed to the function, not differentiated. */
  constant?: boolean;
}

/** A gradient check of `gpu` against the f64 reference `ref`. */
export interface GradCheck {
  inputs: GradInput[];
  gpu: (...xs: Tensor[]) => Tensor;
  ref: (...xs: Float64Array[]) => ArrayLike<number>;
  seed?: number;
  /** Allowed error, relative to the largest finite-difference gradient. Default 2e-3. */
  tol?: number;
  /** Finite-difference step. Default 1e-4. */
  h?: number;
}

/** Runs the check; throws naming the input and index of the worst mismatch. */
export async function gradCheck(c: GradCheck): Promise<{ maxRel: number }> {
  const rng = new Rng(c.seed ?? 1);
  const vals = c.inputs.map((inp) => {
    const n = inp.shape.reduce((a, b) => a * b, 1);
    const v = inp.values ? Float32Array.from(inp.values) : rng.normal(n, 0, 1);
    if (inp.positive && !inp.values) { for (let i = 0; i < n; i++) v[i] = Math.abs(v[i]) + 0.2; }
    return v;
  });
  const xs = c.inputs.map((inp, i) => Tensor.fromArray(vals[i], inp.shape));
  const f64 = vals.map((v) => Float64Array.from(v));
  const out0 = c.ref(...f64);
  const r = rng.normal(out0.length, 0, 1);
  const loss = (args: Float64Array[]) => {
    const y = c.ref(...args);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * r[i];
    return s;
  };
  const params = xs.filter((_, i) => !c.inputs[i].constant);
  using rt = Tensor.fromArray(r, [r.length]);
  const { value, grads } = valueAndGrad(() => {
    using y = c.gpu(...xs);
    assert(y.size === out0.length, `output has ${y.size} elements; the reference ${out0.length}`);
    using yf = y.reshape([y.size]);
    using yr = mul(yf, rt);
    return sumAll(yr);
  }, params);
  value.dispose();
  const h = c.h ?? 1e-4;
  let maxRel = 0;
  let pi = 0;
  for (const [i, inp] of c.inputs.entries()) {
    if (inp.constant) continue;
    const g = grads.get(String(pi++))!;
    const got = await g.data();
    g.dispose();
    const fd = new Float64Array(got.length);
    for (let k = 0; k < fd.length; k++) {
      const plus = f64.map((a) => a.slice()), minus = f64.map((a) => a.slice());
      plus[i][k] += h;
      minus[i][k] -= h;
      fd[k] = (loss(plus) - loss(minus)) / (2 * h);
    }
    const scale = Math.max(1e-6, ...Array.from(fd, Math.abs));
    let worst = 0, at = 0;
    for (let k = 0; k < fd.length; k++) {
      const e = Math.abs(got[k] - fd[k]) / scale;
      if (!(e <= worst)) [worst, at] = [e, k];
    }
    maxRel = Math.max(maxRel, worst);
    assert(
      worst <= (c.tol ?? 2e-3),
      `input ${i} [${inp.shape}]: gradient ${got[at]} vs finite differences ${fd[at]} at ` +
        `index ${at} (error ${worst.toExponential(2)} of the largest gradient ${
          scale.toPrecision(4)
        })`,
    );
  }
  for (const x of xs) x.dispose();
  return { maxRel };
}
