/**
 * Sweep behind the claims of notebooks/12-gpfq: GPFQ against RTN, RTN-MSE and
 * GPTQ at int4 and int3 in groups of 32 (4.5 and 3.5 bits per weight), over
 * calibration seeds, by perplexity and by layer error on shared Hessians
 * (see `_hessian_sweep.ts`). Writes `data/claims/12-gpfq.json`.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/12-gpfq.ts`
 * @module
 */
import * as lb from "../../mod.ts";
import { runHessianSweep } from "./_hessian_sweep.ts";

/** Bit widths (int, groups of 32). */
export const BITS = [4, 3];

if (import.meta.main) {
  await runHessianSweep({
    notebook: "12-gpfq",
    method: "gpfq",
    bits: BITS,
    quantizeModel: (model, q, calibration) => lb.methods.gpfq(model, q, { calibration }),
    solver: async (w, h, q) => (await lb.methods.gpfqLayer(w, h, q)).weight,
    settings: {
      gpfq: { order: "natural", alphabet: "the RTN grid of the quantizer (min-max group scales)" },
    },
  });
}
