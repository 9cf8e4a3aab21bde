/**
 * `QuantizedWeight`: the one representation of a quantized 2-D weight,
 * end to end. `quantize()` returns it, every layer solver returns it (GPTQ's
 * result extends it), `QuantLinear` computes with it, and checkpoints store
 * exactly its fields.
 *
 * Fields, for a weight `[out, in]` quantized with groups of `groupSize`
 * columns (G = in / groupSize groups per row):
 * - `codes`: u32 `[out, rowWords]` on the GPU, in the packed layout of
 *   `kernels/lowbit/layout.ts` (per row, `in` codes of `bits` bits as one
 *   little-endian bit stream, rows 16-byte aligned); the low-bit kernels read
 *   it as is;
 * - `scales`: f32 decode multipliers, row-major `[out, G]` (`[in]` for
 *   per-input-channel scales), `value = table[code] · scale · tensorScale`;
 * - `zeros` (asymmetric integers): `value = (code − zero) · scale`;
 * - `scaleCodes`: the stored E8M0 (MX) / E4M3 (NVFP4) bytes behind `scales`;
 * - `tensorScale`: NVFP4's f32 per-tensor decode scale (1 otherwise);
 * - `quantizer`: the plain-data {@link Quantizer} that made it.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantize } from "./weight.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 64], { seed: 1 });
 * using q = await quantize(int(4, { group: 32 }), w);
 * console.log(q.codes.shape, q.scales.length, q.bitsPerWeight); // [8, 8] 16 4.5
 * using x = Tensor.randn([2, 64], { seed: 2 });
 * using y = q.matmul(x); // the low-bit kernel, straight from the packed codes
 * console.log(y.shape); // [2, 8]
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { weightBundle } from "./show.ts";
import {
  createPackedWeight,
  type LowbitFormat,
  type PackedWeight,
  packWeights,
  rowWords,
  unpackWeights,
} from "../kernels/lowbit/layout.ts";
import { lowbitMatmul } from "../kernels/lowbit/kernel.ts";
import type { Storage } from "../kernels/lowbit/codegen.ts";
import { familyOf, scaleFormats } from "./formats/mod.ts";
import { tableDequantize } from "../kernels/quantize/mod.ts";
import { mul, sub } from "../kernels/ops/elementwise.ts";
import { bitsPerWeight, describe, elementFormat, type Quantizer } from "./quantizer.ts";
import { decisionTable } from "./table.ts";
import { type QuantizeOptions, type QuantizePass, quantizePass } from "./quantize.ts";

/** The bit-stream format of `bits`-bit codes in the packed layout. */
export function streamFormat(bits: number): "binary" | `int${2 | 3 | 4 | 5 | 6 | 7 | 8}` {
  if (bits === 1) return "binary";
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`no packed bit stream for ${bits}-bit codes (1 to 8 bits are supported)`);
  }
  return `int${bits}` as `int${2 | 3 | 4 | 5 | 6 | 7 | 8}`;
}

/**
 * The kernel storage that computes with codes of `q`: the one its format's
 * family record gives (`quant/formats/`), for the scale format `q` stores.
 *
 * Symmetric `int<b>` and asymmetric `uint<b>` → `int<b>` (with zero points);
 * E2M1 with E4M3 block scales → `nvfp4`, with E8M0 → `mxfp4`, with float
 * scales → `fp4`; `binary` → itself; ternary → `int2`; any other ≤ 8-bit
 * format (NF4 included) → `codebook<b>` with the format's own value table, so
 * the kernels get the values from the weight. Scales per input channel have
 * no kernel (scales run along rows) and are rejected.
 *
 * @example
 * ```ts
 * import { kernelStorageOf } from "./weight.ts";
 * import { int, nvfp4, quantizer } from "./quantizer.ts";
 * console.log(kernelStorageOf(int(3)).name, kernelStorageOf(nvfp4()).name); // int3 nvfp4
 * console.log(kernelStorageOf(quantizer("nf4")).codebookSize); // 16
 * ```
 */
