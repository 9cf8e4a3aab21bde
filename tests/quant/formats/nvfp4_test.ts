import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  nvfp4,
  nvfp4Dequantize,
  nvfp4Quantize,
  nvfp4TensorEncodeScale,
} from "../../../quant/formats/nvfp4.ts";
import { mxfp4 } from "../../../quant/formats/mx.ts";
import { e2m1, e4m3 } from "../../../quant/formats/minifloat.ts";
import { evenCode, nearestCode } from "./_brute.ts";
import { gaussianArray, rng } from "./_rng.ts";

const f = Math.fround;

Deno.test("NVFP4 layout: e2m1 elements, e4m3 scale per 16, 4.5 bits per weight", () => {
  assertEquals(nvfp4.blockSize, 16);
  assertEquals(nvfp4.bitsPerWeight, 4.5);
  assertEquals(nvfp4.element.name, "e2m1");
  assertEquals(nvfp4.scaleFormat?.name, "e4m3");
});

Deno.test("tensor scale: s_enc = 448·6 / amax, zero amax → 1", () => {
  assertEquals(nvfp4TensorEncodeScale(2688), 1);
  assertEquals(nvfp4TensorEncodeScale(1), 2688);
  assertEquals(nvfp4TensorEncodeScale(0), 1);
  assertEquals(nvfp4TensorEncodeScale(1e-45), 3.4028234663852886e38); // overflow → f32 max
  assertThrows(() => nvfp4TensorEncodeScale(Infinity), RangeError);
});

Deno.test("hand-made blocks: block scale = e4m3(amax_b / 6 · s_enc)", () => {
  const x = new Float32Array(48);
  x[0] = 2688; // tensor amax → s_enc = 1, block 0 scale 448 (0x7E)
  x[16] = 6; // block 1: scale 1 (0x38)
  x[17] = 3;
  x[18] = -2.9; // 2.9 → 3
  x[32] = 13; // block 2: 13/6 = 2.1666 → e4m3 2.25 (0x41)
  x[33] = 1.125; // 1.125 / 2.25 = 0.5
  const q = nvfp4Quantize(x);
  assertEquals(q.tensorScale, 1);
  assertEquals(Array.from(q.scales), [0x7e, 0x38, 0x41]);
  assertEquals(e4m3.decode(0x41), 2.25);
  assertEquals(q.codes[0], 0x7);
  assertEquals(Array.from(q.codes.subarray(16, 19)), [0x7, 0x5, 0xd]);
  assertEquals(q.codes[32], 0x7); // 13 / 2.25 = 5.78 → 6
  assertEquals(q.codes[33], 0x1);
  const y = nvfp4Dequantize(q);
  assertEquals(Array.from(y.subarray(16, 19)), [6, 3, -3]);
  assertEquals(y[32], 13.5);
  assertEquals(y[33], 1.125);
});

Deno.test("random data: codes are the brute-force nearest e2m1 of x · enc_b, exact f32 steps", () => {
  const x = gaussianArray(rng(3), 16 * 64 + 5, 0.05);
  x[100] = 1.7; // an outlier sets the tensor scale
  const q = nvfp4Quantize(x);
  const sEnc = f(2688 / f(1.7));
  const sDec = f(1 / sEnc);
  assertEquals(q.tensorScale, sDec);
  const codes = Array.from({ length: 8 }, (_, c) => c);
  const y = nvfp4Dequantize(q);
  for (let b = 0; b < q.scales.length; b++) {
    const part = x.subarray(b * 16, b * 16 + 16);
    const amaxB = Math.max(...Array.from(part, Math.abs));
    const sb = e4m3.encode(f(f(amaxB / 6) * sEnc));
    assertEquals(q.scales[b], sb, `block ${b}`);
    const encB = f(1 / f(e4m3.decode(sb) * sDec));
    for (let i = b * 16; i < Math.min(x.length, b * 16 + 16); i++) {
      const v = f(x[i] * encB);
      const m = nearestCode(Math.min(Math.abs(v), 6), {
        codes,
        value: (c) => e2m1.values[c],
        tie: evenCode,
      });
      assertEquals(q.codes[i], m | (v < 0 || Object.is(v, -0) ? 8 : 0), `x[${i}]`);
      assertEquals(y[i], f(f(e2m1.values[q.codes[i]] * e4m3.decode(sb)) * sDec));
    }
  }
});

function mse(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s / a.length;
}

Deno.test("NVFP4 has a lower MSE than MXFP4 on seeded Gaussian data", () => {
  const x = gaussianArray(rng(2024), 1 << 14);
  const eNv = mse(x, nvfp4.dequantize(nvfp4.quantize(x)));
  const eMx = mse(x, mxfp4.dequantize(mxfp4.quantize(x)));
  console.log(
    `MSE on N(0,1), n = ${x.length}: nvfp4 ${eNv.toExponential(4)}, mxfp4 ${eMx.toExponential(4)}`,
  );
  assert(eNv < eMx, `nvfp4 ${eNv} should beat mxfp4 ${eMx}`);
  assert(eNv > 0 && eNv < 0.02, `${eNv}`); // 4-bit quantization of N(0,1): about 1e-2 or less
});

Deno.test("all-zero tensor, zero blocks, huge outliers: defined scales, no NaN", () => {
  const z = nvfp4Quantize(new Float32Array(32));
  assertEquals(z.tensorScale, 1);
  assertEquals(Array.from(z.scales), [0, 0]);
  assert(nvfp4Dequantize(z).every((v) => v === 0));
  const x = gaussianArray(rng(9), 64);
  x[0] = 1e30; // other blocks' scales underflow e4m3 and dequantize to 0
  const q = nvfp4Quantize(x);
  assertEquals(q.scales[0], 0x7e);
  assertEquals(Array.from(q.scales.subarray(1)), [0, 0, 0]);
  const y = nvfp4Dequantize(q);
  assert(y.every(Number.isFinite));
  assert(Math.abs(y[0] - 1e30) / 1e30 < 1e-6);
  assert(y.subarray(16).every((v) => v === 0));
});

Deno.test("tensorAmax option and input errors", () => {
  const q = nvfp4Quantize([1, 0.5], { tensorAmax: 2 });
  assertEquals(q.tensorScale, f(1 / 1344));
  assertEquals(q.scales[0], e4m3.encode(f(f(1 / 6) * 1344)));
  assertThrows(() => nvfp4Quantize([0, 1, NaN]), RangeError, "nvfp4[2] is NaN");
  assertThrows(() => nvfp4Dequantize({ ...q, format: "mxfp4" }), TypeError);
});

Deno.test("order of f32 operations is pinned: (amax_b / 6) · s_enc, not amax_b · (s_enc / 6)", () => {
  // Here the paper's order gives exactly 136, an E4M3 tie → 128 (code 112); Transformer
  // Engine's amax_b · f32(s_enc · f32(1/6)) gives 136.00002 → 144 (code 113).
  const tensorAmax = 19.894197463989258;
  const amaxB = 6.039309978485107;
  const sEnc = f(2688 / f(tensorAmax));
  assertEquals(f(f(amaxB / 6) * sEnc), 136);
  assertEquals(e4m3.encode(f(amaxB * f(sEnc * f(1 / 6)))), 113);
  const q = nvfp4Quantize([amaxB, 1], { tensorAmax });
  assertEquals(q.scales[0], 112);
});
