import { Tensor } from "../../../kernels/tensor.ts";
import { reduce, type ReduceOp } from "../../../kernels/ops/reduce.ts";
import { reduceAll, type ReduceAllOp } from "../../../kernels/ops/reduce_all.ts";
import { concat, expand, permute, slice, split } from "../../../kernels/ops/layout.ts";
import { linear, matmul } from "../../../kernels/ops/matmul.ts";
import { gpuTest } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";

/** f64 reduction of a [r, c] matrix along axis 1, or along axis 0. */
function reduceRef(op: ReduceOp, x: Float64Array, r: number, c: number, axis: 0 | 1): Float64Array {
  const [outer, len] = axis === 1 ? [r, c] : [c, r];
  const y = new Float64Array(outer);
  for (let o = 0; o < outer; o++) {
    const v = Array.from({ length: len }, (_, k) => (axis === 1 ? x[o * c + k] : x[k * c + o]));
    const mean = v.reduce((a, b) => a + b, 0) / len;
    const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
    y[o] = {
      sum: () => v.reduce((a, b) => a + b, 0),
      mean: () => mean,
      max: () => Math.max(...v),
      min: () => Math.min(...v),
      absmax: () => Math.max(...v.map(Math.abs)),
      norm2: () => Math.sqrt(v.reduce((a, b) => a + b * b, 0)),
      rms: () => Math.sqrt(v.reduce((a, b) => a + b * b, 0) / len),
      variance: () => ss / len,
      std: () => Math.sqrt(ss / len),
    }[op as string]!();
  }
  return y;
}

gpuTest("axis and whole-tensor reductions: gradients match f64 finite differences", async () => {
  const [r, c] = [6, 35];
  const ops: ReduceOp[] = [
    "sum",
    "mean",
    "max",
    "min",
    "absmax",
    "norm2",
    "rms",
    "variance",
    "std",
  ];
  for (const op of ops) {
    for (const axis of [1, 0] as const) {
      await gradCheck({
        inputs: [{ shape: [r, c] }],
        gpu: (x) => reduce(op, x, axis),
        ref: (x) => reduceRef(op, x, r, c, axis),
        seed: axis + 7,
      }).catch((e) => {
        throw new Error(`${op} axis ${axis}: ${e.message}`);
      });
    }
  }
  for (const op of ["sum", "mean", "max", "min", "absmax", "norm2", "rms"] as ReduceAllOp[]) {
    await gradCheck({
      inputs: [{ shape: [3, 5, 7] }],
      gpu: (x) => reduceAll(op, x),
      ref: (x) => reduceRef(op, x, 1, x.length, 1),
    }).catch((e) => {
      throw new Error(`reduceAll ${op}: ${e.message}`);
    });
  }
});

gpuTest(
  "layout ops (reshape, permute, slice, split, concat, expand): gradients route to the source",
  async () => {
    // permute [2,3,5] → [5,2,3]
    await gradCheck({
      inputs: [{ shape: [2, 3, 5] }],
      gpu: (x) => permute(x, [2, 0, 1]),
      ref: (x) => {
        const y = new Float64Array(30);
        for (let a = 0; a < 2; a++) {
          for (let b = 0; b < 3; b++) {
            for (let k = 0; k < 5; k++) y[k * 6 + a * 3 + b] = x[a * 15 + b * 5 + k];
          }
        }
        return y;
      },
    });
    // slice rows 1..3, cols 2..6 of [4,7], through a reshape view
    await gradCheck({
      inputs: [{ shape: [28] }],
      gpu: (x) => {
        using v = x.reshape([4, 7]);
        return slice(v, [1, 2], [3, 6]);
      },
      ref: (x) => {
        const y: number[] = [];
        for (let i = 1; i < 3; i++) for (let j = 2; j < 6; j++) y.push(x[i * 7 + j]);
        return y;
      },
    });
    // split then concat in another order, with one piece scaled by reuse
    await gradCheck({
      inputs: [{ shape: [3, 8] }],
      gpu: (x) => {
        const [a, b] = split(x, [5, 3], 1);
        using _a = a, _b = b;
        return concat([b, a, b], 1);
      },
      ref: (x) => {
        const y: number[] = [];
        for (let i = 0; i < 3; i++) {
          const row = Array.from(x.slice(i * 8, i * 8 + 8));
          y.push(...row.slice(5), ...row.slice(0, 5), ...row.slice(5));
        }
        return y;
      },
    });
    await gradCheck({
      inputs: [{ shape: [3, 1] }],
      gpu: (x) => expand(x, [2, 3, 4]),
      ref: (x) => Array.from({ length: 24 }, (_, i) => x[Math.floor(i / 4) % 3]),
    });
  },
);

function mm(
  a: Float64Array,
  b: Float64Array,
  M: number,
  K: number,
  N: number,
  tA: boolean,
  tB: boolean,
) {
  const y = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += (tA ? a[k * M + i] : a[i * K + k]) * (tB ? b[j * K + k] : b[k * N + j]);
      }
      y[i * N + j] = s;
    }
  }
  return y;
}

gpuTest(
  "matmul in all transpose forms, batched and broadcast, and linear: f64 finite differences",
  async () => {
    const [M, K, N] = [5, 19, 7]; // not tile multiples
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        await gradCheck({
          inputs: [{ shape: tA ? [K, M] : [M, K] }, { shape: tB ? [N, K] : [K, N] }],
          gpu: (a, b) => matmul(a, b, { transA: tA, transB: tB }),
          ref: (a, b) => mm(a, b, M, K, N, tA, tB),
        }).catch((e) => {
          throw new Error(`transA ${tA} transB ${tB}: ${e.message}`);
        });
      }
    }
    // Batched [2,M,K]·[K,N] (b broadcast over the batch).
    await gradCheck({
      inputs: [{ shape: [2, M, K] }, { shape: [K, N] }],
      gpu: (a, b) => matmul(a, b),
      ref: (
        a,
        b,
      ) => [
        ...mm(a.slice(0, M * K), b, M, K, N, false, false),
        ...mm(a.slice(M * K), b, M, K, N, false, false),
      ],
    });
    // linear with bias, 3 rows (GEMV path) and 11 rows (tiled path), x [.., in] 3-D.
    for (const rows of [3, 11]) {
      await gradCheck({
        inputs: [{ shape: [1, rows, K] }, { shape: [N, K] }, { shape: [N] }],
        gpu: (x, w, b) => linear(x, w, b),
        ref: (x, w, b) => mm(x, w, rows, K, N, false, true).map((v, i) => v + b[i % N]),
      }).catch((e) => {
        throw new Error(`linear ${rows} rows: ${e.message}`);
      });
    }
    // A constant input: only the weight is differentiated.
    await gradCheck({
      inputs: [{ shape: [1, K], constant: true }, { shape: [N, K] }],
      gpu: (x, w) => linear(x, w),
      ref: (x, w) => mm(x, w, 1, K, N, false, true),
    });
  },
);

gpuTest("an empty-shape input and one-row inputs still differentiate", async () => {
  await gradCheck({
    inputs: [{ shape: [1, 1] }, { shape: [1, 1] }],
    gpu: (a, b) => matmul(a, b),
    ref: (a, b) => [a[0] * b[0]],
  });
  using _unused = Tensor.zeros([1]);
});
