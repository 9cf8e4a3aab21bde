/**
 * The command stream's ordering: a large upload (sent with `queue.writeBuffer`)
 * into a pooled buffer that queued work still reads must not overtake that work.
 */
import { assertEquals } from "@std/assert";
import { initGPU } from "../../kernels/gpu.ts";
import { resetPeakLiveBytes, runtimeStats } from "../../kernels/runtime.ts";
import { gpuTest } from "../_helpers.ts";
import { Tensor } from "../../kernels/tensor.ts";
import { binary } from "../../kernels/ops/elementwise.ts";

Deno.test("a large upload into a reused buffer waits for the queued work that reads it", async () => {
  await initGPU();
  const n = 300_001; // > 1 MiB of f32: the direct-upload path; odd length
  const a = Tensor.fromArray(Float32Array.from({ length: n }, (_, i) => i % 97), [n]);
  using doubled = binary("mul", a, 2); // queued, not yet submitted
  a.dispose(); // its buffer returns to the pool while `doubled` still needs it
  const before = runtimeStats().pooledBytes;
  using c = Tensor.fromArray(new Float32Array(n).fill(-1), [n]); // likely takes that buffer
  const got = await doubled.data() as Float32Array;
  let bad = -1;
  for (let i = 0; i < n && bad < 0; i++) if (got[i] !== 2 * (i % 97)) bad = i;
  assertEquals(bad, -1, `doubled[${bad}] = ${got[bad]}, expected ${2 * (bad % 97)}`);
  const cv = await c.data() as Float32Array;
  assertEquals([cv[0], cv[n - 1], cv.length], [-1, -1, n]);
  assertEquals(before > 0, true, "the disposed buffer was not pooled; the test lost its point");
});

Deno.test("an upload whose byte length is not a multiple of 4 still round-trips", async () => {
  await initGPU();
  const n = 150_001; // u8 would not be a tensor dtype; f16 has 2-byte elements
  const data = Float32Array.from({ length: n }, (_, i) => (i % 13) - 6);
  using t = Tensor.fromArray(data, [n]);
  const back = await t.data() as Float32Array;
  assertEquals(Array.from(back.subarray(n - 3)), Array.from(data.subarray(n - 3)));
});

gpuTest("runtimeStats: peakLiveBytes is the high-water mark since resetPeakLiveBytes", () => {
  resetPeakLiveBytes();
  const base = runtimeStats().liveBytes;
  assertEquals(runtimeStats().peakLiveBytes, base);
  const a = Tensor.zeros([1024]);
  const b = Tensor.zeros([2048]);
  a.dispose();
  b.dispose();
  assertEquals(runtimeStats().liveBytes, base);
  assertEquals(runtimeStats().peakLiveBytes, base + 4096 + 8192);
  resetPeakLiveBytes();
  assertEquals(runtimeStats().peakLiveBytes, base);
});
