/**
 * Pure-TS reference for kernels/ops/rope.ts: HF's rotate_half RoPE written
 * out per element. θ = f32(pos · invFreq[i]) (HF forms it in f32), then cos
 * and sin in f64. With `half` every step is rounded to f16 as HF's half
 * precision path does.
 * @module
 */

/** RoPE of `x` with shape `[..., seq, heads, D]` ("bshd") or `[..., heads, seq, D]` ("bhsd"). */
export function ropeRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  invFreq: ArrayLike<number>,
  { offset = 0, layout = "bshd", half = false }: {
    offset?: number;
    layout?: "bshd" | "bhsd";
    half?: boolean;
  } = {},
): Float64Array {
  const r = shape.length;
  const D = shape[r - 1];
  const H = layout === "bshd" ? shape[r - 2] : 1;
  const S = layout === "bshd" ? shape[r - 3] : shape[r - 2];
  const h = half ? (v: number) => Float16Array.from([v])[0] : (v: number) => v;
  const out = new Float64Array(x.length);
  for (let row = 0; row < x.length / D; row++) {
    const pos = offset + (Math.floor(row / H) % S);
    for (let i = 0; i < D / 2; i++) {
      const theta = Math.fround(pos * Math.fround(invFreq[i]));
      const c = h(Math.cos(theta));
      const s = h(Math.sin(theta));
      const x1 = Number(x[row * D + i]);
      const x2 = Number(x[row * D + i + D / 2]);
      out[row * D + i] = h(h(x1 * c) - h(x2 * s));
      out[row * D + i + D / 2] = h(h(x2 * c) + h(x1 * s));
    }
  }
  return out;
}
