/**
 * GPTQ (also OPTQ) — one-shot weight quantization with approximate
 * second-order error compensation.
 *
 * E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, "GPTQ: Accurate
 * Post-Training Quantization for Generative Pre-trained Transformers",
 * ICLR 2023, arXiv:2210.17323 (Algorithm 1). Static groups follow the
 * authors' later `static_groups` option; act-order is their
 * "quantize columns in order of decreasing diag(H)" heuristic.
 *
 * Algorithm (one linear layer, W ∈ ℝ^{out×in}, H = 2/n·Σ XᵀX ∈ ℝ^{in×in}):
 *   0. dead inputs (H_jj = 0): H_jj ← 1, W[:, j] ← 0;
 *      optional act-order: permute columns by decreasing H_jj;
 *      H ← H + λI with λ = damp · mean(diag H)
 *   1. U ← Cholesky(H⁻¹)ᵀ  (upper: H⁻¹ = UᵀU)
 *   2. for each block of B columns [s, e):
 *        for j = s … e−1:
 *          if j starts a group (dynamic groups): the group's scales from the current W[:, j:j+g]
 *          Q[:, j] ← quant(W[:, j])
 *          E[:, j] ← (W[:, j] − Q[:, j]) / U_jj
 *          W[:, j:e] ← W[:, j:e] − E[:, j] · U[j, j:e]
 *        W[:, e:] ← W[:, e:] − E[:, s:e] · U[s:e, e:]        (lazy batch update)
 *   3. undo the permutation.
 * Static groups take every group's scales from the original W up front.
 *
 * The per-column loop runs on the GPU (`gptqColumns` in `kernels/ops/gptq.ts`,
 * one invocation per row); step 2's lazy update is a strided GEMM. Column
 * quantization uses exactly the rounding and scale rules of `quantize()`, so
 * with H = I the result equals round-to-nearest bit for bit.
 *
 * @example
 * ```ts
 * import { initGPU, int, ops, Tensor } from "../../mod.ts";
 * import { gptq } from "./gptq.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 32], { seed: 0 });
 * using x = Tensor.randn([64, 32], { seed: 1 });
 * using h = ops.matmul(x, x, { transA: true }); // XᵀX (GPTQ's H up to the factor 2/n)
 * using r = await gptq(w, h, int(3, { group: 16 }), { blockSize: 8 });
 * console.log(r.codes.shape, r.scales.length); // [8, 4] 16 (packed 3-bit codes)
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { absmaxAll, sumAll } from "../../kernels/ops/reduce.ts";
import { mul } from "../../kernels/ops/elementwise.ts";
import { indexSelect } from "../../kernels/ops/gather.ts";
import { narrow } from "../../kernels/ops/layout.ts";
import { gemm } from "../../kernels/ops/matmul.ts";
import { choleskyInverseUpper } from "../../kernels/ops/linalg.ts";
import {
  diagonal,
  type GptqColumnQuant,
  gptqColumns,
  setDiagonal,
} from "../../kernels/ops/gptq.ts";
import { copy, upload } from "../../kernels/runtime.ts";
import { elementFormat, isInt, type Quantizer } from "../quantizer.ts";
import { type QuantizePass, quantizePass } from "../quantize.ts";
import { QuantizedWeight, type QuantizedWeightInit, streamFormat } from "../weight.ts";
import { packWeights } from "../../kernels/lowbit/layout.ts";
import { decisionTable } from "../table.ts";

/** Options of {@link gptq}. */
export interface GptqOptions {
  /** Columns per block of the lazy batch update (B). Default 128. */
  blockSize?: number;
  /** Dampening λ as a fraction of mean(diag H). Default 0.01. */
  damp?: number;
  /** Quantize columns in order of decreasing diag(H). Default false. */
  actOrder?: boolean;
  /** Take all group scales from the original W before the loop (else when each group is entered). */
  staticGroups?: boolean;
  /** Name for error messages. */
  name?: string;
}

