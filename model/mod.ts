/**
 * Real models: safetensors checkpoints (single and sharded), the HF config of
 * the Llama family, tokenizers, the `Linear` interface, the Llama forward pass
 * and its topology, loading, generation with a key/value cache, evaluation
 * (perplexity, KL, top-1), calibration capture, and GGUF export/import for llama.cpp.
 *
 * @example
 * ```ts
 * import { initGPU } from "../kernels/gpu.ts";
 * import { loadModel, sharedInput } from "./mod.ts";
 * await initGPU();
 * using model = await loadModel();
 * console.log(model.numLayers, sharedInput("layers.0.mlp.up_proj")); // 4 layers.0.mlp.gate_proj
 * ```
 * @module
 */
export {
  type ByteSlice,
  type CheckpointReader,
  DTYPE_BYTES,
  DTYPES,
  INDEX_FILE,
  MAX_HEADER_BYTES,
  openCheckpoint,
  openSafetensors,
  parseSafetensors,
  type ReadOptions,
  type SafetensorsDType,
  SafetensorsError,
  type SafetensorsReader,
  type ShardedWrite,
  type ShardOptions,
  SINGLE_FILE,
  type SliceJob,
  type SliceOptions,
  type SlicePart,
  type TensorArray,
  type TensorData,
  type TensorInfo,
  type TensorInput,
  writeSafetensors,
  writeShardedSafetensors,
} from "./safetensors.ts";
export {
  ConfigError,
  type ExpectedTensor,
  expectedTensorNames,
  type LinearRopeScaling,
  type Llama3RopeScaling,
  type LlamaConfig,
  type LlamaModelType,
  loadLlamaConfig,
  parseLlamaConfig,
  ropeFrequencies,
  type RopeScaling,
} from "./config.ts";
export {
  ByteTokenizer,
  type HFCodingOptions,
  HFTokenizer,
  loadHFTokenizer,
  type Tokenizer,
  TokenizerError,
} from "./tokenizer.ts";
export { DenseLinear, type Linear } from "./linear.ts";
export {
  type ForwardOptions,
  type InputGroup,
  LAYER_LINEARS,
  LAYER_TOPOLOGY,
  type LayerLinear,
  type LinearInputHook,
  LlamaModel,
  sharedInput,
  type TokenBatch,
  type TokenIds,
  toTokenBatch,
} from "./llama.ts";
export { randomLlama, type RandomLlamaOptions, TINY_LLAMA_CONFIG } from "./random_llama.ts";
export {
  loadModel,
  type LoadModelOptions,
  ModelLoadError,
  TINY_MODEL_DIR,
  validateCheckpoint,
} from "./load.ts";
export {
  compareModels,
  type ComparisonResult,
  type EvalInput,
  type EvalOptions,
  klDivergence,
  klPerPosition,
  type LogitsSource,
  perplexity,
  type PerplexityResult,
  planWindows,
  top1Agreement,
} from "./eval.ts";
export {
  type CalibrationOptions,
  calibrationSequences,
  captureLayerInputs,
  type CaptureOptions,
  type CaptureResult,
  type ObserverLike,
  type ObserverSource,
} from "./capture.ts";
export { type LayerNorms, ModelParts } from "./parts.ts";
export { decoderLayerSteps, type LayerParts, type LayerStepOptions } from "./decoder_layer.ts";
export { KVCache, type KVCacheConfig, type KVCacheOptions } from "./kv_cache.ts";
export { checkSampleOptions, type SampleOptions, sampleToken } from "./sampling.ts";
export { generate, type GenerateOptions, type GenerateResult } from "./generate.ts";
export {
  FILE_TYPES,
  GGML_TYPE_NAMES,
  GGML_TYPES,
  type GgmlType,
  type GgmlTypeInfo,
  ggmlTypeName,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  GgufError,
  type GgufScalarType,
  type GgufValue,
} from "./gguf_format.ts";
export { dequantizeBlocks, ggmlBytes, quantizeBlocks } from "./gguf_blocks.ts";
export { encodeGguf, type GgufMetadata, type GgufTensorInput, writeGguf } from "./gguf_write.ts";
export { type GgufFile, type GgufTensorInfo, parseGguf, readGguf } from "./gguf_read.ts";
export {
  byteLevelTokens,
  exportGguf,
  type ExportGgufOptions,
  ggufName,
  hfName,
  llamaGgufMetadata,
  permuteRope,
  unpermuteRope,
} from "./gguf_llama.ts";
export { type GgufLlama, ggufToLlama, loadGgufModel, type LoadGgufOptions } from "./gguf_import.ts";
