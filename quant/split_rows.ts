/**
 * Splits a {@link QuantizedWeight} into blocks of rows: each part keeps its
 * rows' packed code words (rows of the packed layout are independent), their
 * scales, zeros and scale codes, and shares what applies to every row (one
 * scale for the tensor, per-input-channel scales, the tensor scale). This is
 * how a weight quantized stacked (e.g. AWQ's q/k/v with one tensor scale)
 * becomes one weight per projection, with exactly the stacked codes.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantize } from "./weight.ts";
 * import { splitRows } from "./split_rows.ts";
 * await initGPU();
 * using w = Tensor.randn([6, 32], { seed: 1 });
 * using q = await quantize(int(4, { per: "tensor" }), w);
 * const [a, b] = await splitRows(q, [2, 4]);
 * console.log(a.shape, b.shape, b.scales[0] === q.scales[0]); // [2, 32] [4, 32] true
 * a.dispose();
 * b.dispose();
 * ```
 * @module
 */
import { QuantizedWeight } from "./weight.ts";

/**
 * The row blocks of `w` of `sizes` rows each (in order; they must add up to
 * its rows). New weights, owned by the caller; `w` is not changed.
 */
export async function splitRows(
  w: QuantizedWeight,
  sizes: readonly number[],
): Promise<QuantizedWeight[]> {
  const [rows, cols] = w.shape;
  if (sizes.reduce((a, b) => a + b, 0) !== rows || sizes.some((n) => !(n >= 1))) {
    throw new RangeError(
      `splitRows: row counts [${sizes}] do not split ${w} (${rows} rows) into non-empty blocks`,
    );
  }
  const words = await w.codes.data() as Uint32Array;
  const stride = w.codes.size / rows;
  // scales laid out per row ([rows, G]) are split; one shared set (per tensor: one scale;
  // per input channel: one per column) goes to every block
  const g = w.quantizer.granularity;
  const perRow = !(g.kind === "channel" && g.axis === 1) && !(w.scales.length === 1 && rows > 1);
  const G = perRow ? w.scales.length / rows : 0;
  const rowsOf = <T extends Float32Array | Uint8Array>(a: T | undefined, r0: number, n: number) =>
    a && (perRow ? a.slice(r0 * G, (r0 + n) * G) as T : a);
  const out: QuantizedWeight[] = [];
  let r0 = 0;
  for (const n of sizes) {
    out.push(
      new QuantizedWeight({
        quantizer: w.quantizer,
        shape: [n, cols],
        groupSize: w.groupSize,
        codes: words.slice(r0 * stride, (r0 + n) * stride),
        scales: rowsOf(w.scales, r0, n)!,
        zeros: rowsOf(w.zeros, r0, n),
        scaleCodes: rowsOf(w.scaleCodes, r0, n),
        tensorScale: w.tensorScale,
        groupIndex: w.groupIndex,
      }),
    );
    r0 += n;
  }
  return out;
}
