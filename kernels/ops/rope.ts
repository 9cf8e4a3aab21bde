/**
 * Rotary position embedding (RoPE) in the HF transformers Llama convention:
 * "rotate_half" pairs element i with element i + d/2 (not interleaved pairs):
 *
 * ```text
 * y[i]       = x[i]       · cos θᵢ − x[i + d/2] · sin θᵢ
 * y[i + d/2] = x[i + d/2] · cos θᵢ + x[i]       · sin θᵢ      θᵢ = pos · invFreq[i]
 * ```
 *
 * Like HF (`LlamaRotaryEmbedding`, which disables autocast for it), θ, cos and
 * sin are computed in f32 on the GPU; the angle is first reduced modulo 2π in
 * extended precision (Cody–Waite, three-part 2π) so cos/sin stay accurate for
 * long contexts on GPUs whose native cos/sin are only accurate on [−π, π].
 * For f16 inputs cos and sin are rounded to f16 and the products and sum are
 * done in f16, as HF's `q * cos + rotate_half(q) * sin` does in half precision.
 *
 * The gradient (recorded for `x` only; `invFreq` is a constant) is the
 * transposed rotation, `rope(g, invFreq, { inverse: true })`.
 *
 * Reference: `tests/reference/rope.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rope, ropeInvFreq } from "./rope.ts";
 * await initGPU();
 * using q = Tensor.fromArray([1, 0, 0, 0], [1, 1, 4]); // [seq, heads, headDim]
 * using y = rope(q, ropeInvFreq(4, 10000), { offset: 1 });
 * console.log(await y.data()); // Float32Array [0.5403023, 0, 0.84147096, 0]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, header } from "./wgsl.ts";
import { record } from "../autograd.ts";

const WG = 256;

/** Options of {@link rope}. */
export interface RopeOptions {
  /** Position of the first sequence element (the KV-cache length when decoding). Default 0. */
  offset?: number;
  /**
   * Multiplies cos and sin (HF's `attention_scaling`; 1 for default RoPE,
   * other values for e.g. YaRN). Default 1.
   */
  scaling?: number;
  /**
   * Axis order: `"bshd"` = `[batch, seq, heads, headDim]` (the projection's
   * output viewed per head, the default) or `"bhsd"` = `[batch, heads, seq,
   * headDim]` (HF's layout after `transpose(1, 2)`). Rank 3 drops the batch.
   */
  layout?: "bshd" | "bhsd";
  /**
   * Rotates by −θ instead: the transpose of the rotation, which undoes it
   * when `scaling` is 1 (and is the gradient rule in any case). Default false.
   */
  inverse?: boolean;
}

/**
 * HF's default inverse frequencies `1 / base^(2i/d)` for i < d/2, computed in
 * f32 steps like `LlamaRotaryEmbedding` (exponent `f32(2i) / d`, then the
 * power and the reciprocal rounded to f32).
 *
 * @example
 * ```ts
 * import { ropeInvFreq } from "./rope.ts";
 * console.log(ropeInvFreq(4, 10000)); // Float32Array [1, 0.009999999776482582]
 * ```
 */
export function ropeInvFreq(headDim: number, base = 10000): Float32Array {
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2) {
    throw new RangeError(`ropeInvFreq: headDim ${headDim} must be an even integer ≥ 2`);
  }
  if (!(base > 0)) throw new RangeError(`ropeInvFreq: base ${base} must be > 0`);
  const f = Math.fround;
  return Float32Array.from(
    { length: headDim / 2 },
    (_, i) => f(1 / f(base ** f((2 * i) / headDim))),
  );
}

// 2π = C1 + C2 + C3, C1 with 8 significant bits so k·C1 is exact for |k| < 2^16.
const C1 = 6.28125;
const C2 = Math.fround(2 * Math.PI - C1);
const C3 = Math.fround(2 * Math.PI - C1 - C2);

/**
 * Applies rotary position embedding to `x` (`[batch, seq, heads, headDim]`,
 * `[seq, heads, headDim]`, or the `"bhsd"` layouts; f32 or f16) with the
 * given inverse frequencies (length headDim/2, f32) at positions
 * `offset + s`. Returns a new tensor.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rope, ropeInvFreq } from "./rope.ts";
 * await initGPU();
 * using k = Tensor.randn([2, 5, 3, 8], { seed: 1 }); // batch 2, seq 5, 3 heads, headDim 8
 * using y = rope(k, ropeInvFreq(8, 500000), { offset: 10 });
 * console.log(y.shape); // [2, 5, 3, 8]
 * ```
 */
