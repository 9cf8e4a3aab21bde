/**
 * The GPU pass behind `quantize()` (`quant/weight.ts`) and `fakeQuant`:
 * applying a {@link Quantizer} to a tensor: per-group statistics
 * (one GPU pass, which also finds NaN/Inf), per-group ranges and scales by
 * the rule of the format's family record, or of its block-scale format
 * (`quant/formats/`: on the CPU, in f32 arithmetic identical to the
 * reference formats), then one GPU pass that rounds every
 * element through the format's decision table. Codes agree bit for bit with
 * the pure-TS formats on an adapter with correctly rounded f32 division
 * (lavapipe); WebGPU allows division to be off by 2.5 ulp, so on other GPUs a
 * value lying exactly on a rounding threshold may round the other way.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantizePass } from "./quantize.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 64], { seed: 1 });
 * using q = await quantizePass(int(4, { group: 32 }), w);
 * console.log(q.codes.shape, q.scales.length); // [8, 64] 16
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { cast } from "../kernels/ops/elementwise.ts";
import { transpose } from "../kernels/ops/layout.ts";
import {
  affineQuantize,
  GROUP_STATS_WIDTH,
  groupStats,
  tableQuantize,
  type TableQuantized,
} from "../kernels/ops/quantize.ts";
import { familyOf, scaleFormats } from "./formats/mod.ts";
import { firstNonFinite } from "../model/finite.ts";
import { elementFormat, isInt, type Quantizer } from "./quantizer.ts";
import { decisionTable } from "./table.ts";
import { groupRanges } from "./range.ts";

const f = Math.fround;

/**
 * One quantization pass's output: unpacked codes, per-group scales (and
 * zeros) and the dequantized values. Internal: `quantize()` packs it into a
 * `QuantizedWeight`; GPTQ and the coordinate solvers read its scales.
 */
export interface QuantizePass extends Disposable {
  /** The quantizer that produced it. */
  readonly quantizer: Quantizer;
  /** Shape of the original tensor (2-D: [rows, cols]; groups run along cols). */
  readonly shape: readonly number[];
  /** Elements per scale group along the last axis (cols for per-channel/token/tensor rows). */
  readonly groupSize: number;
  /** One u32 code per element (unpacked), shaped like the input. */
  readonly codes: Tensor;
  /** The dequantized values (f32), shaped like the input. */
  readonly dequantized: Tensor;
  /** Per-group decode multiplier: x̂ = value(code) · scales[g] · tensorScale. */
  readonly scales: Float32Array;
  /** Per-group integer zero points (asymmetric integers only). */
  readonly zeros?: Float32Array;
  /** Stored scale codes for block formats: E8M0 (MX) or E4M3 (NVFP4). */
  readonly scaleCodes?: Uint8Array;
  /** NVFP4's f32 per-tensor decode scale (1 for other formats). */
  readonly tensorScale: number;
  /** Frees the GPU tensors. */
  dispose(): void;
}

/** Options of {@link quantizePass} (and `quantize`, `fakeQuant`). */
export interface QuantizeOptions {
  /** Name used in error messages (e.g. "layers.3.mlp.down_proj.weight"). */
  name?: string;
  /** NVFP4: the tensor amax to use instead of max |x| (a calibrated activation range). */
  tensorAmax?: number;
}

/**
 * The scales of one quantization of one tensor, without its codes: what
 * {@link quantGrid} finds (the statistics, ranges and scales, steps 1–3 of the
 * pass) and {@link applyGrid} applies on the GPU with no readback. Plain CPU
 * data; nothing to dispose.
 */
export interface QuantGrid {
  /** The quantizer whose rules made the scales. */
  readonly quantizer: Quantizer;
  /** Shape of the tensor the grid was found for (and applies to). */
  readonly shape: readonly number[];
  /** Elements per scale group along the grouped axis. */
  readonly groupSize: number;
  /** Per input channel: groups run down the columns (the pass works on the transpose). */
  readonly transposed: boolean;
  /** Per-group decode multiplier: x̂ = value(code) · scales[g] · tensorScale. */
  readonly scales: Float32Array;
  /** Per-group encode scale: v = x / encode[g] (`mode` "div") or x · encode[g] ("mul"). */
  readonly encode: Float32Array;
  /** How `encode` maps x to the format's domain. */
  readonly mode: "div" | "mul";
  /** Per-group integer zero points (asymmetric integers only). */
  readonly zeros?: Float32Array;
  /** Stored scale codes for block formats: E8M0 (MX) or E4M3 (NVFP4). */
  readonly scaleCodes?: Uint8Array;
  /** NVFP4's f32 per-tensor decode scale (1 for other formats). */
  readonly tensorScale: number;
  /** Per-group smallest representable value (the lowest code, dequantized). */
  readonly lo: Float32Array;
  /** Per-group largest representable value (the highest code, dequantized). */
  readonly hi: Float32Array;
}