export function kernelStorageOf(q: Quantizer): Storage {
  const fmt = elementFormat(q.format);
  const g = q.granularity;
  if (g.kind === "channel" && g.axis === 1) {
    throw new RangeError(
      `${q.format}: scales per input channel have no packed kernel (scales run along rows); ` +
        `quantize per output channel or per group to run on the low-bit kernels`,
    );
  }
  const storage = familyOf(fmt).storage(fmt, scaleFormats[q.scale]);
  if (!storage) {
    throw new RangeError(
      `${q.format} with ${q.scale} scales has no packed kernel format; quantize with ` +
        `f16/f32 scales (or a format whose family has a kernel) to run on the low-bit kernels`,
    );
  }
  return storage;
}

/**
 * The name of the kernel storage of `q` ({@link kernelStorageOf}).
 *
 * @example
 * ```ts
 * import { kernelFormatOf } from "./weight.ts";
 * import { int, mxfp4, nvfp4, quantizer } from "./quantizer.ts";
 * console.log(kernelFormatOf(int(3)), kernelFormatOf(nvfp4()), kernelFormatOf(mxfp4())); // int3 nvfp4 mxfp4
 * console.log(kernelFormatOf(quantizer("e3m2")), kernelFormatOf(quantizer("nf4"))); // codebook6 codebook4
 * ```
 */
export function kernelFormatOf(q: Quantizer): LowbitFormat {
  return kernelStorageOf(q).name as LowbitFormat;
}

/** What a {@link QuantizedWeight} is made of (see the module doc for the layout). */
export interface QuantizedWeightInit {
  /** The quantizer that produced the codes. */
  quantizer: Quantizer;
  /** `[out, in]`. */
  shape: readonly [number, number] | readonly number[];
  /** Codes per scale group along `in` (`in` for per-channel and per-tensor). */
  groupSize: number;
  /** Packed code words `[out, rowWords]`: a u32 tensor (owned from now on) or an array. */
  codes: Tensor | Uint32Array;
  /** Decode multipliers, row-major `[out, G]` (`[in]` per input channel; 1 for per-tensor). */
  scales: Float32Array;
  /** Zero points, laid out like `scales` (asymmetric integers). */
  zeros?: Float32Array;
  /** Stored E8M0 / E4M3 scale bytes, laid out like `scales` (MX, NVFP4). */
  scaleCodes?: Uint8Array;
  /** NVFP4's per-tensor decode scale (default 1). */
  tensorScale?: number;
  /**
   * The scale group of every input column (HF GPTQ's `g_idx`), when it is not
   * ⌊c / groupSize⌋ (GPTQ act-order with dynamic groups). Such a weight
   * dequantizes, but has no packed kernel.
   */
  groupIndex?: Int32Array;
  /** Name for error messages. */
  name?: string;
}

/** A quantized 2-D weight: packed codes on the GPU, scales, and the quantizer. */
export class QuantizedWeight implements Disposable {
  /** The quantizer that produced it. */
  readonly quantizer: Quantizer;
  /** `[out, in]`. */
  readonly shape: readonly [number, number];
  /** Codes per scale group along `in`. */
  readonly groupSize: number;
  /** Bits per code in the packed stream. */
  readonly bits: number;
  /** u32 `[out, rowWords]`: the codes in the kernels' packed layout. */
  readonly codes: Tensor;
  /** Decode multipliers (see the module doc). */
  readonly scales: Float32Array;
  /** Zero points (asymmetric integers). */
  readonly zeros?: Float32Array;
  /** E8M0 / E4M3 scale bytes (MX, NVFP4). */
  readonly scaleCodes?: Uint8Array;
  /** NVFP4's per-tensor decode scale (1 otherwise). */
  readonly tensorScale: number;
  /** The scale group of every column when it is not ⌊c / groupSize⌋ (see the init). */
  readonly groupIndex?: Int32Array;
  #kernel?: PackedWeight;