/** Numbers describing one GPTQ run. */
export interface GptqStats {
  /** The proxy loss Σ_j ‖W[:, j] − Q[:, j]‖² / (2·U_jj²) summed over columns (the authors' `Losses`). */
  loss: number;
  /** Input columns with H_jj = 0 (their weights were zeroed). */
  deadColumns: number;
  /** The λ added to the diagonal. */
  damping: number;
  /** GPU dispatches of the column kernel. */
  dispatches: number;
}

/**
 * The result of {@link gptq}: a {@link QuantizedWeight} (codes packed, scales
 * row-major `[out, groups]`, in the original column order) plus the
 * dequantized Ŵ the loop produced, the processing order and the run's numbers.
 * With act-order and dynamic groups, `groupIndex` maps each column to its
 * scale group (x̂ = value(code) · scales[r·G + groupIndex[c]] · tensorScale).
 */
export class GptqResult extends QuantizedWeight {
  /** `[out, in]` f32 dequantized weight Ŵ (owned). */
  readonly dequantized: Tensor;
  /** With act-order: the processing order (`permutation[j]` is an original column). */
  readonly permutation?: Int32Array;
  /** Loss, dead columns, damping. */
  readonly stats: GptqStats;

  /**
   * Wraps GPTQ's outputs.
   *
   * @param init the quantized weight's parts (codes owned from now on; Ŵ is not freed on a throw)
   * @param extra Ŵ (owned), the permutation and the run's numbers
   */
  constructor(
    init: QuantizedWeightInit,
    extra: { dequantized: Tensor; permutation?: Int32Array; stats: GptqStats },
  ) {
    super(init);
    this.dequantized = extra.dequantized;
    this.permutation = extra.permutation;
    this.stats = extra.stats;
  }

  /**
   * Hands the codes and Ŵ over as `QuantLinear` parts (owned by the caller);
   * this result is disposed.
   */
  toParts(): { codes: QuantizedWeight; values: Tensor } {
    const parts = { codes: this.view(), values: this.dequantized.reshape(this.dequantized.shape) };
    this.dispose();
    return parts;
  }

  /** Frees the codes and Ŵ. */
  override dispose(): void {
    super.dispose();
    this.dequantized.dispose();
  }
}

/**
 * Quantizes one weight `w` `[out, in]` with GPTQ, given the layer-input
 * Hessian `h` `[in, in]` (e.g. from `calib.HessianObserver`). Neither input
 * is modified. Throws on NaN/Inf in `w` (naming the element) or in diag(h),
 * and when H + λI is not positive definite (asking for more damping).
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { quantize } from "../weight.ts";
 * import { gptq } from "./gptq.ts";
 * await initGPU();
 * // with H = I GPTQ is round-to-nearest
 * using w = Tensor.randn([4, 16], { seed: 3 });
 * using h = Tensor.fromArray(Array.from({ length: 256 }, (_, i) => (i % 17 === 0 ? 1 : 0)), [16, 16]);
 * using g = await gptq(w, h, int(4, { group: 8 }));
 * using r = await quantize(int(4, { group: 8 }), w);
 * console.log(String(await g.codes.data()) === String(await r.codes.data())); // true
 * ```
 */
