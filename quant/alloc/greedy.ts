/**
 * Greedy bit allocation under an average-bits budget: every layer starts at
 * its smallest option; then, while the budget allows, the upgrade with the
 * largest drop in cost per added bit (ΔL / Δsize, over all layers and all
 * larger options) is taken. Fast and usually close to the exact
 * {@link ipAllocate}, but not optimal: with non-convex cost curves it can
 * stop short (the integer program is the reference).
 *
 * @example
 * ```ts
 * import { greedyAllocate } from "./greedy.ts";
 * const opts = (c2: number) => [{ bits: 2, bitsPerWeight: 2, cost: c2 }, { bits: 4, bitsPerWeight: 4, cost: 0 }];
 * const items = [{ name: "a", params: 10, options: opts(1) }, { name: "b", params: 10, options: opts(3) }];
 * console.log(greedyAllocate(items, 3).picks.map((p) => p.bits)); // [2, 4]
 * ```
 * @module
 */
import { type Allocation, allocationOf, type AllocItem, checkItems } from "./ip.ts";

/**
 * Greedy allocation with parameter-weighted mean bits per weight ≤ `avgBits`
 * (see the module doc). Throws when the smallest options do not fit.
 *
 * @example
 * ```ts
 * import { greedyAllocate } from "./greedy.ts";
 * const items = [{ name: "a", params: 1, options: [{ bits: 8, bitsPerWeight: 8, cost: 0 }] }];
 * console.log(greedyAllocate(items, 8).bitsPerWeight); // 8
 * ```
 */
export function greedyAllocate(items: readonly AllocItem[], avgBits: number): Allocation {
  checkItems(items, "greedyAllocate");
  const total = items.reduce((a, it) => a + it.params, 0);
  const budget = avgBits * total * (1 + 1e-12);
  const choice = items.map((it) => {
    let k = 0;
    for (let j = 1; j < it.options.length; j++) {
      if (it.options[j].bitsPerWeight < it.options[k].bitsPerWeight) k = j;
    }
    return k;
  });
  const size = (i: number, k: number) => items[i].options[k].bitsPerWeight * items[i].params;
  let used = choice.reduce((a, k, i) => a + size(i, k), 0);
  if (used > budget) {
    throw new RangeError(
      `greedyAllocate: budget ${avgBits} bits per weight is below the smallest allocation ` +
        `(${(used / total).toFixed(3)})`,
    );
  }
  for (;;) {
    let bi = -1, bk = -1, bestRatio = 0;
    for (let i = 0; i < items.length; i++) {
      const cur = items[i].options[choice[i]];
      for (let k = 0; k < items[i].options.length; k++) {
        const o = items[i].options[k];
        const dSize = size(i, k) - size(i, choice[i]);
        const dCost = cur.cost - o.cost;
        if (dSize <= 0 || dCost <= 0 || used + dSize > budget) continue;
        const ratio = dCost / dSize;
        if (ratio > bestRatio) [bi, bk, bestRatio] = [i, k, ratio];
      }
    }
    if (bi < 0) break;
    used += size(bi, bk) - size(bi, choice[bi]);
    choice[bi] = bk;
  }
  return allocationOf(items, choice);
}
