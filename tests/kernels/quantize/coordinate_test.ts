import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { coordinateSweep } from "../../../kernels/quantize/coordinate.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { coordinateSweepRef } from "../../reference/coordinate.ts";

/** A random layer: weight, a Hessian XᵀX/t of correlated inputs, scales, the RTN start. */
function problem(rows: number, n: number, groupSize: number, seed: number, asym = false) {
  const rng = new Rng(seed);
  const t = n + 5;
  const x = rng.normal(t * n);
  for (let i = 0; i < t; i++) for (let j = 1; j < n; j++) x[i * n + j] += 0.7 * x[i * n + j - 1];
  const h = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < t; k++) s += x[k * n + i] * x[k * n + j];
      h[i * n + j] = s / t;
    }
  }
  const w = Float32Array.from(rng.normal(rows * n));
  const groups = n / groupSize;
  const [qmin, qmax] = asym ? [0, 7] : [-4, 3];
  const scales = new Float32Array(rows * groups);
  const zeros = new Float32Array(rows * groups);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      let lo = 0, hi = 0;
      for (let k = 0; k < groupSize; k++) {
        const v = w[r * n + g * groupSize + k];
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      const s = Math.fround(asym ? (hi - lo) / 7 : Math.max(hi, -lo) / 3);
      scales[r * groups + g] = s;
      zeros[r * groups + g] = asym ? Math.round(-lo / s) : 0;
    }
  }
  // start from the float weight with a zero gradient (the GPFQ start)
  return { rows, n, groupSize, w, h, scales, zeros, qmin, qmax, asym };
}

async function runBoth(p: ReturnType<typeof problem>, order?: Uint32Array, grad?: Float32Array) {
  const { rows, n } = p;
  const g0 = grad ?? new Float32Array(rows * n);
  using w = Tensor.fromArray(p.w, [rows, n]);
  using g = Tensor.fromArray(g0, [rows, n]);
  using h = Tensor.fromArray(p.h, [n, n]);
  using s = Tensor.fromArray(p.scales, [rows, n / p.groupSize]);
  using z = Tensor.fromArray(p.zeros, [rows, n / p.groupSize]);
  const r = coordinateSweep({
    weight: w,
    grad: g,
    hessian: h,
    scales: s,
    zeros: p.asym ? z : undefined,
    groupSize: p.groupSize,
    qmin: p.qmin,
    qmax: p.qmax,
    order,
  });
  using rw = r.weight, rg = r.grad, rc = r.codes;
  const got = { weight: await rw.data(), grad: await rg.data(), codes: await rc.data() };
  const ref = coordinateSweepRef({
    rows,
    n,
    weight: p.w,
    grad: g0,
    hessian: p.h,
    scales: p.scales,
    zeros: p.asym ? p.zeros : undefined,
    groupSize: p.groupSize,
    qmin: p.qmin,
    qmax: p.qmax,
    order,
  });
  return { got, ref };
}

function mismatches(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m++;
  return m;
}

gpuTest("coordinateSweep matches the pure-TS sweep on odd shapes", async () => {
  const cases: [number, number, number, boolean][] = [
    [1, 1, 1, false],
    [1, 7, 7, false],
    [3, 33, 11, true],
    [5, 96, 32, false],
    [70, 130, 65, true],
  ];
  for (const [rows, n, gs, asym] of cases) {
    const p = problem(rows, n, gs, rows * 31 + n, asym);
    const { got, ref } = await runBoth(p);
    // f32 on both sides; an FMA in the driver may flip a rounding tie, so allow a handful
    const bad = mismatches(got.codes, ref.codes);
    assert(bad <= Math.ceil(rows * n * 0.002), `${rows}×${n}: ${bad} codes differ`);
    if (bad === 0) {
      assertClose(got.weight, ref.weight, { atol: 0, rtol: 0 }, `weight ${rows}×${n}`);
      assertClose(got.grad, ref.grad, { atol: 1e-4, rtol: 1e-4 }, `grad ${rows}×${n}`);
    }
    for (let i = 0; i < got.codes.length; i++) {
      assert(got.codes[i] >= p.qmin && got.codes[i] <= p.qmax && Number.isInteger(got.codes[i]));
    }
  }
});