  /**
   * Checks the parts against each other and takes ownership of `codes`.
   *
   * @param init the parts (a wrong bit width shows as a code-word count that does not fit)
   */
  constructor(init: QuantizedWeightInit) {
    const name = init.name ?? "QuantizedWeight";
    const shape = init.shape.length === 1 ? [1, init.shape[0]] : init.shape;
    if (shape.length !== 2 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
      throw new RangeError(`${name}: shape [${init.shape}] must be [out, in] of positive integers`);
    }
    const [rows, cols] = shape as [number, number];
    const bits = elementFormat(init.quantizer.format).bits;
    const stride = rowWords(cols, streamFormat(bits));
    const words = init.codes instanceof Tensor ? init.codes.size : init.codes.length;
    if (words !== rows * stride) {
      if (init.codes instanceof Tensor) init.codes.dispose();
      throw new RangeError(
        `${name}: ${words} code words do not hold [${rows}, ${cols}] ${bits}-bit codes of ` +
          `${describe(init.quantizer)} (expected ${rows}×${stride} words); the stored bit width ` +
          `or shape is wrong`,
      );
    }
    const g = init.quantizer.granularity;
    const groups = g.kind === "channel" && g.axis === 1 ? cols : rows * (cols / init.groupSize);
    const parts = { scales: init.scales, zeros: init.zeros, scaleCodes: init.scaleCodes };
    for (const [what, a] of Object.entries(parts)) {
      // per-tensor scales may be given once or once per row
      if (a && a.length !== groups && !(g.kind === "tensor" && a.length === 1)) {
        if (init.codes instanceof Tensor) init.codes.dispose();
        throw new RangeError(
          `${name}: ${a.length} ${what} for ${groups} groups of [${rows}, ${cols}] with group ` +
            `size ${init.groupSize}`,
        );
      }
    }
    this.quantizer = init.quantizer;
    this.shape = [rows, cols];
    this.groupSize = init.groupSize;
    this.bits = bits;
    this.codes = init.codes instanceof Tensor
      ? init.codes
      : Tensor.fromArray(init.codes, [rows, stride], "u32");
    this.scales = init.scales;
    this.zeros = init.zeros;
    this.scaleCodes = init.scaleCodes;
    this.tensorScale = init.tensorScale ?? 1;
    const gi = init.groupIndex;
    if (gi && gi.length !== cols) {
      this.codes.dispose();
      throw new RangeError(`${name}: groupIndex has ${gi.length} entries for ${cols} columns`);
    }
    // keep a group index only when it is not the plain ⌊c / groupSize⌋
    this.groupIndex = gi?.some((k, c) => k !== Math.floor(c / init.groupSize)) ? gi : undefined;
  }

  /**
   * Packs the unpacked codes of a quantization pass (one u32 per element).
   *
   * @param pass the output of `quantizePass` or a layer solver (its codes are read, not taken)
   */
  static async fromPass(pass: QuantizePass | QuantizedWeightParts): Promise<QuantizedWeight> {
    const shape = pass.shape.length === 1 ? [1, pass.shape[0]] : pass.shape;
    const codes = await pass.codes.data();
    const bits = elementFormat(pass.quantizer.format).bits;
    return new QuantizedWeight({
      quantizer: pass.quantizer,
      shape,
      groupSize: pass.groupSize,
      codes: packWeights(codes, shape, streamFormat(bits)),
      scales: pass.scales,
      zeros: pass.zeros,
      scaleCodes: pass.scaleCodes,
      tensorScale: pass.tensorScale,
    });
  }

  /** A second handle on the same GPU codes and scales (dispose each handle). */
  view(): QuantizedWeight {
    return new QuantizedWeight({
      quantizer: this.quantizer,
      shape: this.shape,
      groupSize: this.groupSize,
      codes: this.codes.reshape(this.codes.shape),
      scales: this.scales,
      zeros: this.zeros,
      scaleCodes: this.scaleCodes,
      tensorScale: this.tensorScale,
      groupIndex: this.groupIndex,
    });
  }

