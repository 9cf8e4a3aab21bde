/**
 * From a quantized tensor to packed GPU storage and back: `pack` writes the
 * codes into the bit-stream layout of `kernels/lowbit/layout.ts` with the
 * scales the low-bit kernels read; `unpack` recovers the codes.
 * `PackedLinear` runs a model's linear layer on the low-bit matmul kernels.
 *
 * The kernel format follows from the quantizer: symmetric `int<b>` → `int<b>`;
 * asymmetric `uint<b>` → `int<b>` with zero points; E2M1 with E4M3 block scales
 * → `nvfp4`, with E8M0 → `mxfp4`, with float scales → `fp4`; `nf4`, `ternary`,
 * `binary` → themselves; any other ≤ 8-bit format → `codebook<b>` with its
 * value table. Scales per input channel (`per: "channel-in"`) have no packed
 * layout and are rejected.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantize } from "./quantize.ts";
 * import { pack, unpack } from "./pack.ts";
 * await initGPU();
 * using w = Tensor.randn([4, 64], { seed: 0 });
 * using q = await quantize(int(4, { group: 32 }), w);
 * using p = await pack(q);
 * console.log(p.format, p.codes.shape); // "int4" [4, 8]
 * console.log(String(await unpack(p)) === String(Uint8Array.from(await q.codes.data()))); // true
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import {
  createPackedWeight,
  type LowbitFormat,
  type PackedWeight,
  packWeights,
  unpackWeights,
} from "../kernels/lowbit/layout.ts";
import { lowbitMatmul } from "../kernels/lowbit/kernel.ts";
import type { Linear } from "../model/linear.ts";
import { elementFormat, type Quantizer } from "./quantizer.ts";
import { e4m3, e8m0 } from "./formats/index.ts";
import { type QuantLinear, streamFormat } from "./linear.ts";
import type { QuantizedTensor } from "./quantize.ts";

/**
 * The low-bit kernel format that stores codes of `q`.
 *
 * @example
 * ```ts
 * import { lowbitFormatOf } from "./pack.ts";
 * import { int, mxfp4, nvfp4, quantizer } from "./quantizer.ts";
 * console.log(lowbitFormatOf(int(3)), lowbitFormatOf(nvfp4()), lowbitFormatOf(mxfp4())); // int3 nvfp4 mxfp4
 * console.log(lowbitFormatOf(quantizer("e3m2"))); // codebook6
 * ```
 */
export function lowbitFormatOf(q: Quantizer): LowbitFormat {
  const fmt = elementFormat(q.format);
  const g = q.granularity;
  if (g.kind === "channel" && g.axis === 1) {
    throw new RangeError(
      `${q.format}: scales per input channel have no packed layout (scales run along rows); ` +
        `quantize per output channel or per group to pack`,
    );
  }
  const int = /^u?int([2-8])r?$/.exec(q.format);
  if (int) return `int${int[1]}` as LowbitFormat;
  if (q.format === "e2m1") {
    return q.scale === "e4m3" ? "nvfp4" : q.scale === "e8m0" ? "mxfp4" : "fp4";
  }
  if (q.format === "nf4" || q.format === "ternary" || q.format === "binary") return q.format;
  if (q.scale === "e4m3" || q.scale === "e8m0") {
    throw new RangeError(`${q.format} with ${q.scale} block scales has no packed kernel format`);
  }
  return `codebook${fmt.bits}` as LowbitFormat;
}

/**
 * Packs a quantized 2-D weight for the low-bit kernels (scales as f32, so
 * the packed layer computes with exactly the quantized values).
 */
export async function pack(q: QuantizedTensor): Promise<PackedWeight> {
  if (q.shape.length !== 2) throw new RangeError(`pack: need a 2-D weight, got [${q.shape}]`);
  const format = lowbitFormatOf(q.quantizer);
  const shape = q.shape as [number, number];
  const codes = await q.codes.data();
  const words = packWeights(codes, shape, format);
  const fmt = elementFormat(q.quantizer.format);
  const blockScaled = format === "nvfp4" || format === "mxfp4";
  return createPackedWeight({
    format,
    shape,
    groupSize: q.groupSize,
    words,
    scales: blockScaled ? q.scaleCodes! : q.scales,
    scaleDtype: "f32",
    zeros: q.zeros,
    tensorScale: format === "nvfp4" ? q.tensorScale : undefined,
    codebook: format.startsWith("codebook")
      ? Array.from(fmt.values, (v) => (Number.isFinite(v) ? v : 0))
      : undefined,
  });
}