export async function gptq(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  options: GptqOptions = {},
): Promise<GptqResult> {
  const { blockSize = 128, damp = 0.01, actOrder = false, staticGroups = false } = options;
  const name = options.name ?? w.name ?? "weight";
  if (w.rank !== 2 || w.dtype !== "f32") {
    throw new RangeError(`gptq ${name}: expected an f32 weight [out, in], got ${w}`);
  }
  const [rows, n] = w.shape;
  if (h.rank !== 2 || h.shape[0] !== n || h.shape[1] !== n || h.dtype !== "f32") {
    throw new RangeError(`gptq ${name}: the Hessian ${h} must be f32 [${n}, ${n}] (in × in)`);
  }
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > 1024) {
    throw new RangeError(`gptq ${name}: blockSize ${blockSize} must be an integer in [1, 1024]`);
  }
  if (!(damp >= 0) || !Number.isFinite(damp)) {
    throw new RangeError(`gptq ${name}: damp ${damp} must be finite and ≥ 0`);
  }
  const gran = q.granularity;
  if (gran.kind === "channel" && gran.axis === 1) {
    throw new RangeError(`gptq ${name}: per-input-channel scales are not supported (use groups)`);
  }
  if (q.rounding.kind !== "nearest") {
    throw new RangeError(
      `gptq ${name}: GPTQ rounds to nearest; stochastic rounding is not supported`,
    );
  }
  const g = gran.kind === "group" ? gran.size : n;
  if (n % g !== 0) {
    throw new RangeError(`gptq ${name}: group size ${g} does not divide the ${n} input columns`);
  }
  const G = n / g; // groups per row
  // group granularity with more than one group is where dynamic scales differ from static ones
  const dynamic = !staticGroups && gran.kind === "group" && G > 1;
  const fmt = elementFormat(q.format);

  // 0. round-to-nearest of the original W: finds NaN/Inf, and gives the static scales
  using rtnQ = await quantizePass(q, w, { name });
  let tensorAmax: number | undefined;
  if (q.scale === "e4m3") {
    using amax = absmaxAll(w);
    tensorAmax = (await amax.data())[0];
  }

  // 0. dead columns, act-order, damping
  const diag = Float32Array.from(await readDiagonal(h));
  const bad = diag.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new RangeError(`gptq ${name}: the Hessian's diagonal is ${diag[bad]} at column ${bad}`);
  }
  const dead: number[] = [];
  diag.forEach((v, j) => {
    if (v === 0) {
      dead.push(j);
      diag[j] = 1;
    }
  });
  const perm = Int32Array.from({ length: n }, (_, j) => j);
  if (actOrder) perm.sort((a, b) => diag[b] - diag[a] || a - b);
  let mean = 0;
  for (const v of diag) mean += v;
  mean /= Math.max(n, 1);
  const lambda = damp * mean;
  const dampedDiag = Float32Array.from(perm, (j) => diag[j] + lambda);

  using hp = actOrder ? permuteBoth(h, perm) : copyOf(h);
  setDiagonal(hp, dampedDiag);
  // 1. U = chol(H⁻¹)ᵀ
  using u = choleskyInverseUpper(hp);
  const ud = await readDiagonal(u);
  const notPd = ud.findIndex((v) => !(v > 0) || !Number.isFinite(v));
  if (notPd >= 0) {
    throw new RangeError(
      `gptq ${name}: H + λI is not positive definite (U[${notPd}, ${notPd}] = ${ud[notPd]}, ` +
        `λ = ${lambda.toPrecision(3)}); increase damp (now ${damp})`,
    );
  }

  // the working copy of W in processing order, dead columns zeroed
  const wp = actOrder ? indexSelect(w, 1, perm) : copyOf(w);
  try {
    if (dead.length) {
      const keep = new Float32Array(n).fill(1);
      for (const j of dead) keep[perm.indexOf(j)] = 0;
      using mask = Tensor.fromArray(keep, [1, n]);
      const z = mul(wp, mask);
      copyInto(z, wp);
      z.dispose();
    }

    // the group of each processing-order column, and the scale tables (group-major)
    const groupOfCol = Int32Array.from(
      perm,
      (c, j) => (dynamic ? Math.floor(j / g) : Math.floor(c / g)),
    );
    using groupOf = Tensor.fromArray(Uint32Array.from(groupOfCol), [n], "u32");
    const tables = new ScaleTables(q, rows, G);
    if (!dynamic) tables.setAll(rtnQ);

    const out = {
      codes: Tensor.empty([rows, n], "u32"),
      dequantized: Tensor.empty([rows, n], "f32"),
      err: Tensor.empty([rows, n], "f32"),
    };
    let dispatches = 0;
    try {
      // 2. blocks of B columns
      for (let s = 0; s < n;) {
        let e = Math.min(s + blockSize, n);
        if (dynamic) {
          // a group that starts inside the block must end inside it (its scales read current values)
          const first = Math.ceil((s + 1) / g) * g;
          for (let t = first; t < e; t += g) {
            if (t + g > e) {
              e = t;
              break;
            }
          }
        }
        for (let a = s; a < e;) {
          let b = e;
          if (dynamic) {
            if (a % g === 0) {
              using cur = narrow(wp, 1, a, g);
              using qt = await quantizePass(q, cur, { name, tensorAmax });
              tables.setGroup(a / g, qt);
            }
            b = Math.min(e, (Math.floor(a / g) + 1) * g);
          }
          gptqColumns({
            w: wp,
            u,
            groupOf,
            block: [s, e],
            columns: [a, b],
            quant: tables.kernelQuant(fmt),
            out,
          });
          dispatches++;
          a = b;
        }
        // lazy batch update: W[:, e:] −= E[:, s:e] · U[s:e, e:]
        if (e < n) {
          gemm({
            a: { buffer: out.err.buffer, offset: s, ld: n },
            b: { buffer: u.buffer, offset: s * n + e, ld: n },
            c: { buffer: wp.buffer, offset: e, ld: n },
            M: rows,
            N: n - e,
            K: e - s,
            alpha: -1,
            accumulate: true,
          });
        }
        s = e;
      }
      using sq = mul(out.err, out.err);
      using total = sumAll(sq);
      const loss = (await total.data())[0] / 2;

      // 3. back to the original column order
      const inv = new Int32Array(n);
      perm.forEach((c, j) => (inv[c] = j));
      const codes = actOrder ? indexSelect(out.codes, 1, inv) : out.codes;
      const dequantized = actOrder ? indexSelect(out.dequantized, 1, inv) : out.dequantized;
      if (actOrder) {
        out.codes.dispose();
        out.dequantized.dispose();
      }
      const groupIndex = new Int32Array(n);
      perm.forEach((c, j) => (groupIndex[c] = groupOfCol[j]));
      const tablesOut = tables.rowMajor();
      tables.dispose();
      const words = packWeights(
        await codes.data() as Uint32Array,
        [rows, n],
        streamFormat(fmt.bits),
      );
      codes.dispose();
      if (actOrder) out.dequantized = dequantized; // the catch below frees it on a throw
      const result = new GptqResult({
        quantizer: q,
        shape: [rows, n],
        groupSize: g,
        codes: words,
        ...tablesOut,
        tensorScale: rtnQ.tensorScale,
        groupIndex,
        name,
      }, {
        dequantized,
        permutation: actOrder ? perm : undefined,
        stats: { loss, deadColumns: dead.length, damping: lambda, dispatches },
      });
      return result;
    } catch (err) {
      out.codes.dispose();
      out.dequantized.dispose();
      tables.dispose();
      throw err;
    } finally {
      out.err.dispose();
    }
  } finally {
    wp.dispose();
  }
}