  /** Storage bits per weight: code bits plus scales, zeros and the tensor scale. */
  get bitsPerWeight(): number {
    return bitsPerWeight(this.quantizer, this.shape);
  }

  /** The low-bit kernel format that runs this weight (throws when none does). */
  get kernelFormat(): LowbitFormat {
    return kernelFormatOf(this.quantizer);
  }

  /** The codes, one byte each, row-major `[out, in]` (read back from the GPU). */
  async unpackCodes(): Promise<Uint8Array> {
    const words = await this.codes.data() as Uint32Array;
    return unpackWeights(words, this.shape, streamFormat(this.bits));
  }

  /**
   * The values the codes stand for, f32 `[out, in]` (a new tensor).
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { int } from "./quantizer.ts";
   * import { quantize } from "./weight.ts";
   * await initGPU();
   * using w = Tensor.fromArray([[0.1, -0.7, 0.35, 0.7]]);
   * using q = await quantize(int(3), w);
   * using y = await q.dequantize();
   * console.log(await y.data()); // Float32Array [0, -0.6998291, 0.4665527, 0.6998291] (f16 scale 0.7/3)
   * ```
   */
  async dequantize(): Promise<Tensor> {
    const codes = await this.unpackCodes();
    if (this.groupIndex) return this.#dequantizeIndexed(codes, this.groupIndex);
    using c = Tensor.fromArray(Uint32Array.from(codes), this.shape, "u32");
    return dequantizeCodes(c, this);
  }

  /** Dequantization with a column → group index, on the CPU in f32 as the GPU pass computes. */
  #dequantizeIndexed(codes: Uint8Array, gi: Int32Array): Tensor {
    const f = Math.fround;
    const fmt = elementFormat(this.quantizer.format);
    const byCode = this.zeros ? fmt.values : decisionTable(fmt).byCode;
    const [rows, cols] = this.shape;
    const G = this.scales.length / rows;
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const i = r * cols + c, k = r * G + gi[c];
        const v = f(byCode[codes[i]]);
        out[i] = this.zeros
          ? f(f(v - this.zeros[k]) * this.scales[k])
          : f(f(v * this.scales[k]) * this.tensorScale);
      }
    }
    return Tensor.fromArray(out, this.shape);
  }

  /** The packed weight the low-bit kernels read (built once; owned by this weight). */
  kernelWeight(): PackedWeight {
    if (this.#kernel) return this.#kernel;
    if (this.groupIndex) {
      throw new RangeError(
        `${this}: its scale groups are not contiguous column ranges (GPTQ act-order with ` +
          `dynamic groups); the packed kernels need contiguous groups: quantize with ` +
          `staticGroups, or without actOrder`,
      );
    }
    const storage = kernelStorageOf(this.quantizer);
    const fmt = elementFormat(this.quantizer.format);
    const g = this.quantizer.granularity;
    const cols = this.shape[1];
    let scales: ArrayLike<number> = this.scales;
    let groupSize = g.kind === "group" ? this.groupSize : cols;
    if (this.scales.length === 1 && this.shape[0] > 1) {
      // one scale for the tensor: the kernels want one per row
      scales = new Float32Array(this.shape[0]).fill(this.scales[0]);
      groupSize = cols;
    }
    this.#kernel = createPackedWeight({
      format: storage,
      shape: this.shape,
      groupSize,
      words: this.codes.reshape(this.codes.shape),
      // block-scaled storages (E4M3, E8M0) read the scale bytes
      scales: storage.scale === "float" ? scales : this.scaleCodes!,
      scaleDtype: "f32",
      zeros: this.zeros?.length === 1 && this.shape[0] > 1
        ? new Float32Array(this.shape[0]).fill(this.zeros[0])
        : this.zeros,
      tensorScale: storage.tensorScale ? this.tensorScale : undefined,
      codebook: storage.codebookSize
        ? Array.from(fmt.values, (v) => (Number.isFinite(v) ? v : 0))
        : undefined,
    });
    return this.#kernel;
  }

  /**
   * `x · Ŵᵀ (+ bias)` for `x` `[tokens, in]` on the low-bit kernels (GEMV for
   * ≤ 8 tokens, GEMM above), reading the packed codes directly.
   */
  matmul(x: Tensor, options: { bias?: Tensor } = {}): Tensor {
    return lowbitMatmul(x, this.kernelWeight(), {
      bias: options.bias,
      outDtype: x.dtype === "f16" ? "f16" : "f32",
    });
  }

  /** Frees the codes (and the kernel's scale tensors). Safe to call twice. */
  dispose(): void {
    this.#kernel?.dispose();
    this.#kernel = undefined;
    this.codes.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `QuantizedWeight([out, in], int4 · group 32 · …)`. */
  toString(): string {
    return `QuantizedWeight([${this.shape}], ${describe(this.quantizer)})`;
  }

  /** Jupyter display (Deno kernel): a table of its properties (`weightBundle` in `show.ts`). */
  [Symbol.for("Jupyter.display")](): { "text/plain": string; "text/html": string } {
    return weightBundle(this);
  }
}