/**
 * Finds the scales `q` gives `x` (steps 1–3 of {@link quantizePass}: one GPU
 * statistics pass read back, then ranges and scales on the CPU). Same errors
 * as `quantizePass` (NaN/Inf, group size, scale overflow).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantGrid } from "./quantize.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.7, -0.35], [1.4, 0.1]]);
 * const grid = await quantGrid(int(3), w);
 * console.log(grid.scales, grid.hi); // Float32Array [0.2332763671875, 0.466552734375] Float32Array [0.6998291015625, 1.399658203125]
 * ```
 */
export async function quantGrid(
  q: Quantizer,
  x: Tensor,
  options: QuantizeOptions = {},
): Promise<QuantGrid> {
  const name = options.name ?? x.name ?? "tensor";
  if (x.rank < 1 || x.rank > 2) {
    throw new RangeError(`quantize ${name}: expected a 1-D or 2-D tensor, got shape [${x.shape}]`);
  }
  if (q.granularity.kind !== "channel" || q.granularity.axis !== 1) {
    return await rowGrid(q, x, options, name);
  }
  if (x.rank !== 2) throw new RangeError(`per input channel needs a 2-D weight, got [${x.shape}]`);
  using xt = transposeOnCpu(await x.data() as Float32Array, x.shape[0], x.shape[1]);
  const perRow = { ...q, granularity: { kind: "channel" as const, axis: 0 as const } };
  const inner = await rowGrid(perRow, xt, options, name);
  return { ...inner, quantizer: q, shape: [...x.shape], transposed: true };
}

/**
 * Quantize-dequantize `x` on the scales of `grid`, on the GPU with no
 * readback: the same values as {@link fakeQuant} gives the tensor the grid
 * was found for, bit for bit. `x` must have the grid's shape; f32 out (f16
 * when `x` is f16). The caller owns the result.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { applyGrid, quantGrid } from "./quantize.ts";
 * await initGPU();
 * using w = Tensor.fromArray([0.7, -0.2, 0.1]);
 * const grid = await quantGrid(int(3), w);
 * using y = applyGrid(grid, w);
 * console.log(await y.data()); // Float32Array [0.6998291015625, -0.2332763671875, 0]
 * ```
 */
export function applyGrid(grid: QuantGrid, x: Tensor): Tensor {
  if (x.shape.length !== grid.shape.length || x.shape.some((d, i) => d !== grid.shape[i])) {
    throw new RangeError(
      `applyGrid: ${x} does not have the shape [${grid.shape}] the grid was found for; ` +
        `find the grid on this tensor (quantGrid) first`,
    );
  }
  let out: TableQuantized;
  if (grid.transposed) {
    using xt = transpose(x);
    const inner = runGrid(grid, xt);
    inner.codes.dispose();
    using d = inner.dequantized;
    out = { codes: Tensor.empty([0], "u32"), dequantized: transpose(d) };
  } else out = runGrid(grid, x);
  out.codes.dispose();
  if (x.dtype === "f16") {
    using d = out.dequantized;
    return cast(d, "f16");
  }
  return out.dequantized;
}

function transposeOnCpu(data: Float32Array, rows: number, cols: number): Tensor {
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c];
  }
  return Tensor.fromArray(t, [cols, rows]);
}

/**
 * Quantizes a 1-D or 2-D tensor ([rows, cols]: groups and channels run along
 * cols, the input dimension of a PyTorch-layout weight). Throws, naming the
 * tensor and the element, on NaN/Inf, and when the group size does not
 * divide cols.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { nvfp4 } from "./quantizer.ts";
 * import { quantizePass } from "./quantize.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[6, -3, 1, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
 * using q = await quantizePass(nvfp4(), w);
 * console.log(q.scaleCodes![0]); // 126 (E4M3 448)
 * ```
 */
export async function quantizePass(
  q: Quantizer,
  x: Tensor,
  options: QuantizeOptions = {},
): Promise<QuantizePass> {
  const name = options.name ?? x.name ?? "tensor";
  if (x.rank < 1 || x.rank > 2) {
    throw new RangeError(`quantize ${name}: expected a 1-D or 2-D tensor, got shape [${x.shape}]`);
  }
  if (q.granularity.kind === "channel" && q.granularity.axis === 1) {
    return await quantizeInputChannels(q, x, options);
  }
  const grid = await rowGrid(q, x, options, name);
  const out = runGrid(grid, x);
  return quantizedTensor(
    q,
    x.shape,
    grid.groupSize,
    out,
    grid.scales,
    grid.zeros,
    grid.scaleCodes,
    grid.tensorScale,
  );
}

