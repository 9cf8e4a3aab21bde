/**
 * The demo (`deno task demo`): detects the GPU and quantizes a seeded
 * synthetic weight matrix to int4 (round to nearest, per-tensor absmax scale)
 * on the GPU, printing the SQNR. To be replaced by the quickstart notebook's
 * script once the embedded model lands.
 * @module
 */
import { initGPU, ops, Tensor } from "../mod.ts";

const gpu = await initGPU();
console.log(`GPU: ${gpu.adapterName} (f16 ${gpu.hasF16}, timestamps ${gpu.hasTimestamps})`);

using w = Tensor.randn([256, 384], { seed: 0, std: 0.02 });
const data = await w.data();
const absmax = data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const scale = absmax / 7;
using scaled = ops.mul(w, 1 / scale);
using clipped = ops.clamp(scaled, -7, 7);
using codes = ops.unary("round", clipped);
using deq = ops.mul(codes, scale);
using err = ops.sub(w, deq);
const e = await err.data();
let se = 0, sw = 0;
for (let i = 0; i < e.length; i++) {
  se += e[i] * e[i];
  sw += data[i] * data[i];
}
console.log(`int4 RTN (per-tensor absmax) of a 256×384 Gaussian weight: SQNR ${(10 * Math.log10(sw / se)).toFixed(2)} dB`);
