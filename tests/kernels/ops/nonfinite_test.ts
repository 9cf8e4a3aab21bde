import { assertEquals, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { findNonFinite } from "../../../kernels/ops/nonfinite.ts";
import { firstNonFinite } from "../../../model/finite.ts";
import { gpuTest } from "../../_helpers.ts";

/** The pure-TS answer: first tensor with a non-finite element, that element and its value. */
function reference(arrays: ArrayLike<number>[]) {
  for (let t = 0; t < arrays.length; t++) {
    const index = firstNonFinite(arrays[t]);
    if (index >= 0) return { tensor: t, index, value: arrays[t][index] };
  }
  return undefined;
}

gpuTest("findNonFinite matches the pure-TS scan (odd sizes, f32 and f16, many hits)", async () => {
  const rng = new Rng(3);
  // sizes not multiples of the workgroup (256 words = 256 f32 or 512 f16), and a single element
  const sizes = [1, 7, 257, 513, 1000];
  for (const dtype of ["f32", "f16"] as const) {
    for (let trial = 0; trial < 12; trial++) {
      const arrays = sizes.map((n) => {
        const x = rng.normal(n, 0, 1);
        if (dtype === "f16") return Float16Array.from(x);
        return x;
      });
      // plant up to three non-finite values in random tensors at random places (subnormals,
      // ±0 and ±65504 stay finite)
      for (let k = 0; k < trial % 4; k++) {
        const t = Math.floor(rng.uniform(1, 0, sizes.length)[0]);
        const i = Math.floor(rng.uniform(1, 0, sizes[t])[0]);
        arrays[t][i] = [NaN, Infinity, -Infinity][k % 3];
      }
      arrays[4][0] = dtype === "f16" ? 65504 : 3.4e38;
      arrays[4][1] = -0;
      arrays[4][2] = dtype === "f16" ? 2 ** -24 : 1e-45;
      const tensors = arrays.map((a, i) => Tensor.fromArray(a, [sizes[i]], dtype));
      const got = await findNonFinite(tensors);
      assertEquals(got, reference(arrays), `${dtype} trial ${trial}`);
      for (const t of tensors) t.dispose();
    }
  }
});

gpuTest(
  "findNonFinite: the last element of an odd f16 tensor; several bad in one word",
  async () => {
    // the padding half of the last word is never reported; a hit in it is a real element
    using a = Tensor.fromArray(Float16Array.of(1, 2, 3), [3], "f16");
    using b = Tensor.fromArray(Float16Array.of(1, 2, NaN), [3], "f16");
    using c = Tensor.fromArray(Float16Array.of(Infinity, NaN), [2], "f16");
    using e = Tensor.empty([0]);
    assertEquals(await findNonFinite([a, e]), undefined);
    assertEquals(await findNonFinite([e, a, b]), { tensor: 2, index: 2, value: NaN });
    assertEquals(await findNonFinite([c]), { tensor: 0, index: 0, value: Infinity });
    assertEquals(await findNonFinite([]), undefined);
    // the inputs are not modified
    assertEquals(await b.data(), Float16Array.of(1, 2, NaN));
  },
);

gpuTest("findNonFinite: an integer tensor is refused by position", async () => {
  using a = Tensor.fromArray([1]);
  using i = Tensor.fromArray(new Int32Array([1]));
  await assertRejects(() => findNonFinite([a, i]), TypeError, "tensor 1");
});
