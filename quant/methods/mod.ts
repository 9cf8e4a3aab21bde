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
export {
  type LayerRow,
  meanBitsPerWeight,
  type QuantReport,
  RTN,
  rtn,
  type RtnOptions,
} from "./rtn.ts";
export { gptq, type GptqOptions, GptqResult, type GptqStats } from "./gptq.ts";
export { GPTQ, type GptqDetails, gptqModel, type GptqModelOptions } from "./gptq_model.ts";
export {
  AWQ,
  awq,
  type AwqDetails,
  type AwqGroup,
  type AwqOptions,
  clipAndQuantize,
  searchScales,
} from "./awq.ts";
export {
  QUIP,
  quip,
  type QuipDetails,
  type QuipOptions,
  quipParts,
  quipWeight,
  type QuipWeightOptions,
} from "./quip.ts";
export {
  lowRankError,
  LQER,
  lqer,
  type LqerDetails,
  lqerLinear,
  type LqerLinearOptions,
  type LqerOptions,
} from "./lqer.ts";
export {
  LQ_LORA,
  lqLora,
  lqLoraDecompose,
  type LqLoraDecomposition,
  type LqLoraDetails,
  type LqLoraOptions,
} from "./lq_lora.ts";
export {
  COMQ,
  comq,
  comqLayer,
  type ComqModelOptions,
  type ComqOptions,
  type HessianQuantDetails,
  type LayerErrorRow,
  type LayerSolution,
  type SequentialDriver,
  type SequentialOptions,
} from "./comq.ts";
export { GPFQ, gpfq, gpfqLayer, type GpfqModelOptions, type GpfqOptions } from "./gpfq.ts";
export {
  alloc,
  type Allocation,
  type AllocItem,
  type AllocOption,
  LAYERWISE_IP,
  layerwiseIp,
  type LayerwiseIpDetails,
  type LayerwiseIpOptions,
  type SensitivityRow,
} from "./layerwise_ip.ts";
export {
  AQAS,
  aqas,
  type AqasDetails,
  type AqasOptions,
  aqasSearch,
  type AqasSearchOptions,
  type AqasSearchResult,
  type SiteName,
  smoothingScales,
} from "./aqas.ts";
export {
  CROSSQUANT,
  crossquant,
  crossQuantize,
  type CrossQuantModelOptions,
  type CrossQuantOptions,
  perTokenQuantize,
} from "./crossquant.ts";
export {
  type ActQuant,
  FP4_FORMATS,
  fpFormat,
  fpLinear,
  LLM_FP4,
  llmFp4,
  type LlmFp4Details,
  type LlmFp4Options,
  quantizeStatic,
  searchActivation,
  searchWeight,
  type WeightSearchOptions,
  type WeightSearchResult,
} from "./llm_fp4.ts";
export {
  correctedLinear,
  crossLayerEqualize,
  DFQ,
  dfq,
  type DfqDetails,
  type DfqOptions,
  type EqualizationRecord,
  equalizationScales,
} from "./dfq.ts";
export {
  NORM_TWEAKING,
  normTweaking,
  type NormTweakingDetails,
  type NormTweakingOptions,
  tweakScales,
} from "./norm_tweaking.ts";
export {
  EFFICIENTQAT,
  efficientQat,
  type EfficientQatDetails,
  type EfficientQatOptions,
} from "./efficientqat.ts";

export {
  type CalibratedOptions,
  type CalibratedWrapper,
  type MethodWrapper,
  type WrapperOptions,
} from "./_wrap.ts";

// the driver's, layers' and checkpoints' types (the functions are in the root mod.ts)
export { methodRegistry } from "./registry.ts";
export {
  methodNames,
  registerMethod,
  taskPerTokenAct,
  taskQuantizer,
  taskSequences,
} from "../model.ts";
export type {
  CalibrationConfig,
  LayerMethod,
  LayerNeed,
  LayerResult,
  LayerRule,
  LayerTask,
  ModelMethod,
  ModelTask,
} from "../model.ts";
export type {
  InputTransform,
  LowRank,
  QuantizeLinearOptions,
  QuantLinearParts,
  WeightedLinear,
} from "../linear.ts";
export type { QuantizationConfig, QuantizedLayerEntry, SaveOptions } from "../checkpoint.ts";
export type { InputQuantizer } from "../activation.ts";
export {
  ONEBIT,
  onebit,
  ONEBIT_QUANTIZER,
  oneBitBits,
  type OneBitFactors,
  oneBitLayer,
  oneBitLinear,
  signCodes,
  type Svid,
  svid,
} from "./onebit.ts";
