import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { groupStats } from "../../../kernels/quantize/group_stats.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { groupStatsRef } from "../../reference/quantize.ts";
import { data } from "./_tables.ts";

// groupSize ≤ 256 takes one invocation per group; larger groups a workgroup tree.
for (const [rows, cols, gs] of [[3, 10, 5], [1, 1, 1], [2, 600, 300], [7, 33, 11]]) {
  gpuTest(`groupStats [${rows}, ${cols}] g${gs} matches the reference`, async () => {
    const x = data(rows * cols, gs, Math.min(3, cols));
    if (x.length > 4) {
      x[3] = NaN;
      x[x.length - 1] = Infinity;
    }
    using xt = Tensor.fromArray(x, [rows, cols]);
    using s = groupStats(xt, gs);
    const got = await s.data();
    const ref = groupStatsRef(x, gs);
    // absmax/min/max and the counts are exact; the sums are f32 (tolerance ~ n · 2⁻²⁴ · Σ|x|).
    for (const c of [0, 1, 2, 6, 7]) {
      const pick = (a: ArrayLike<number>) =>
        Array.from({ length: a.length / 8 }, (_, g) => a[g * 8 + c]);
      assertEquals(pick(got), pick(ref).map(Math.fround), `column ${c}`);
    }
    assertClose(got, ref, { atol: 1e-3, rtol: 1e-5 }, "sums");
  });
}