/** Per-(group, row) scale tables on the GPU (group-major) and their CPU copies. */
class ScaleTables {
  readonly s0: Tensor; // encode scale, or the affine scale
  readonly s1: Tensor; // decode multiplier, or the affine zero point
  readonly dec: Float32Array; // row-major [rows, G]
  readonly zero?: Float32Array;
  readonly codes?: Uint8Array;
  decode2 = 1;
  constructor(readonly q: Quantizer, readonly rows: number, readonly groups: number) {
    this.s0 = Tensor.zeros([groups * rows]);
    this.s1 = Tensor.zeros([groups * rows]);
    this.dec = new Float32Array(rows * groups);
    if (!q.symmetric) this.zero = new Float32Array(rows * groups);
    if (q.scale === "e8m0" || q.scale === "e4m3") this.codes = new Uint8Array(rows * groups);
  }

  /** The rounding rule of the kernel for this quantizer. */
  kernelQuant(fmt: ReturnType<typeof elementFormat>): GptqColumnQuant {
    if (!this.q.symmetric) {
      if (!isInt(fmt)) throw new RangeError(`${this.q.format}: asymmetric needs an integer format`);
      return {
        kind: "affine",
        qmin: fmt.qmin,
        qmax: fmt.qmax,
        bits: fmt.bits,
        scale: this.s0,
        zero: this.s1,
      };
    }
    const mode = this.q.scale === "e8m0" || this.q.scale === "e4m3" ? "mul" : "div";
    return {
      kind: "table",
      table: decisionTable(fmt),
      encode: this.s0,
      decode: this.s1,
      mode,
      decode2: this.decode2,
    };
  }