/** Steps 1–3 of the pass (statistics, ranges, scales) for groups along the last axis. */
async function rowGrid(
  q: Quantizer,
  x: Tensor,
  options: QuantizeOptions,
  name: string,
): Promise<QuantGrid> {
  const fmt = elementFormat(q.format);
  const cols = x.shape.at(-1)!;
  const rows = x.size / cols;
  const g = q.granularity;
  const groupSize = g.kind === "group" ? g.size : cols;
  if (cols % groupSize !== 0) {
    throw new RangeError(
      `quantize ${name}: shape [${x.shape}] has ${cols} input columns, not a multiple of the ` +
        `group size ${groupSize}; pick a group size that divides ${cols} or pad the weight`,
    );
  }
  const groups = rows * (cols / groupSize);

  // 1. statistics of every group in one pass (and the first NaN/Inf, if any)
  using statsT = groupStats(x, groupSize);
  const stats = await statsT.data() as Float32Array;
  for (let i = 0; i < groups; i++) {
    if (stats[i * GROUP_STATS_WIDTH + 6] > 0) {
      // the kernel gives the index within the group (exact up to 2²⁴); the tensor index is
      // formed here in f64, and for larger groups found by scanning the group
      const at = groupSize <= 2 ** 24
        ? i * groupSize + stats[i * GROUP_STATS_WIDTH + 7]
        : i * groupSize +
          firstNonFinite((await x.data()).subarray(i * groupSize, (i + 1) * groupSize));
      const coord = x.rank === 2 ? `[${Math.floor(at / cols)}, ${at % cols}]` : `[${at}]`;
      throw new RangeError(
        `quantize ${name}: element ${coord} is NaN or ±Inf; quantization needs finite values ` +
          `(find where it came from, or clean the tensor before quantizing)`,
      );
    }
  }

  // 2. the clipping range of each group (per-tensor: one range shared by all groups)
  const ranges = await groupRanges(q, x, stats, { groupSize, groups, name });

  // 3. scales by the format's rule, in f32 like the references
  // (a group whose scale its storage cannot hold fails here, naming the group)
  const place = (i: number): string => {
    const c0 = (i * groupSize) % cols;
    const row = x.rank === 2 ? `row ${Math.floor(i * groupSize / cols)}, ` : "";
    const range = !q.symmetric
      ? `the range [${ranges.min[i]}, ${ranges.max[i]}]`
      : `${ranges.kind === "mean" ? "a mean magnitude" : "a clipping range"} of ${ranges.clip[i]}`;
    return `${name}: group ${i} (${row}columns ${c0}–${c0 + groupSize - 1}) has ${range}`;
  };
  const table = decisionTable(fmt);
  // the family record's rule (asymmetric, or symmetric with float scales), or the
  // block-scale format's own rule (E8M0, E4M3) for the groups of any element
  const family = familyOf(fmt);
  const scaleFormat = scaleFormats[q.scale];
  const rule = !q.symmetric ? family.affine : scaleFormat.rule ?? family.scale;
  if (!rule) throw new RangeError(`${q.format}: asymmetric needs an integer format`);
  const scales = rule(fmt, {
    kind: ranges.kind,
    clip: ranges.clip,
    min: ranges.min,
    max: ranges.max,
    tensorAmax: options.tensorAmax,
    store(s: number, i: number): number {
      const stored = scaleFormat.store ? scaleFormat.store(s) : s;
      if (!Number.isFinite(stored)) throw scaleOverflow(place(i), s, q);
      return stored;
    },
  });
  const { zeros, scaleCodes, tensorScale } = scales;

  // the representable range of each group, for clipped straight-through gradients
  const lo = new Float32Array(groups);
  const hi = new Float32Array(groups);
  for (let i = 0; i < groups; i++) {
    if (zeros && isInt(fmt)) {
      lo[i] = f((fmt.qmin - zeros[i]) * scales.decode[i]);
      hi[i] = f((fmt.qmax - zeros[i]) * scales.decode[i]);
    } else {
      lo[i] = f(f(table.values[0] * scales.decode[i]) * tensorScale);
      hi[i] = f(f(table.values[table.values.length - 1] * scales.decode[i]) * tensorScale);
    }
  }
  return {
    quantizer: q,
    shape: [...x.shape],
    groupSize,
    transposed: false,
    scales: scales.decode,
    encode: scales.encode,
    mode: scales.mode,
    zeros,
    scaleCodes,
    tensorScale,
    lo,
    hi,
  };
}