gpuTest("coordinateSweep: per-row order and a shared order both follow the reference", async () => {
  const p = problem(4, 24, 8, 5);
  const rng = new Rng(9);
  const perRow = new Uint32Array(4 * 24);
  for (let r = 0; r < 4; r++) {
    const perm = Array.from({ length: 24 }, (_, i) => i);
    for (let i = 23; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [perm[i], perm[j]] = [perm[j], perm[i]];
    }
    perRow.set(perm, r * 24);
  }
  for (const order of [perRow, perRow.slice(24, 48)]) {
    const { got, ref } = await runBoth(p, order);
    assertEquals(mismatches(got.codes, ref.codes), 0);
  }
});

gpuTest(
  "coordinateSweep with H = I is round-to-nearest; correlated H lowers the error",
  async () => {
    const p = problem(6, 32, 16, 2);
    const eye = new Float32Array(32 * 32);
    for (let i = 0; i < 32; i++) eye[i * 32 + i] = 2;
    const { got } = await runBoth({ ...p, h: eye });
    for (let i = 0; i < p.w.length; i++) {
      const s = p.scales[Math.floor(i / 16)];
      const c = Math.min(3, Math.max(-4, Math.round(p.w[i] / s)));
      assert(Math.abs(got.weight[i] - c * s) < 1e-6 || Math.abs(p.w[i] / s % 1) === 0.5, `${i}`);
    }
    // error (w−ŵ)ᵀH(w−ŵ) summed over rows: sweep < RTN
    const err = (wq: ArrayLike<number>) => {
      let e = 0;
      for (let r = 0; r < p.rows; r++) {
        for (let i = 0; i < 32; i++) {
          for (let j = 0; j < 32; j++) {
            e += (p.w[r * 32 + i] - wq[r * 32 + i]) * p.h[i * 32 + j] *
              (p.w[r * 32 + j] - wq[r * 32 + j]);
          }
        }
      }
      return e;
    };
    const { got: swept } = await runBoth(p);
    assert(err(swept.weight) < err(got.weight), `${err(swept.weight)} vs RTN ${err(got.weight)}`);
  },
);

gpuTest("coordinateSweep: NaN in the gradient and dead inputs never reach the weight", async () => {
  const p = problem(2, 8, 4, 3);
  for (let j = 0; j < 8; j++) p.h[2 * 8 + j] = p.h[j * 8 + 2] = 0; // input 2 is dead
  const grad = new Float32Array(16);
  grad[5] = NaN; // row 0, coordinate 5
  const { got, ref } = await runBoth(p, undefined, grad);
  for (const v of got.weight) assert(Number.isFinite(v));
  assertEquals(got.weight[5], p.w[5]); // left as it was
  assertEquals(mismatches(got.codes, ref.codes), 0);
  assertClose(got.weight, ref.weight, { atol: 0, rtol: 0 });
});

gpuTest("coordinateSweep rejects bad shapes and orders with clear errors", () => {
  using w = Tensor.zeros([2, 4]);
  using h = Tensor.zeros([4, 4]);
  using h3 = Tensor.zeros([3, 3]);
  using s = Tensor.full([2, 2], 1);
  const base = { weight: w, grad: w, hessian: h, scales: s, groupSize: 2, qmin: -2, qmax: 1 };
  assertThrows(() => coordinateSweep({ ...base, hessian: h3 }), RangeError, "hessian");
  assertThrows(() => coordinateSweep({ ...base, groupSize: 3 }), RangeError, "groupSize");
  assertThrows(() => coordinateSweep({ ...base, order: Uint32Array.of(0, 1, 2, 9) }), RangeError);
  assertThrows(() => coordinateSweep({ ...base, order: Uint32Array.of(0, 1) }), RangeError);
});