  /** Static: every group from one quantize() of the whole W (row-major groups of `groupSize`). */
  setAll(qt: QuantizePass): void {
    const per = qt.scales.length / this.rows; // groups per row in qt (1 for per-tensor/channel)
    for (let k = 0; k < this.groups; k++) this.#fill(k, qt, (r) => r * per + k);
  }

  /** Dynamic: group k from a quantize() of the current columns (one group per row). */
  setGroup(k: number, qt: QuantizePass): void {
    this.#fill(k, qt, (r) => r);
  }

  #fill(k: number, qt: QuantizePass, at: (r: number) => number): void {
    const { rows } = this;
    const enc = new Float32Array(rows), second = new Float32Array(rows);
    this.decode2 = qt.tensorScale;
    for (let r = 0; r < rows; r++) {
      const i = at(r), o = r * this.groups + k;
      const dec = qt.scales[i];
      this.dec[o] = dec;
      if (this.codes && qt.scaleCodes) this.codes[o] = qt.scaleCodes[i];
      if (this.zero && qt.zeros) {
        this.zero[o] = qt.zeros[i];
        enc[r] = dec;
        second[r] = qt.zeros[i];
        continue;
      }
      second[r] = dec;
      // the encode side of quantize(): e8m0 multiplies by 2^−e, e4m3 by 1/(dec·tensorScale)
      if (this.q.scale === "e8m0") enc[r] = 1 / dec;
      else if (this.q.scale === "e4m3") {
        enc[r] = Math.min(Math.fround(1 / Math.fround(dec * qt.tensorScale)), F32_MAX);
      } else enc[r] = dec > 0 ? dec : 1;
    }
    upload(this.s0.buffer, enc, k * rows * 4);
    upload(this.s1.buffer, second, k * rows * 4);
  }

  /** The CPU copies, row-major `[rows, groups]`. */
  rowMajor(): { scales: Float32Array; zeros?: Float32Array; scaleCodes?: Uint8Array } {
    return { scales: this.dec, zeros: this.zero, scaleCodes: this.codes };
  }

  dispose(): void {
    this.s0.dispose();
    this.s1.dispose();
  }
}

const F32_MAX = 3.4028234663852886e38;

async function readDiagonal(m: Tensor): Promise<Float32Array> {
  using d = diagonal(m);
  return await d.data() as Float32Array;
}

function copyOf(t: Tensor): Tensor {
  const c = Tensor.empty(t.shape, t.dtype);
  copyInto(t, c);
  return c;
}

function copyInto(src: Tensor, dst: Tensor): void {
  copy(src.buffer, 0, dst.buffer, 0, src.byteLength);
}

function permuteBoth(h: Tensor, perm: Int32Array): Tensor {
  using rowsFirst = indexSelect(h, 0, perm);
  return indexSelect(rowsFirst, 1, perm);
}
