/**
 * The size–degradation trade-off of an allocation problem: the optimal
 * (integer-programming) allocation at each of a list of budgets, reduced to
 * its Pareto front (no other point is both smaller and better), ready for
 * `viz.paretoFront`.
 *
 * @example
 * ```ts
 * import { allocationFront } from "./pareto.ts";
 * const opts = [{ bits: 2, bitsPerWeight: 2, cost: 4 }, { bits: 4, bitsPerWeight: 4, cost: 1 }, { bits: 8, bitsPerWeight: 8, cost: 0 }];
 * const items = [{ name: "a", params: 1, options: opts }, { name: "b", params: 1, options: opts }];
 * const front = allocationFront(items, [2, 3, 4, 6, 8]);
 * console.log(front.map((p) => `${p.bits}:${p.error}`).join(" ")); // 2:8 3:5 4:2 6:1 8:0
 * ```
 * @module
 */
import { type Allocation, type AllocItem, ipAllocate, type IpOptions } from "./ip.ts";

/** One point of the front: name, bits per weight and predicted degradation, and its allocation. */
export interface FrontPoint {
  /** Layer (or point) name. */
  name: string;
  /** Element bits. */
  bits: number;
  /** Predicted degradation (Σ cost). */
  error: number;
  /** The allocation behind the point. */
  allocation: Allocation;
}

/**
 * The non-dominated points of `points` (smaller bits and smaller error are
 * better), sorted by bits; points with a non-finite coordinate are dropped.
 *
 * @example
 * ```ts
 * import { pareto } from "./pareto.ts";
 * const pts = [{ bits: 4, error: 1 }, { bits: 4, error: 2 }, { bits: 3, error: 3 }, { bits: 5, error: 3 }];
 * console.log(pareto(pts)); // [{ bits: 3, error: 3 }, { bits: 4, error: 1 }]
 * ```
 */
export function pareto<P extends { bits: number; error: number }>(points: readonly P[]): P[] {
  const sorted = points.filter((p) => Number.isFinite(p.bits) && Number.isFinite(p.error))
    .sort((a, b) => a.bits - b.bits || a.error - b.error);
  const front: P[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.error < best) {
      front.push(p);
      best = p.error;
    }
  }
  return front;
}

/**
 * The integer-programming allocation at each average budget (bits per
 * weight; budgets below the smallest allocation are skipped), reduced to the
 * Pareto front of (achieved bits per weight, predicted cost).
 */
export function allocationFront(
  items: readonly AllocItem[],
  budgets: readonly number[],
  options: IpOptions = {},
): FrontPoint[] {
  const points: FrontPoint[] = [];
  for (const b of budgets) {
    let a: Allocation;
    try {
      a = ipAllocate(items, b, options);
    } catch (e) {
      if (e instanceof RangeError && /below the smallest/.test(e.message)) continue;
      throw e;
    }
    points.push({ name: `≤ ${b}`, bits: a.bitsPerWeight, error: a.cost, allocation: a });
  }
  return pareto(points);
}
