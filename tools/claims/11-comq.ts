/**
 * Sweep behind the claims of notebooks/11-comq: COMQ against RTN, RTN-MSE and
 * GPTQ at int3 and int2 in groups of 32 (3.5 and 2.5 bits per weight), over
 * calibration seeds, by perplexity and by layer error on shared Hessians
 * (see `_hessian_sweep.ts`). Writes `data/claims/11-comq.json`.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/11-comq.ts`
 * @module
 */
import * as lb from "../../mod.ts";
import { runHessianSweep } from "./_hessian_sweep.ts";

/** COMQ's sweeps K over all bit-codes and scales (the notebook's setting). */
export const ITERATIONS = 2;
/** Bit widths (int, groups of 32). */
export const BITS = [3, 2];

if (import.meta.main) {
  await runHessianSweep({
    notebook: "11-comq",
    method: "comq",
    bits: BITS,
    quantizeModel: (model, q, calibration) =>
      lb.methods.comq(model, q, { calibration, iterations: ITERATIONS }),
    solver: async (w, h, q) =>
      (await lb.methods.comqLayer(w, h, q, { iterations: ITERATIONS })).weight,
    settings: { comq: { iterations: ITERATIONS, order: "greedy", updateScales: true } },
  });
}
