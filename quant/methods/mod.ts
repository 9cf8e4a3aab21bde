/**
 * Every quantization method, one file per paper, re-exported.
 *
 * @example
 * ```ts
 * import { rtn } from "./mod.ts";
 * console.log(typeof rtn); // "function"
 * ```
 * @module
 */
export * from "./rtn.ts";
export * from "./gptq.ts";
export * from "./gptq_model.ts";
export * from "./awq.ts";
export * from "./quip.ts";
export * from "./lqer.ts";
export * from "./lq_lora.ts";
export * from "./comq.ts";
export * from "./gpfq.ts";
export * from "./layerwise_ip.ts";
export * from "./aqas.ts";
export * from "./crossquant.ts";
export * from "./llm_fp4.ts";
export * from "./dfq.ts";
export * from "./norm_tweaking.ts";