/** The fields of a quantization pass that {@link QuantizedWeight.fromPass} reads. */
export interface QuantizedWeightParts {
  /** The quantizer. */
  readonly quantizer: Quantizer;
  /** `[out, in]`. */
  readonly shape: readonly number[];
  /** Codes per scale group. */
  readonly groupSize: number;
  /** One u32 code per element. */
  readonly codes: Tensor;
  /** Decode multipliers. */
  readonly scales: Float32Array;
  /** Zero points. */
  readonly zeros?: Float32Array;
  /** Scale bytes. */
  readonly scaleCodes?: Uint8Array;
  /** Tensor scale. */
  readonly tensorScale: number;
}

/** Values of unpacked u32 codes `[out, in]` under `q`'s scales (a new f32 tensor). */
export function dequantizeCodes(
  codes: Tensor,
  q: Pick<QuantizedWeight, "quantizer" | "groupSize" | "scales" | "zeros" | "tensorScale"> & {
    shape: readonly number[];
  },
): Tensor {
  const fmt = elementFormat(q.quantizer.format);
  const byCode = q.zeros ? fmt.values : decisionTable(fmt).byCode;
  const g = q.quantizer.granularity;
  if (g.kind === "channel" && g.axis === 1) {
    // scales run along columns: values(code), then broadcast (v − zero) · scale over rows
    const cols = q.shape[q.shape.length - 1];
    using ones = Tensor.full([codes.size / cols], 1);
    using v = tableDequantize(codes, { groupSize: cols, byCode, decode: ones });
    using s = Tensor.fromArray(q.scales, [1, cols]);
    if (q.zeros) {
      using z = Tensor.fromArray(q.zeros, [1, cols]);
      using c = sub(v, z);
      return mul(c, s);
    }
    return mul(v, s);
  }
  using s = Tensor.fromArray(q.scales);
  if (q.zeros) {
    using z = Tensor.fromArray(q.zeros);
    return tableDequantize(codes, { groupSize: q.groupSize, byCode, decode: s, zero: z });
  }
  return tableDequantize(codes, {
    groupSize: q.groupSize,
    byCode,
    decode: s,
    decode2: q.tensorScale,
  });
}

/**
 * Quantizes a 1-D or 2-D tensor (`[rows, cols]`: groups and channels run
 * along cols, the input dimension of a PyTorch-layout weight) into a
 * {@link QuantizedWeight}. Throws, naming the tensor and the element, on
 * NaN/Inf, and when the group size does not divide cols.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { nvfp4 } from "./quantizer.ts";
 * import { quantize } from "./weight.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[6, -3, 1, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
 * using q = await quantize(nvfp4(), w);
 * console.log(q.scaleCodes![0]); // 126 (E4M3 448)
 * ```
 */
export async function quantize(
  q: Quantizer,
  x: Tensor,
  options: QuantizeOptions = {},
): Promise<QuantizedWeight> {
  using pass = await quantizePass(q, x, options);
  return await QuantizedWeight.fromPass(pass);
}
