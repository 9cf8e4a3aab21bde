/**
 * Pure-TS references for the quantization kernels of `kernels/quantize/`:
 * plain loops over each element or group. The per-element arithmetic is done
 * in f32 exactly as the kernels write it (`Math.fround` after every
 * operation), so codes and dequantized values are compared bit for bit;
 * sums are in f64 (the kernels sum in f32, so those compare with a
 * tolerance).
 * @module
 */

const f = Math.fround;

/** A format's decision table (the shape `kernels/quantize/decision_table.ts` takes). */
export interface TableRef {
  values: Float32Array;
  codes: Uint32Array;
  thresholds: Float32Array;
  byCode: Float32Array;
}

/** Index of v's value: the number of thresholds ≤ v (0 for NaN, as the kernel's search). */
export function tableIndexRef(table: TableRef, v: number): number {
  let n = 0;
  for (const t of table.thresholds) if (t <= v) n++;
  return n;
}

/** Per-group [absmax, min, max, Σx, Σ|x|, Σx², non-finite count, first non-finite index within the group or −1]. */
export function groupStatsRef(x: ArrayLike<number>, groupSize: number): Float64Array {
  const groups = x.length / groupSize;
  const out = new Float64Array(groups * 8);
  for (let g = 0; g < groups; g++) {
    let [amax, mn, mx, s, sa, sq, nf, first] = [0, 3.4028234e38, -3.4028234e38, 0, 0, 0, 0, -1];
    for (let k = 0; k < groupSize; k++) {
      const i = g * groupSize + k;
      const v = x[i];
      if (!Number.isFinite(v)) {
        nf++;
        if (first < 0) first = k; // within the group (the caller adds g·groupSize)
        continue;
      }
      amax = Math.max(amax, Math.abs(v));
      mn = Math.min(mn, v);
      mx = Math.max(mx, v);
      s += v;
      sa += Math.abs(v);
      sq += v * v;
    }
    out.set([amax, f(mn), f(mx), s, sa, sq, nf, first], g * 8);
  }
  return out;
}

/** Codes and values of `tableQuantize` (deterministic rounding). */
export function tableQuantizeRef(
  x: ArrayLike<number>,
  o: {
    groupSize: number;
    table: TableRef;
    encode: ArrayLike<number>;
    mode: "div" | "mul";
    decode: ArrayLike<number>;
    decode2?: number;
  },
): { codes: Uint32Array; dequantized: Float32Array } {
  const codes = new Uint32Array(x.length);
  const deq = new Float32Array(x.length);
  const d2 = f(o.decode2 ?? 1);
  for (let i = 0; i < x.length; i++) {
    const g = Math.floor(i / o.groupSize);
    const v = o.mode === "div" ? f(x[i] / o.encode[g]) : f(x[i] * o.encode[g]);
    const idx = tableIndexRef(o.table, v);
    codes[i] = o.table.codes[idx];
    deq[i] = f(f(o.table.values[idx] * o.decode[g]) * d2);
  }
  return { codes, dequantized: deq };
}

/** Values of codes: byCode[c] · decode · decode2, or (byCode[c] − zero) · scale with zeros. */
export function tableDequantizeRef(
  codes: ArrayLike<number>,
  o: {
    groupSize: number;
    byCode: Float32Array;
    decode: ArrayLike<number>;
    decode2?: number;
    zero?: ArrayLike<number>;
  },
): Float32Array {
  const y = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    const g = Math.floor(i / o.groupSize);
    const v = o.byCode[codes[i]];
    y[i] = o.zero ? f(f(v - o.zero[g]) * o.decode[g]) : f(f(v * o.decode[g]) * f(o.decode2 ?? 1));
  }
  return y;
}

/** Round half to even (WGSL `round`). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v - Math.trunc(v)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Codes and values of `affineQuantize` (deterministic rounding; finite inputs). */
export function affineQuantizeRef(
  x: ArrayLike<number>,
  o: {
    groupSize: number;
    bits: number;
    qmin: number;
    qmax: number;
    scale: ArrayLike<number>;
    zero: ArrayLike<number>;
  },
): { codes: Uint32Array; dequantized: Float32Array } {
  const codes = new Uint32Array(x.length);
  const deq = new Float32Array(x.length);
  const mask = (1 << o.bits) - 1;
  for (let i = 0; i < x.length; i++) {
    const g = Math.floor(i / o.groupSize);
    const r = roundHalfEven(f(x[i] / o.scale[g]));
    const q = Math.min(Math.max(f(r + o.zero[g]), o.qmin), o.qmax);
    codes[i] = (q | 0) & mask;
    deq[i] = f(f(q - o.zero[g]) * o.scale[g]);
  }
  return { codes, dequantized: deq };
}

/** Per group, Σ(x − x̂)² (f64) of every candidate clipping ratio; the kernel returns the argmin. */
export function mseClipErrorsRef(
  x: ArrayLike<number>,
  o: {
    groupSize: number;
    table: TableRef;
    amax: ArrayLike<number>;
    maxValue: number;
    ratios: number[];
  },
): number[][] {
  const out: number[][] = [];
  for (let g = 0; g < x.length / o.groupSize; g++) {
    out.push(o.ratios.map((r) => {
      const scale = o.amax[g] > 0 ? f(f(f(r) * o.amax[g]) / f(o.maxValue)) : 1;
      let err = 0;
      for (let k = 0; k < o.groupSize; k++) {
        const v = x[g * o.groupSize + k];
        const d = v - f(o.table.values[tableIndexRef(o.table, f(v / scale))] * scale);
        err += d * d;
      }
      return err;
    }));
  }
  return out;
}

/** `fakeQuantRows` of finite rows: scale = clipRatio · max|row| / maxValue, values through the table. */
export function fakeQuantRowsRef(
  x: ArrayLike<number>,
  cols: number,
  o: { table: TableRef; maxValue: number; clipRatio?: number },
): Float32Array {
  const y = new Float32Array(x.length);
  const factor = f((o.clipRatio ?? 1) / o.maxValue);
  for (let r = 0; r < x.length / cols; r++) {
    let m = 0;
    for (let k = 0; k < cols; k++) m = Math.max(m, Math.abs(x[r * cols + k]));
    const scale = m > 0 ? f(m * factor) : 1;
    for (let k = 0; k < cols; k++) {
      const v = x[r * cols + k];
      y[r * cols + k] = Number.isNaN(v)
        ? v
        : f(o.table.values[tableIndexRef(o.table, f(v / scale))] * scale);
    }
  }
  return y;
}
