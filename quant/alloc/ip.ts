/**
 * Bit allocation as an integer program: choose one option (a bit width) per
 * layer so that the summed degradation is smallest while the model stays
 * within a size budget (Hubara et al., "Improving Post Training Neural
 * Quantization: Layer-wise Calibration and Integer Programming", 2020,
 * arXiv:2006.10518, §4):
 *
 *   minimise   Σ_l Σ_b  x_{l,b} · ΔL_{l,b}
 *   subject to Σ_l Σ_b  x_{l,b} · n_l · bpw_b  ≤  B,   Σ_b x_{l,b} = 1,   x ∈ {0, 1}
 *
 * (ΔL_{l,b}: the loss increase when only layer l is quantized to b bits;
 * degradations are assumed additive.) This multiple-choice knapsack is solved
 * exactly by dynamic programming over the layers with the budget cut into
 * `steps` units; each option's size is rounded *up* to whole units, so the
 * answer always fits the real budget and is optimal among allocations whose
 * rounded sizes fit.
 *
 * @example
 * ```ts
 * import { ipAllocate } from "./ip.ts";
 * const items = [
 *   { name: "a", params: 100, options: [{ bits: 2, bitsPerWeight: 2, cost: 5 }, { bits: 4, bitsPerWeight: 4, cost: 1 }] },
 *   { name: "b", params: 100, options: [{ bits: 2, bitsPerWeight: 2, cost: 0.5 }, { bits: 4, bitsPerWeight: 4, cost: 0 }] },
 * ];
 * const r = ipAllocate(items, 3); // average 3 bits: one layer can have 4
 * console.log(r.picks.map((p) => p.bits), r.cost); // [4, 2] 1.5
 * ```
 * @module
 */

/** One way to quantize a layer: its bit width, storage cost and degradation. */
export interface AllocOption {
  /** Element bits (for display and to build the quantizer). */
  bits: number;
  /** Stored bits per weight, scales included (what the budget counts). */
  bitsPerWeight: number;
  /** Degradation when only this layer takes this option (e.g. KL or ΔNLL). */
  cost: number;
}

/** A layer to allocate: its name, parameter count and options. */
export interface AllocItem {
  /** Layer (or point) name. */
  name: string;
  /** Number of weights of the layer. */
  params: number;
  /** The bit widths it can take. */
  options: AllocOption[];
}

/** The chosen option of every layer. */
export interface Allocation {
  /** One pick per item, in order. */
  picks: { name: string; params: number; bits: number; bitsPerWeight: number; cost: number }[];
  /** Σ cost of the picks (the predicted degradation). */
  cost: number;
  /** Parameter-weighted mean bits per weight of the picks. */
  bitsPerWeight: number;
}

/** Options of {@link ipAllocate}. */
export interface IpOptions {
  /**
   * Most units the budget is cut into (default 4000; time ∝ items × steps × options). When
   * every option's size (params × bits per weight) is an integer and their gcd cuts the
   * budget into at most this many units, that gcd is the unit and the solution is exact.
   */
  steps?: number;
}

/** Builds an {@link Allocation} from chosen option indices. */
export function allocationOf(items: readonly AllocItem[], choice: readonly number[]): Allocation {
  let cost = 0, bits = 0, params = 0;
  const picks = items.map((it, i) => {
    const o = it.options[choice[i]];
    cost += o.cost;
    bits += o.bitsPerWeight * it.params;
    params += it.params;
    return {
      name: it.name,
      params: it.params,
      bits: o.bits,
      bitsPerWeight: o.bitsPerWeight,
      cost: o.cost,
    };
  });
  return { picks, cost, bitsPerWeight: params ? bits / params : 0 };
}

/** Checks the items: names, positive parameter counts, finite options. */
export function checkItems(items: readonly AllocItem[], op: string): void {
  if (items.length === 0) throw new RangeError(`${op}: no layers to allocate`);
  for (const it of items) {
    if (!(it.params > 0)) throw new RangeError(`${op}: layer ${it.name} has params ${it.params}`);
    if (it.options.length === 0) throw new RangeError(`${op}: layer ${it.name} has no options`);
    for (const o of it.options) {
      if (!Number.isFinite(o.cost) || !(o.bitsPerWeight > 0)) {
        throw new RangeError(
          `${op}: layer ${it.name}, ${o.bits} bits: cost ${o.cost} and bitsPerWeight ` +
            `${o.bitsPerWeight} must be finite (and bits positive)`,
        );
      }
    }
  }
}

/**
 * The exact (up to the budget discretisation) minimum-cost allocation with
 * parameter-weighted mean bits per weight ≤ `avgBits`. Throws when even the
 * smallest option of every layer does not fit.
 *
 * @example
 * ```ts
 * import { ipAllocate } from "./ip.ts";
 * const opts = (c2: number) => [{ bits: 2, bitsPerWeight: 2, cost: c2 }, { bits: 8, bitsPerWeight: 8, cost: 0 }];
 * const items = [{ name: "x", params: 10, options: opts(1) }, { name: "y", params: 30, options: opts(2) }];
 * console.log(ipAllocate(items, 6).picks.map((p) => p.bits)); // [8, 2] (y at 8 bits does not fit)
 * ```
 */
export function ipAllocate(
  items: readonly AllocItem[],
  avgBits: number,
  options: IpOptions = {},
): Allocation {
  checkItems(items, "ipAllocate");
  const maxSteps = options.steps ?? 4000;
  const totalParams = items.reduce((a, it) => a + it.params, 0);
  const budget = avgBits * totalParams;
  const raw = items.map((it) => it.options.map((o) => o.bitsPerWeight * it.params));
  // integer sizes: work in units of their gcd when that is fine enough (exact); else `steps` units
  let unit = budget / maxSteps;
  if (raw.flat().every((v) => Math.abs(v - Math.round(v)) < 1e-6)) {
    const g = raw.flat().reduce((a, v) => gcd(a, Math.round(v)), 0);
    if (g > 0 && budget / g <= maxSteps) unit = g;
  }
  const steps = Math.floor(budget / unit + 1e-9);
  const size = raw.map((r) => r.map((v) => Math.ceil(v / unit - 1e-9)));
  // best[c] = least cost of the items so far within c units; from[i][c] = choice
  let best = new Float64Array(steps + 1); // no items: cost 0 at any capacity
  const from: Int16Array[] = [];
  for (let i = 0; i < items.length; i++) {
    const next = new Float64Array(steps + 1).fill(Infinity);
    const pick = new Int16Array(steps + 1).fill(-1);
    for (let c = 0; c <= steps; c++) {
      for (let k = 0; k < items[i].options.length; k++) {
        const s = size[i][k];
        if (s > c || best[c - s] === Infinity) continue;
        const v = best[c - s] + items[i].options[k].cost;
        if (v < next[c]) {
          next[c] = v;
          pick[c] = k;
        }
      }
    }
    from.push(pick);
    best = next;
  }
  if (best[steps] === Infinity) {
    const least = items.reduce(
      (a, it) => a + Math.min(...it.options.map((o) => o.bitsPerWeight)) * it.params,
      0,
    ) / totalParams;
    throw new RangeError(
      `ipAllocate: budget ${avgBits} bits per weight is below the smallest allocation ` +
        `(${least.toFixed(3)} bits per weight)`,
    );
  }
  const choice = new Array<number>(items.length);
  let c = steps;
  for (let i = items.length - 1; i >= 0; i--) {
    const k = from[i][c];
    choice[i] = k;
    c -= size[i][k];
  }
  return allocationOf(items, choice);
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
