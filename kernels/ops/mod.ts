/**
 * Every op family, re-exported: `import { ops } from "lowbit"; ops.add(a, b)`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { add } from "./mod.ts";
 * await initGPU();
 * using y = add(Tensor.fromArray([1]), 1);
 * console.log(await y.data()); // Float32Array [2]
 * ```
 * @module
 */
export * from "./elementwise.ts";
export * from "./cast_bits.ts";
export * from "./nonfinite.ts";
export * from "./reduce.ts";
export * from "./softmax.ts";
export * from "./softmax_backward.ts";
export * from "./norm.ts";
export * from "./rope.ts";
export * from "./gather.ts";
export * from "./layout.ts";
export * from "./matmul.ts";
export * from "./linalg.ts";
export * from "./hadamard.ts";
export * from "./svd.ts";
export * from "./cross_entropy.ts";
