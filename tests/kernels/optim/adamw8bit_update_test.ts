import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { adamwScalars } from "../../../kernels/optim/adamw_update.ts";
import { adamw8bitUpdate, BLOCK } from "../../../kernels/optim/adamw8bit_update.ts";
import { dynamicMap, dynamicMaps } from "../../../train/optim/dynamic_map.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { adamw8bitRef, type Blockwise8bitRef } from "../../reference/optim.ts";

const SIGNED = dynamicMap(true);
const UNSIGNED = dynamicMap(false);

function pack(codes: Uint8Array): Uint32Array {
  const w = new Uint32Array(Math.ceil(codes.length / 4));
  codes.forEach((c, i) => w[i >> 2] |= c << (8 * (i & 3)));
  return w;
}

function unpack(words: ArrayLike<number>, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (words[i >> 2] >>> (8 * (i & 3))) & 0xff);
}

/**
 * Codes equal the reference's, except where the reference's normalized value lies within
 * a few f32 ulps of the midpoint between the two codes' values (the GPU may divide with
 * 2.5 ulp error and contract a·b + c into an fma, which moves a value across that boundary).
 */
function assertCodes(
  got: Uint8Array,
  want: Uint8Array,
  q: Float32Array,
  map: Float32Array,
  what: string,
): number {
  let near = 0;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const lo = Math.min(got[i], want[i]);
    const mid = (map[lo] + map[lo + 1]) / 2;
    const ok = Math.abs(got[i] - want[i]) === 1 &&
      Math.abs(q[i] - mid) <= 4e-7 * Math.abs(mid) + 1e-30;
    assert(ok, `${what}: code [${i}] ${got[i]} ≠ ${want[i]} (normalized ${q[i]}, midpoint ${mid})`);
    near++;
  }
  return near;
}

gpuTest(
  "adamw8bitUpdate matches the f32 reference of the algorithm (sizes 1, 7, 2048, 4099)",
  async () => {
    using maps = Tensor.fromArray(dynamicMaps());
    let boundary = 0, total = 0;
    for (const n of [1, 7, 2048, 4099]) {
      const nb = Math.ceil(n / BLOCK);
      const rng = new Rng(n);
      // a random state to start from (any codes and scales are a valid state)
      let state: Blockwise8bitRef = {
        mCodes: Uint8Array.from(rng.uniform(n, 0, 256), Math.floor),
        vCodes: Uint8Array.from(rng.uniform(n, 0, 256), Math.floor),
        mAbsmax: rng.uniform(nb, 0, 0.1),
        vAbsmax: rng.uniform(nb, 0, 0.01),
      };
      let p0 = rng.normal(n, 0, 1);
      using p = Tensor.fromArray(p0);
      using mc = Tensor.fromArray(pack(state.mCodes));
      using vc = Tensor.fromArray(pack(state.vCodes));
      using ma = Tensor.fromArray(state.mAbsmax);
      using va = Tensor.fromArray(state.vAbsmax);
      for (let step = 1; step <= 3; step++) {
        const o = { lr: 0.01, step, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
        const g0 = rng.normal(n, 0, 0.1);
        g0[0] = 0;
        using g = Tensor.fromArray(g0);
        adamw8bitUpdate(
          p,
          g,
          { mCodes: mc, vCodes: vc, mAbsmax: ma, vAbsmax: va },
          maps,
          adamwScalars(o),
        );
        const ref = adamw8bitRef(p0, g0, state, SIGNED, UNSIGNED, o);
        const what = `n ${n} step ${step}`;
        const got = {
          p: await p.data() as Float32Array,
          mCodes: unpack(await mc.data(), n),
          vCodes: unpack(await vc.data(), n),
          mAbsmax: await ma.data() as Float32Array,
          vAbsmax: await va.data() as Float32Array,
        };
        // f32 emulation: the kernel may contract into fma or divide within 2.5 ulp
        assertClose(got.p, ref.p, { atol: 1e-7, rtol: 1e-6 }, `p ${what}`);
        assertClose(got.mAbsmax, ref.mAbsmax, { atol: 0, rtol: 1e-6 }, `m absmax ${what}`);
        assertClose(got.vAbsmax, ref.vAbsmax, { atol: 0, rtol: 1e-6 }, `v absmax ${what}`);
        boundary += assertCodes(got.mCodes, ref.mCodes, ref.mNormalized, SIGNED, `m ${what}`);
        boundary += assertCodes(got.vCodes, ref.vCodes, ref.vNormalized, UNSIGNED, `v ${what}`);
        total += 2 * n;
        // continue from the GPU's state, so one boundary case does not compound
        state = got;
        p0 = got.p;
      }
    }
    assert(boundary <= total / 1000, `${boundary} of ${total} codes differ at a boundary`);
  },
);

gpuTest("adamw8bitUpdate: zero state, zero gradient, NaN gradient", async () => {
  using maps = Tensor.fromArray(dynamicMaps());
  const n = 2 * BLOCK + 5;
  const zeroM = SIGNED.indexOf(0);
  using p = Tensor.fromArray(new Float32Array(n).fill(1));
  using mc = Tensor.fromArray(pack(new Uint8Array(n).fill(zeroM)));
  using vc = Tensor.zeros([Math.ceil(n / 4)], "u32");
  using ma = Tensor.zeros([3]);
  using va = Tensor.zeros([3]);
  const g0 = new Float32Array(n);
  g0[BLOCK + 1] = NaN; // block 1 only
  using g = Tensor.fromArray(g0);
  const state = { mCodes: mc, vCodes: vc, mAbsmax: ma, vAbsmax: va };
  const s = adamwScalars({ lr: 0.1, step: 1 });
  adamw8bitUpdate(p, g, state, maps, s);
  let pd = await p.data();
  // zero gradient and zero moments: p unchanged, scales stay 0, codes stay those of 0
  assertEquals([pd[0], pd[n - 1], Number.isNaN(pd[BLOCK + 1]), Number.isNaN(pd[BLOCK + 2])], [
    1,
    1,
    true,
    false,
  ]);
  const am = Array.from(await ma.data());
  assertEquals([am[0], Number.isNaN(am[1]), am[2]], [0, true, 0]);
  assertEquals(unpack(await mc.data(), n)[BLOCK - 1], zeroM);
  // next step: the NaN scale makes block 1 NaN, blocks 0 and 2 stay finite
  adamw8bitUpdate(p, g, state, maps, adamwScalars({ lr: 0.1, step: 2 }));
  pd = await p.data();
  const nanAt = (lo: number, hi: number) => pd.slice(lo, hi).filter(Number.isNaN).length;
  assertEquals([nanAt(0, BLOCK), nanAt(BLOCK, 2 * BLOCK), nanAt(2 * BLOCK, n)], [0, BLOCK, 0]);
});

gpuTest("adamw8bitUpdate rejects state of the wrong size", () => {
  using maps = Tensor.fromArray(dynamicMaps());
  using p = Tensor.zeros([9]);
  using c = Tensor.zeros([3], "u32");
  using bad = Tensor.zeros([2], "u32");
  using a = Tensor.zeros([1]);
  const s = adamwScalars({ lr: 0.1, step: 1 });
  assertThrows(
    () => adamw8bitUpdate(p, p, { mCodes: bad, vCodes: c, mAbsmax: a, vAbsmax: a }, maps, s),
    RangeError,
    "ceil(n/4)",
  );
});
