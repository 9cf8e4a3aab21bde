/**
 * Registry records of the methods that work on the whole model (they fold
 * scales into norms or previous layers, or search per input group), as
 * `quantizeModel` calls them: each adapts the task to the method's own
 * entry point in its file.
 *
 * @example
 * ```ts
 * import { MODEL_METHODS } from "./model_methods.ts";
 * console.log(MODEL_METHODS.map((m) => m.name).join(" ")); // awq aqas dfq norm_tweaking llm_fp4 crossquant
 * ```
 * @module
 */
import type { ModelMethod, ModelTask } from "../model.ts";
import type { Quantizer } from "../quantizer.ts";
import type { InputQuantizer } from "../activation.ts";
import { awq, type AwqOptions } from "./awq.ts";
import { aqas, type AqasOptions } from "./aqas.ts";
import { dfq, type DfqOptions } from "./dfq.ts";
import { normTweaking, type NormTweakingOptions } from "./norm_tweaking.ts";
import { llmFp4, type LlmFp4Options } from "./llm_fp4.ts";
import { crossquant } from "./crossquant.ts";

function calibration(t: ModelTask, method: string): readonly ArrayLike<number>[] {
  if (!t.sequences) throw new TypeError(`quantizeModel ${method}: needs calibration data`);
  return t.sequences;
}

/** The per-token activation quantizer of a task (these methods take a Quantizer). */
function perToken(t: ModelTask, method: string): Quantizer | undefined {
  const a = t.act as Quantizer | InputQuantizer | undefined;
  if (!a) return undefined;
  if ("granularity" in a) return a;
  if (a.kind === "token") return a.quantizer;
  throw new TypeError(`quantizeModel ${method}: takes a per-token activation quantizer`);
}

function quantizer(t: ModelTask, method: string): Quantizer {
  if (!t.quantizer) throw new TypeError(`quantizeModel ${method}: config.quantizer is required`);
  return t.quantizer;
}

/** The whole-model methods, in registry order. */
export const MODEL_METHODS: readonly ModelMethod[] = [
  {
    name: "awq",
    needs: ["model"],
    solve: (t) =>
      awq(t.model, quantizer(t, "awq"), {
        ...t.options as Partial<AwqOptions>,
        sequences: calibration(t, "awq"),
        act: perToken(t, "awq"),
        progress: !!t.progress,
      }),
  },
  {
    name: "aqas",
    needs: ["model"],
    solve: (t) =>
      aqas(t.model, calibration(t, "aqas"), {
        ...t.options as Partial<AqasOptions>,
        weight: quantizer(t, "aqas"),
        act: perToken(t, "aqas")!,
        progress: !!t.progress,
      }),
  },
  {
    name: "dfq",
    needs: ["model"],
    solve: (t) =>
      dfq(t.model, quantizer(t, "dfq"), {
        ...t.options as DfqOptions,
        sequences: t.sequences,
        progress: !!t.progress,
      }),
  },
  {
    name: "norm_tweaking",
    needs: ["model"],
    solve: (t) =>
      normTweaking(t.model, calibration(t, "norm_tweaking"), {
        ...t.options as Partial<NormTweakingOptions>,
        weight: quantizer(t, "norm_tweaking"),
        progress: !!t.progress,
      }),
  },
  {
    name: "llm_fp4",
    needs: ["model"],
    solve: (t) =>
      llmFp4(t.model, calibration(t, "llm_fp4"), {
        ...t.options as LlmFp4Options,
        progress: !!t.progress,
      }),
  },
  {
    name: "crossquant",
    needs: ["model"],
    solve: (t) =>
      crossquant(t.model, quantizer(t, "crossquant"), {
        act: perToken(t, "crossquant") ?? (t.options.act as Quantizer),
        alpha: t.options.alpha as number | undefined,
      }),
  },
];
