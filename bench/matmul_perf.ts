// Ad-hoc GEMM/GEMV throughput on the real GPU (not a test): deno run -A tests/kernels/ops/_matmul_perf.ts [mm|gemv|sweep]
// Times exclude CPU encoding: everything is encoded first, then submitted and awaited.
import { gpu, initGPU } from "../kernels/gpu.ts";
import { Tensor } from "../kernels/tensor.ts";
import { copy, flush, sync } from "../kernels/runtime.ts";
import { gemmTuning, linear, matmul } from "../kernels/ops/matmul.ts";

await initGPU();
console.log(gpu().adapterName);
const { device } = gpu();
async function time(f: () => Tensor, iters: number): Promise<number> {
  f().dispose();
  await sync();
  const outs: Tensor[] = [];
  for (let i = 0; i < iters; i++) outs.push(f()); // encoded, not yet submitted
  const t0 = performance.now();
  flush();
  await device.queue.onSubmittedWorkDone();
  const s = (performance.now() - t0) / iters / 1000;
  for (const o of outs) o.dispose();
  return s;
}
const mode = Deno.args[0] ?? "mm";
if (mode === "copy") {
  using a = Tensor.zeros([64 * 2 ** 20]);
  using b = Tensor.zeros([64 * 2 ** 20]);
  const s = await time(() => {
    copy(a.buffer, 0, b.buffer, 0, a.byteLength);
    return Tensor.empty([1]);
  }, 50);
  console.log(`copy 256 MiB: ${(2 * a.byteLength / s / 1e12).toFixed(2)} TB/s`);
}
if (mode === "mm" || mode === "sweep") {
  const variants: [string, () => void][] = mode === "sweep"
    ? [
      ["8x8 bk16", () =>
        Object.assign(gemmTuning, { big: { tm: 8, tn: 8, bk: 16 }, rowsFirst: false })],
      ["8x8 bk16 rowsFirst", () =>
        Object.assign(gemmTuning, { big: { tm: 8, tn: 8, bk: 16 }, rowsFirst: true })],
      ["8x8 bk8", () =>
        Object.assign(gemmTuning, { big: { tm: 8, tn: 8, bk: 8 }, rowsFirst: false })],
      ["8x8 bk32", () =>
        Object.assign(gemmTuning, { big: { tm: 8, tn: 8, bk: 32 }, rowsFirst: false })],
      ["8x8 bk32 rowsFirst", () =>
        Object.assign(gemmTuning, { big: { tm: 8, tn: 8, bk: 32 }, rowsFirst: true })],
      ["8x4 bk16", () =>
        Object.assign(gemmTuning, { big: { tm: 8, tn: 4, bk: 16 }, rowsFirst: false })],
    ]
    : [["default", () => {}]];
  const sizes = mode === "sweep" ? [4096] : [1024, 2048, 4096];
  for (const [name, set] of variants) {
    set();
    for (const dt of ["f32", "f16"] as const) {
      for (const n of sizes) {
        using a = Tensor.randn([n, n], { dtype: dt, seed: 1 });
        using b = Tensor.randn([n, n], { dtype: dt, seed: 2 });
        for (const tb of [false, true]) {
          const s = await time(() => matmul(a, b, { transB: tb }), n >= 4096 ? 10 : 30);
          console.log(
            `${name} ${dt} ${n}³ transB=${tb}: ${(2 * n ** 3 / s / 1e12).toFixed(2)} TFLOP/s (${
              (s * 1e3).toFixed(2)
            } ms)`,
          );
        }
      }
    }
  }
}
if (mode === "gemv") {
  for (const dt of ["f16", "f32"] as const) {
    for (const [N, K] of [[4096, 4096], [14336, 4096], [4096, 14336]]) {
      using w = Tensor.randn([N, K], { dtype: dt, seed: 3 });
      for (const M of [1, 4, 8, 16]) {
        using x = Tensor.randn([M, K], { dtype: dt, seed: 4 });
        const s = await time(() => linear(x, w), 200);
        const bytes = N * K * (dt === "f16" ? 2 : 4);
        console.log(
          `linear ${dt} M=${M} ${N}×${K}: ${(s * 1e6).toFixed(1)} µs, ${
            (bytes / s / 1e12).toFixed(2)
          } TB/s of weights`,
        );
      }
    }
  }
}
if (mode === "linalg") {
  const { cholesky, choleskyInverseUpper } = await import("../kernels/ops/linalg.ts");
  const { hadamard } = await import("../kernels/ops/hadamard.ts");
  const { matmul: mm } = await import("../kernels/ops/matmul.ts");
  const n = 4096;
  using x = Tensor.randn([n + 64, n], { seed: 1 });
  using h = mm(x, x, { transA: true }); // XᵀX, SPD
  const sc = await time(() => cholesky(h), 3);
  console.log(
    `cholesky ${n}: ${(sc * 1e3).toFixed(1)} ms (${(n ** 3 / 3 / sc / 1e12).toFixed(2)} TFLOP/s)`,
  );
  const si = await time(() => choleskyInverseUpper(h), 2);
  console.log(`choleskyInverseUpper ${n}: ${(si * 1e3).toFixed(1)} ms`);
  const l = cholesky(h);
  const d = await l.data();
  console.log(`cholesky finite: ${d.every((v) => Number.isFinite(v))}`);
  l.dispose();
  using a = Tensor.randn([4096, 4096], { seed: 2, dtype: "f16" });
  const sh = await time(() => hadamard(a), 20);
  console.log(
    `hadamard f16 4096×4096: ${(sh * 1e6).toFixed(0)} µs, ${
      (2 * a.byteLength / sh / 1e12).toFixed(2)
    } TB/s`,
  );
}
