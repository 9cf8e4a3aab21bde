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