export function rope(x: Tensor, invFreq: Float32Array | Tensor, options: RopeOptions = {}): Tensor {
  const op = "rope";
  const { offset = 0, scaling = 1, layout = "bshd", inverse = false } = options;
  expectDType(op, x, "f32", "f16");
  if (x.rank !== 3 && x.rank !== 4) {
    throw new RangeError(
      `${op}: ${x.toString()} has rank ${x.rank}; expected [batch, seq, heads, headDim] or ` +
        `[seq, heads, headDim] (layout "${layout}")`,
    );
  }
  if (layout !== "bshd" && layout !== "bhsd") {
    throw new RangeError(`${op}: layout "${layout}" is not "bshd" or "bhsd"`);
  }
  const D = x.shape[x.rank - 1];
  if (D % 2 !== 0) {
    throw new RangeError(`${op}: headDim ${D} of ${x.toString()} must be even`);
  }
  const half = D / 2;
  const nFreq = invFreq instanceof Tensor ? invFreq.size : invFreq.length;
  if (nFreq !== half || (invFreq instanceof Tensor && invFreq.rank !== 1)) {
    throw new RangeError(
      `${op}: invFreq has ${
        invFreq instanceof Tensor ? `shape [${invFreq.shape}]` : `length ${nFreq}`
      }; expected [${half}] (headDim ${D} / 2)`,
    );
  }
  if (invFreq instanceof Tensor) expectDType(`${op} invFreq`, invFreq, "f32");
  if (!Number.isInteger(offset) || offset < 0 || offset >= 2 ** 24) {
    throw new RangeError(`${op}: offset ${offset} must be an integer in [0, 2^24)`);
  }
  if (!Number.isFinite(scaling)) throw new RangeError(`${op}: scaling ${scaling} is not finite`);
  const seqAxis = layout === "bshd" ? x.rank - 3 : x.rank - 2;
  const S = x.shape[seqAxis];
  if (offset + S > 2 ** 24) {
    throw new RangeError(`${op}: positions up to ${offset + S} exceed 2^24 (not exact in f32)`);
  }
  // Rows of D elements; the position of row r is offset + (r / div) % S.
  const div = layout === "bshd" ? x.shape[x.rank - 2] : 1;
  const y = Tensor.empty(x.shape, x.dtype);
  const rows = x.size / (D || 1);
  const n = rows * half;
  if (n === 0) return y;
  const freq = invFreq instanceof Tensor ? invFreq : Tensor.fromArray(invFreq, [half], "f32");
  const T = x.dtype;
  const code = `${header(T)}
struct Params { n: u32, half: u32, div: u32, s: u32, offset: u32, scaling: f32, sign: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> F: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<${T}>;
// θ mod 2π in extended precision (Cody–Waite).
fn reduce_angle(t: f32) -> f32 {
  let k = round(t * ${1 / (2 * Math.PI)});
  return ((t - k * ${C1}) - k * ${C2}) - k * ${C3};
}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let g = ${linearIndex(WG)};
  if (g >= P.n) { return; }
  let row = g / P.half;
  let i = g % P.half;
  let pos = P.offset + (row / P.div) % P.s;
  let theta = reduce_angle(f32(pos) * F[i]);
  let c = ${T}(cos(theta) * P.scaling);
  let s = ${T}(sin(theta) * P.scaling * P.sign);
  let a = row * 2u * P.half + i;
  let x1 = X[a];
  let x2 = X[a + P.half];
  Y[a] = x1 * c - x2 * s;
  Y[a + P.half] = x2 * c + x1 * s;
}`;
  const params = new Params().u(n, half, div, S, offset).f(scaling, inverse ? -1 : 1);
  dispatch(op, code, [x.buffer, freq.buffer, y.buffer], params, grid(n, WG));
  if (freq !== invFreq) freq.dispose();
  // The gradient is the transposed rotation (by −θ); invFreq is a constant.
  const freqs = invFreq instanceof Tensor ? undefined : invFreq.slice();
  return record(
    op,
    [x],
    y,
    invFreq instanceof Tensor ? [invFreq] : [],
    (g, saved) => [rope(g, freqs ?? saved[0], { ...options, inverse: !inverse })],
  );
}
