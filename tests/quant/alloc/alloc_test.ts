import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../../kernels/random.ts";
import { type AllocItem, ipAllocate } from "../../../quant/alloc/ip.ts";
import { greedyAllocate } from "../../../quant/alloc/greedy.ts";
import { allocationFront, pareto } from "../../../quant/alloc/pareto.ts";
import { toAllocItems } from "../../../quant/alloc/sensitivity.ts";

/** Random problems: sizes like real layers (multiples of 64 params), costs falling with bits. */
function randomItems(rng: Rng, n: number, bits = [2, 3, 4, 8]): AllocItem[] {
  return Array.from({ length: n }, (_, i) => {
    const params = 64 * (1 + Math.floor(rng.next() * 8));
    const scale = rng.next() * 5;
    return {
      name: `l${i}`,
      params,
      options: bits.map((b) => ({
        bits: b,
        bitsPerWeight: b + 0.5,
        cost: scale * 2 ** -b * (0.5 + rng.next()),
      })),
    };
  });
}

/** Exhaustive search: the optimum over all |options|^n allocations. */
function bruteForce(items: AllocItem[], avgBits: number): number {
  const total = items.reduce((a, it) => a + it.params, 0);
  let best = Infinity;
  const rec = (i: number, size: number, cost: number) => {
    if (size > avgBits * total + 1e-9) return;
    if (i === items.length) {
      best = Math.min(best, cost);
      return;
    }
    for (const o of items[i].options) {
      rec(i + 1, size + o.bitsPerWeight * items[i].params, cost + o.cost);
    }
  };
  rec(0, 0, 0);
  return best;
}

Deno.test("ipAllocate finds the brute-force optimum and respects the budget", () => {
  const rng = new Rng(1);
  for (let t = 0; t < 30; t++) {
    const items = randomItems(rng, 2 + (t % 5));
    const budget = 2.5 + rng.next() * 4;
    const a = ipAllocate(items, budget);
    assert(a.bitsPerWeight <= budget + 1e-12, `trial ${t}: ${a.bitsPerWeight} > ${budget}`);
    assertAlmostEquals(a.cost, bruteForce(items, budget), 1e-12, `trial ${t}`);
    const g = greedyAllocate(items, budget);
    assert(g.bitsPerWeight <= budget + 1e-12);
    assert(g.cost >= a.cost - 1e-12, `greedy ${g.cost} beat the optimum ${a.cost}`);
  }
});

Deno.test("ipAllocate with non-integer sizes uses the discretised budget, never exceeding it", () => {
  const rng = new Rng(2);
  const items = randomItems(rng, 6).map((it) => ({
    ...it,
    options: it.options.map((o) => ({ ...o, bitsPerWeight: o.bitsPerWeight + 1 / 3 })),
  }));
  const a = ipAllocate(items, 3.9, { steps: 500 });
  assert(a.bitsPerWeight <= 3.9);
  // within the rounding of 6 items × one unit of the optimum
  assert(a.cost <= bruteForce(items, 3.9 - 6 * 3.9 / 500) + 1e-12);
});

Deno.test("allocators reject impossible budgets and bad items", () => {
  const items = randomItems(new Rng(3), 3);
  assertThrows(() => ipAllocate(items, 2), RangeError, "below the smallest");
  assertThrows(() => greedyAllocate(items, 2), RangeError, "below the smallest");
  assertThrows(() => ipAllocate([], 4), RangeError, "no layers");
  const bad = [{ name: "x", params: 4, options: [{ bits: 2, bitsPerWeight: 2, cost: NaN }] }];
  assertThrows(() => ipAllocate(bad, 4), RangeError, "layer x");
});

Deno.test("pareto keeps the non-dominated points; allocationFront is monotone", () => {
  assertEquals(
    pareto([{ bits: 3, error: 1 }, { bits: 2, error: 2 }, { bits: 4, error: 1 }, {
      bits: 1,
      error: NaN,
    }]),
    [{ bits: 2, error: 2 }, { bits: 3, error: 1 }],
  );
  const items = randomItems(new Rng(4), 5);
  const front = allocationFront(items, [2, 2.5, 3, 3.5, 4, 5, 6, 8.5]);
  assert(front.length >= 3);
  for (let i = 1; i < front.length; i++) {
    assert(front[i].bits > front[i - 1].bits && front[i].error < front[i - 1].error);
  }
});

Deno.test("toAllocItems groups sensitivity rows per layer", () => {
  const rows = [2, 4].flatMap((bits) =>
    ["a", "b"].map((layer) => ({
      layer,
      params: 10,
      bits,
      bitsPerWeight: bits + 0.5,
      kl: 1 / bits,
      dNll: -bits,
    }))
  );
  const items = toAllocItems(rows, "dNll");
  assertEquals(items.map((i) => i.name), ["a", "b"]);
  assertEquals(items[0].options.map((o) => [o.bits, o.cost]), [[2, -2], [4, -4]]);
});
