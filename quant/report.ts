/**
 * The one report of a model-level quantization: a row per quantized layer
 * (shape, storage bits, weight SQNR, plus whatever the method measured, e.g.
 * GPTQ's proxy loss) and the parameter-weighted mean bits per weight.
 *
 * @example
 * ```ts
 * import { meanBitsPerWeight } from "./report.ts";
 * const layers = [
 *   { name: "a", out: 4, in: 8, bitsPerWeight: 4, sqnrDb: 20 },
 *   { name: "b", out: 4, in: 24, bitsPerWeight: 8, sqnrDb: 40 },
 * ];
 * console.log(meanBitsPerWeight(layers)); // 7
 * ```
 * @module
 */

/** One quantized layer in a {@link QuantReport}. */
export interface LayerRow {
  /** The layer's name (`layers.3.mlp.down_proj`). */
  name: string;
  /** Output features. */
  out: number;
  /** Input features. */
  in: number;
  /** Storage bits per weight. */
  bitsPerWeight: number;
  /** SQNR of the layer's effective weight against the float one, dB. */
  sqnrDb: number;
}

/**
 * What a model-level quantization did, layer by layer: the one report of
 * every method. A method's own facts (the bit allocation of layer-wise IP,
 * AWQ's α per input group, …) go in `details`, typed by `D`: present when
 * `D` is given, optional otherwise.
 */
export type QuantReport<D extends object | undefined = undefined> =
  & {
    /** One row per quantized layer, in the order they were quantized. */
    layers: LayerRow[];
    /** Parameter-weighted mean bits per weight over the quantized layers. */
    bitsPerWeight: number;
    /** The registry name of the method (set by `quantizeModel`). */
    method?: string;
    /** Wall time of the whole run, seconds (set by `quantizeModel`). */
    seconds?: number;
  }
  & (D extends object ? {
      /** The method's own facts. */
      details: D;
    }
    : {
      /** The method's own facts, if it reports any. */
      details?: object;
    });

/**
 * Parameter-weighted mean bits per weight of report rows (0 for none).
 *
 * @example
 * ```ts
 * import { meanBitsPerWeight } from "./report.ts";
 * console.log(meanBitsPerWeight([{ name: "a", out: 2, in: 2, bitsPerWeight: 4, sqnrDb: 1 }])); // 4
 * ```
 */
export function meanBitsPerWeight(layers: readonly LayerRow[]): number {
  let bits = 0, params = 0;
  for (const l of layers) {
    bits += l.bitsPerWeight * l.out * l.in;
    params += l.out * l.in;
  }
  return params ? bits / params : 0;
}
