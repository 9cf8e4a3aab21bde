/**
 * Bit allocation under a budget: per-layer sensitivity, the exact integer
 * program, a greedy heuristic, and the size–degradation Pareto front.
 *
 * @example
 * ```ts
 * import { greedyAllocate, ipAllocate } from "./mod.ts";
 * const items = [{ name: "a", params: 4, options: [{ bits: 4, bitsPerWeight: 4, cost: 0 }] }];
 * console.log(ipAllocate(items, 4).cost, greedyAllocate(items, 4).cost); // 0 0
 * ```
 * @module
 */
export * from "./sensitivity.ts";
export * from "./ip.ts";
export * from "./greedy.ts";
export * from "./pareto.ts";
