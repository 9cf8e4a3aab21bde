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
export {
  layerSensitivity,
  type SensitivityOptions,
  type SensitivityRow,
  toAllocItems,
} from "./sensitivity.ts";
export {
  type Allocation,
  allocationOf,
  type AllocItem,
  type AllocOption,
  checkItems,
  ipAllocate,
  type IpOptions,
} from "./ip.ts";
export { greedyAllocate } from "./greedy.ts";
export { allocationFront, type FrontPoint, pareto } from "./pareto.ts";
