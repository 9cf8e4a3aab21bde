/**
 * Pure-TS reference for kernels/ops/matmul.ts: the triple loop in f64,
 * obviously correct and slow.
 * @module
 */

/** A row-major matrix (or a batch of them) on the CPU. */
export interface Mat {
  data: ArrayLike<number>;
  /** [rows, cols] or [batch, rows, cols] as stored (before any transpose). */
  shape: number[];
}

/**
 * op(a)·op(b) in f64 with a 2-D operand broadcast over the other's batch.
 * Returns the flat row-major result and its shape.
 */
export function matmulRef(
  a: Mat,
  b: Mat,
  { transA = false, transB = false }: { transA?: boolean; transB?: boolean } = {},
): { data: Float64Array; shape: number[] } {
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const M = transA ? ac : ar, K = transA ? ar : ac;
  const N = transB ? br : bc;
  const batched = a.shape.length === 3 || b.shape.length === 3;
  const batch = a.shape.length === 3 ? a.shape[0] : b.shape.length === 3 ? b.shape[0] : 1;
  const sa = a.shape.length === 3 ? ar * ac : 0;
  const sb = b.shape.length === 3 ? br * bc : 0;
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const av = transA ? a.data[z * sa + k * ac + i] : a.data[z * sa + i * ac + k];
          const bv = transB ? b.data[z * sb + j * bc + k] : b.data[z * sb + k * bc + j];
          s += av * bv;
        }
        out[(z * M + i) * N + j] = s;
      }
    }
  }
  return { data: out, shape: batched ? [batch, M, N] : [M, N] };
}

/** x·wᵀ + bias for x [rows, in], w [out, in], bias [out], in f64. */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  rows: number,
  inF: number,
  outF: number,
): Float64Array {
  const y = matmulRef({ data: x, shape: [rows, inF] }, { data: w, shape: [outF, inF] }, {
    transB: true,
  }).data;
  if (bias) { for (let i = 0; i < y.length; i++) y[i] += bias[i % outF]; }
  return y;
}
