import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { mul } from "../../../kernels/ops/elementwise.ts";
import { sumAll } from "../../../kernels/ops/reduce_all.ts";
import {
  binary,
  fp,
  int,
  mxfp4,
  nf4,
  nvfp4,
  type Quantizer,
  ternary,
  withSettings,
} from "../../../quant/quantizer.ts";
import { fakeQuant, quantGrid } from "../../../quant/quantize.ts";
import { fakeQuantSte } from "../../../quant/qat/fake_quant.ts";
import { gpuTest } from "../../_helpers.ts";
import { steGradRef } from "../../reference/ste_grad.ts";

// [5, 96]: odd rows; 96 columns hold groups of 12, 16 (NVFP4), 32 (MX) and 48.
const rows = 5, cols = 96;
const cases: [string, Quantizer][] = [
  ["int4 group 12", int(4, { group: 12 })],
  ["uint3 per channel (asymmetric)", int(3, { symmetric: false })],
  ["int4 mse range", withSettings(int(4), { range: { kind: "mse", grid: 20, minRatio: 0.5 } })],
  ["int8 per tensor", int(8, { per: "tensor" })],
  ["e2m1 per input channel", fp("e2m1", { per: "channel-in" })],
  ["nf4 group 48", nf4({ group: 48 })],
  ["mxfp4", mxfp4()],
  ["nvfp4", nvfp4()],
  ["ternary", ternary()],
  ["binary per channel", binary({ per: "channel" })],
  [
    "int4 per token, stochastic",
    int(4, { per: "token", rounding: { kind: "stochastic", seed: 7 } }),
  ],
];

function weight(seed: number): Float32Array {
  const w = new Rng(seed).normal(rows * cols, 0, 0.1);
  w[7] = 0.9; // an outlier
  w.fill(0, 2 * cols, 2 * cols + 48); // a zero half-row
  return w;
}

for (const [label, q] of cases) {
  gpuTest(
    `fakeQuantSte ${label}: forward is fakeQuant bit for bit, backward is the STE`,
    async () => {
      const w = weight(11);
      using wt = Tensor.fromArray(w, [rows, cols]);
      using expected = await fakeQuant(q, wt);
      const grid = await quantGrid(q, wt);
      const gy = new Rng(12).normal(rows * cols, 0, 1);
      using seed = Tensor.fromArray(gy, [rows, cols]);
      for (const grad of ["ste", "clipped-ste"] as const) {
        const { value, grads } = valueAndGrad(() => fakeQuantSte(wt, grid, { grad }), { w: wt }, {
          seed,
        });
        using v = value;
        using g = grads.get("w")!;
        assertEquals(await v.data(), await expected.data(), `${grad}: forward`);
        const layout = grid.transposed ? { groupSize: rows, columns: cols } : grid;
        const ref = steGradRef(gy, w, {
          groupSize: layout.groupSize,
          columns: grid.transposed ? cols : undefined,
          ...(grad === "clipped-ste" ? { lo: grid.lo, hi: grid.hi } : {}),
        });
        assertEquals(await g.data(), Float32Array.from(ref), `${grad}: gradient`);
      }
    },
  );
}

gpuTest(
  "fakeQuantSte: clipped STE zeroes the gradient outside the group range; NaN gives NaN",
  async () => {
    const q = int(4, { group: 12 });
    const w = weight(13);
    using wt = Tensor.fromArray(w, [rows, cols]);
    const grid = await quantGrid(q, wt);
    // another tensor of the same shape on w's grid: larger values fall outside
    const x = w.map((v) => 1.5 * v);
    x[3] = NaN;
    x[4] = grid.hi[0]; // on the bound: inside
    using xt = Tensor.fromArray(x, [rows, cols]);
    using r = Tensor.fromArray(new Rng(2).normal(rows * cols, 0, 1), [rows, cols]);
    const rd = await r.data();
    for (const grad of ["ste", "clipped-ste"] as const) {
      const { value, grads } = valueAndGrad(() => {
        using y = fakeQuantSte(xt, grid, { grad });
        using yr = mul(y, r);
        return sumAll(yr);
      }, { x: xt });
      value.dispose();
      using g = grads.get("x")!;
      const ref = steGradRef(rd, x, {
        groupSize: 12,
        ...(grad === "clipped-ste" ? { lo: grid.lo, hi: grid.hi } : {}),
      });
      const got = await g.data();
      assertEquals(got, Float32Array.from(ref), grad);
      assertEquals(Number.isNaN(got[3]), true);
      if (grad === "clipped-ste") {
        assertEquals(got[4], Math.fround(rd[4]));
        assertEquals(got[7], 0); // 1.35 lies outside ±0.9
      }
    }
  },
);

gpuTest("fakeQuantSte: bad input names the problem", async () => {
  using w = Tensor.fromArray([0.5, -0.25, 1]);
  const grid = await quantGrid(int(4), w);
  using x = Tensor.fromArray([1, 2]);
  assertThrows(() => fakeQuantSte(x, grid), RangeError, "quantGrid");
  assertThrows(
    // deno-lint-ignore no-explicit-any
    () => fakeQuantSte(w, grid, { grad: "lsq" as any }),
    RangeError,
    '"ste" or "clipped-ste"',
  );
});