/**
 * The codes of a packed weight, one byte each, row-major `[N, K]`.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { createPackedWeight, packWeights } from "../kernels/lowbit/layout.ts";
 * import { unpack } from "./pack.ts";
 * await initGPU();
 * using w = createPackedWeight({ format: "int2", shape: [1, 4], words: packWeights([0, 1, 2, 3], [1, 4], "int2"), scales: [1] });
 * console.log(await unpack(w)); // Uint8Array [0, 1, 2, 3]
 * ```
 */
export async function unpack(w: PackedWeight): Promise<Uint8Array> {
  const words = await w.codes.data() as Uint32Array;
  return unpackWeights(words, w.shape, w.format);
}

/** A linear layer computing on packed low-bit weights with the low-bit matmul kernels. */
export class PackedLinear implements Linear {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Storage bits per weight. */
  readonly bitsPerWeight: number;
  /** The packed weight (owned). */
  readonly weight: PackedWeight;
  /** The bias `[out]`, if any. */
  readonly bias?: Tensor;

  /**
   * A layer on a packed weight.
   * @param weight a packed weight (owned from now on)
   * @param bitsPerWeight storage bits per weight, for reports
   * @param bias optional `[out]` bias (owned)
   */
  constructor(weight: PackedWeight, bitsPerWeight: number, bias?: Tensor) {
    this.weight = weight;
    this.outFeatures = weight.shape[0];
    this.inFeatures = weight.shape[1];
    this.bitsPerWeight = bitsPerWeight;
    this.bias = bias;
  }

  /** `[tokens, in]` → `[tokens, out]` through the low-bit GEMV (≤ 8 tokens) or GEMM kernel. */
  forward(x: Tensor): Tensor {
    return lowbitMatmul(x, this.weight, {
      bias: this.bias,
      outDtype: x.dtype === "f16" ? "f16" : "f32",
    });
  }

  /** Frees the packed weight and bias. */
  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A {@link PackedLinear} from a quantized layer's stored codes: the same
 * weights, now read by the low-bit kernels straight from packed storage.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "../model/linear.ts";
 * import { int } from "./quantizer.ts";
 * import { quantizeLinear } from "./linear.ts";
 * import { packLinear } from "./pack.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([8, 64], { seed: 3 }));
 * using q = await quantizeLinear(dense, int(4, { group: 32 }));
 * using p = packLinear(q);
 * using x = Tensor.randn([2, 64], { seed: 4 });
 * using a = q.forward(x);
 * using b = p.forward(x);
 * const [da, db] = [await a.data(), await b.data()];
 * console.log(da.every((v, i) => Math.abs(v - db[i]) < 1e-4 * (1 + Math.abs(v)))); // true
 * ```
 */
export function packLinear(layer: QuantLinear): PackedLinear {
  const s = layer.stored;
  if (!s) {
    throw new TypeError(`packLinear: ${layer} kept no codes (quantize it with quantizeLinear)`);
  }
  if (layer.act) {
    throw new TypeError(
      `packLinear: ${layer} quantizes its activations; packed layers take float inputs`,
    );
  }
  const format = lowbitFormatOf(s.quantizer);
  const g = s.quantizer.granularity;
  const codes = unpackWeights(s.words, s.shape, streamFormat(s.bits));
  const fmt = elementFormat(s.quantizer.format);
  let scales: ArrayLike<number> = s.scales;
  if (format === "nvfp4" || format === "mxfp4") {
    // the kernels read 8-bit scale codes: re-encode the decode multipliers exactly
    scales = Uint8Array.from(
      s.scales,
      (v) => (format === "nvfp4" ? e4m3.encode(v) : e8m0.fromExponent(Math.log2(v))),
    );
  }
  const weight = createPackedWeight({
    format,
    shape: s.shape,
    groupSize: g.kind === "group" ? s.groupSize : s.shape[1],
    words: packWeights(codes, s.shape, format),
    scales,
    scaleDtype: "f32",
    zeros: s.zeros,
    tensorScale: format === "nvfp4" ? s.tensorScale : undefined,
    codebook: format.startsWith("codebook")
      ? Array.from(fmt.values, (v) => (Number.isFinite(v) ? v : 0))
      : undefined,
  });
  return new PackedLinear(weight, layer.bitsPerWeight, layer.bias?.reshape(layer.bias.shape));
}
