import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { mseClipSearch } from "../../../kernels/quantize/mse_clip.ts";
import { gpuTest } from "../../_helpers.ts";
import { mseClipErrorsRef } from "../../reference/quantize.ts";
import { data, int4Table } from "./_tables.ts";

gpuTest("mseClipSearch picks the reference's best ratio wherever it is clear", async () => {
  const table = int4Table();
  const [groups, gs] = [9, 37];
  const x = data(groups * gs, 5, gs); // the first group is all zeros (amax 0: scale 1)
  x[gs + 1] = 40; // an outlier: clipping pays off in this group
  const amax = Float32Array.from({ length: groups }, (_, g) => {
    let m = 0;
    for (let k = 0; k < gs; k++) m = Math.max(m, Math.abs(x[g * gs + k]));
    return m;
  });
  const ratios = [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3];
  using xt = Tensor.fromArray(x, [groups, gs]);
  using at = Tensor.fromArray(amax);
  using best = mseClipSearch(xt, { groupSize: gs, table, amax: at, maxValue: 7, ratios });
  const got = await best.data();
  const errs = mseClipErrorsRef(x, { groupSize: gs, table, amax, maxValue: 7, ratios });
  let compared = 0;
  errs.forEach((e, g) => {
    const order = [...e.keys()].sort((a, b) => e[a] - e[b] || a - b);
    // The kernel sums in f32: compare only where the best beats the runner-up by > 1e-4.
    if (e[order[1]] - e[order[0]] > 1e-4 * (1 + e[order[0]])) {
      assertEquals(got[g], order[0], `group ${g}: errors ${e}`);
      compared++;
    } else if (e[order[0]] === e[order[1]] && e[order[0]] === 0) {
      assertEquals(got[g], 0, `group ${g}: all errors 0, the first ratio wins`);
    }
  });
  assertEquals(compared >= groups - 2, true, `only ${compared} groups had a clear best`);
});
