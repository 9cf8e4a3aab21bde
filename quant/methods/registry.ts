/**
 * The method registry of `quantizeModel`: every method's record
 * `{ name, needs, solve }`, one line each. Adding a method: write its file
 * (with its record) and add one line to the list below.
 *
 * @example
 * ```ts
 * import { methodRegistry } from "./registry.ts";
 * console.log([...methodRegistry().keys()].includes("gptq")); // true
 * ```
 * @module
 */
import type { QuantMethod } from "../model.ts";
import { RTN } from "./rtn.ts";
import { GPTQ } from "./gptq_model.ts";
import { COMQ } from "./comq.ts";
import { GPFQ } from "./gpfq.ts";
import { QUIP } from "./quip.ts";
import { LQER } from "./lqer.ts";
import { LQ_LORA } from "./lq_lora.ts";
import { AWQ } from "./awq.ts";
import { AQAS } from "./aqas.ts";
import { DFQ } from "./dfq.ts";
import { NORM_TWEAKING } from "./norm_tweaking.ts";
import { LLM_FP4 } from "./llm_fp4.ts";
import { CROSSQUANT } from "./crossquant.ts";
import { LAYERWISE_IP } from "./layerwise_ip.ts";
import { EFFICIENTQAT } from "./efficientqat.ts";
import { ONEBIT } from "./onebit.ts";

let registry: Map<string, QuantMethod> | undefined;

/** The registry, built on first use (method files import the driver, and the driver this). */
export function methodRegistry(): Map<string, QuantMethod> {
  registry ??= new Map(
    [
      RTN,
      GPTQ,
      COMQ,
      GPFQ,
      QUIP,
      LQER,
      LQ_LORA,
      AWQ,
      AQAS,
      DFQ,
      NORM_TWEAKING,
      LLM_FP4,
      CROSSQUANT,
      LAYERWISE_IP,
      EFFICIENTQAT,
      ONEBIT,
    ].map((m) => [m.name, m]),
  );
  return registry;
}
