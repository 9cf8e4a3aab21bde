/**
 * The sweep behind `notebooks/00-quickstart`'s claims: round to nearest in
 * nine formats on the embedded model, perplexity on three disjoint slices of
 * `valid.txt` (RTN has nothing random, so the seeds pick the evaluation
 * slices: seed s is bytes [s·4096, (s+1)·4096), 16 windows × 255
 * predictions), plus a cheap check value per config (perplexity on the first
 * 1024 bytes of slice 0) that the notebook recomputes live. Writes
 * `data/claims/00-quickstart.json`.
 *
 *   nice -n 10 deno run -A tools/claims/00-quickstart.ts
 *
 * @example
 * ```ts ignore
 * // deno run -A tools/claims/00-quickstart.ts
 * ```
 * @module
 */
import * as lb from "../../mod.ts";

/** The settings of the sweep (stored with the results; the notebook reads them from there). */
export const SETTINGS = {
  seeds: [0, 1, 2],
  sliceBytes: 4096,
  checkBytes: 1024,
  seqLen: 256,
} as const;

/** The RTN configurations, by name. */
export function quantizers(): Record<string, lb.Quantizer> {
  return {
    "int8 per channel": lb.int(8),
    "int4 per channel": lb.int(4),
    "int5 per channel": lb.int(5),
    "int4 group 64": lb.int(4, { group: 64 }),
    "int4 group 32": lb.int(4, { group: 32 }),
    "int3 per channel": lb.int(3),
    "int3 group 32": lb.int(3, { group: 32 }),
    "NVFP4": lb.nvfp4(),
    "MXFP4": lb.mxfp4(),
  };
}

/** One configuration's results. */
export interface Run {
  config: string;
  bits: number;
  /** Perplexity on each slice, in the order of {@link SETTINGS}.seeds. */
  perplexity: number[];
  /** Perplexity on the first `checkBytes` of slice 0. */
  check: number;
}

if (import.meta.main) {
  const root = new URL("../../", import.meta.url);
  const ctx = await lb.initGPU();
  const valid = await Deno.readTextFile(new URL("data/corpus/valid.txt", root));
  const slice = (s: number) => valid.slice(s * SETTINGS.sliceBytes, (s + 1) * SETTINGS.sliceBytes);
  const opts = { seqLen: SETTINGS.seqLen };
  const measure = async (model: lb.LlamaModel, config: string, bits: number): Promise<Run> => {
    const perplexity: number[] = [];
    for (const s of SETTINGS.seeds) {
      perplexity.push((await lb.perplexity(model, slice(s), opts)).perplexity);
    }
    const check = (await lb.perplexity(model, slice(0).slice(0, SETTINGS.checkBytes), opts))
      .perplexity;
    console.log(
      `${config.padEnd(18)} ${bits.toFixed(3)} b  ${
        perplexity.map((p) => p.toFixed(4)).join(" ")
      }  check ${check.toFixed(6)}`,
    );
    return { config, bits, perplexity, check };
  };
  const runs: Run[] = [];
  {
    using fp = await lb.loadModel(new URL("data/tiny", root).pathname);
    runs.push(await measure(fp, "f32", 32));
  }
  for (const [name, q] of Object.entries(quantizers())) {
    using model = await lb.loadModel(new URL("data/tiny", root).pathname);
    const report = await lb.methods.rtn(model, q);
    runs.push(await measure(model, name, report.bitsPerWeight));
  }
  const out = {
    script: "tools/claims/00-quickstart.ts",
    date: new Date().toISOString(),
    adapter: ctx.adapterName,
    settings: SETTINGS,
    evaluation: `${SETTINGS.sliceBytes} bytes of valid.txt per seed (seed s: bytes from ` +
      `s·${SETTINGS.sliceBytes}; windows of ${SETTINGS.seqLen})`,
    runs,
  };
  const path = new URL("data/claims/00-quickstart.json", root);
  await Deno.writeTextFile(`${path.pathname}.tmp`, JSON.stringify(out, null, 1) + "\n");
  await Deno.rename(`${path.pathname}.tmp`, path);
  console.log(`wrote ${path.pathname}`);
}