/** Step 4: one GPU pass over the elements of `x` (groups along its last axis). */
function runGrid(grid: QuantGrid, x: Tensor): TableQuantized {
  const q = grid.quantizer;
  const fmt = elementFormat(q.format);
  using encT = Tensor.fromArray(grid.encode);
  using decT = Tensor.fromArray(grid.scales);
  const seed = q.rounding.kind === "stochastic" ? q.rounding.seed >>> 0 : undefined;
  if (grid.zeros && isInt(fmt)) {
    using zT = Tensor.fromArray(grid.zeros);
    return affineQuantize(x, {
      groupSize: grid.groupSize,
      bits: fmt.bits,
      qmin: fmt.qmin,
      qmax: fmt.qmax,
      scale: encT,
      zero: zT,
      stochasticSeed: seed,
    });
  }
  return tableQuantize(x, {
    groupSize: grid.groupSize,
    table: decisionTable(fmt),
    encode: encT,
    mode: grid.mode,
    decode: decT,
    decode2: grid.tensorScale,
    stochasticSeed: seed,
  });
}

function quantizedTensor(
  quantizer: Quantizer,
  shape: readonly number[],
  groupSize: number,
  out: TableQuantized,
  scales: Float32Array,
  zeros: Float32Array | undefined,
  scaleCodes: Uint8Array | undefined,
  tensorScale: number,
): QuantizePass {
  return {
    quantizer,
    shape,
    groupSize,
    codes: out.codes,
    dequantized: out.dequantized,
    scales,
    zeros,
    scaleCodes,
    tensorScale,
    dispose() {
      out.codes.dispose();
      out.dequantized.dispose();
    },
    [Symbol.dispose]() {
      this.dispose();
    },
  };
}

/** The error for a scale its storage format cannot hold (an f16 scale above 65504). */
function scaleOverflow(where: string, scale: number, q: Quantizer): RangeError {
  return new RangeError(
    `quantize ${where}, which needs a scale of ${scale}; ${q.scale} scales hold at most ` +
      `${F16_MAX}, so the group would decode to NaN. Store scales in f32 (the option ` +
      `{ scale: "f32" }, or withSettings(q, { scale: "f32" })), or clip the outlier first`,
  );
}

const F16_MAX = 65504;

/** Per input channel: quantize the transpose per row, transposed back. */
async function quantizeInputChannels(
  q: Quantizer,
  x: Tensor,
  options: QuantizeOptions,
): Promise<QuantizePass> {
  if (x.rank !== 2) throw new RangeError(`per input channel needs a 2-D weight, got [${x.shape}]`);
  const [rows, cols] = x.shape;
  const data = await x.data();
  const t = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) t[c * rows + r] = data[r * cols + c];
  }
  using xt = Tensor.fromArray(t, [cols, rows]);
  const perRow = { ...q, granularity: { kind: "channel" as const, axis: 0 as const } };
  using inner = await quantizePass(perRow, xt, options);
  const codes = await inner.codes.data();
  const deq = await inner.dequantized.data();
  const c2 = new Uint32Array(rows * cols);
  const d2 = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      c2[r * cols + c] = codes[c * rows + r];
      d2[r * cols + c] = deq[c * rows + r];
    }
  }
  return quantizedTensor(
    q,
    x.shape,
    cols,
    { codes: Tensor.fromArray(c2, [rows, cols]), dequantized: Tensor.fromArray(d2, [rows, cols]) },
    inner.scales,
    inner.zeros,
    inner.scaleCodes,
    inner.tensorScale,
  );
}

/**
 * Quantize-dequantize: the tensor the quantized model computes with, f32
 * (or `x`'s dtype when it is f16).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { fakeQuant } from "./quantize.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.1, -0.7, 0.35, 0.7]]);
 * using y = await fakeQuant(int(3), w);
 * console.log(await y.data()); // multiples of 0.7/3
 * ```
 */
export async function fakeQuant(
  q: Quantizer,
  x: Tensor,
  options: QuantizeOptions = {},
): Promise<Tensor> {
  const qt = await quantizePass(q, x, options);
  qt.codes.dispose();
  if (x.dtype === "f16") {
    const h = cast(qt.dequantized, "f16");
    qt.dequantized.dispose();
    return h;
  }
  return qt.dequantized;
}
