/**
 * Layout ops, each producing a new contiguous tensor: `transpose` (tiled
 * through workgroup memory so both the reads and the writes are coalesced),
 * `permute`, `slice`, `narrow`, `split`, `concat` and `contiguous` (a copy).
 *
 * All of them are one strided copy (`strided_copy.ts`: rank ≤ 8 after
 * merging, a plain buffer copy when both sides are contiguous, a tiled
 * kernel for a batched transpose). Elements are copied bit for bit, any
 * dtype. Each records its gradient (the inverse permutation, the slice
 * written into zeros, the pieces of a concat, the sum over an expand).
 *
 * Reference: `tests/reference/layout.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { concat, transpose } from "./layout.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
 * using t = transpose(a);
 * using c = concat([a, a], 0);
 * console.log(await t.toArray(), c.shape); // [[1, 4], [2, 5], [3, 6]] [4, 3]
 * ```
 * @module
 */
import { Tensor } from "../tensor.ts";
import { record } from "../autograd.ts";
import { sumToShape } from "./elementwise_grad.ts";
import { stridedCopy } from "./strided_copy.ts";
import { broadcastShapes, broadcastStrides, contiguousStrides, normAxis } from "./wgsl.ts";

/**
 * Reorders the dimensions: output dimension k is input dimension `axes[k]`
 * (negative axes count from the end).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { permute } from "./layout.ts";
 * await initGPU();
 * using x = Tensor.zeros([2, 3, 4]);
 * using y = permute(x, [2, 0, 1]);
 * console.log(y.shape); // [4, 2, 3]
 * ```
 */
export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const op = "permute";
  if (axes.length !== x.rank) {
    throw new RangeError(
      `${op}: axes [${axes}] have ${axes.length} entries; ${x.toString()} has rank ${x.rank}`,
    );
  }
  const p = axes.map((a) => normAxis(op, a, x.rank));
  if (new Set(p).size !== p.length) {
    throw new RangeError(`${op}: axes [${axes}] repeat a dimension; expected a permutation`);
  }
  const strides = contiguousStrides(x.shape);
  const shape = p.map((a) => x.shape[a]);
  const y = Tensor.empty(shape, x.dtype);
  stridedCopy(op, x, y, {
    shape,
    src: p.map((a) => strides[a]),
    dst: contiguousStrides(shape),
    srcOff: 0,
    dstOff: 0,
  });
  const inverse = p.map((_, i) => p.indexOf(i));
  return record("permute", [x], y, [], (g) => [permute(g, inverse)]);
}

/**
 * Broadcasts `x` to `shape` (NumPy rules: size-1 and missing leading
 * dimensions repeat) as a new contiguous tensor.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { expand } from "./layout.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1], [2]]);
 * using y = expand(x, [2, 3]);
 * console.log(await y.toArray()); // [[1, 1, 1], [2, 2, 2]]
 * ```
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const out = broadcastShapes(x.shape, shape);
  if (out.length !== shape.length || out.some((d, i) => d !== shape[i])) {
    throw new RangeError(`expand: ${x.toString()} does not broadcast to [${shape}]`);
  }
  const y = Tensor.empty(shape, x.dtype);
  stridedCopy("expand", x, y, {
    shape: [...shape],
    src: broadcastStrides(x.shape, shape),
    dst: contiguousStrides(shape),
    srcOff: 0,
    dstOff: 0,
  });
  return record("expand", [x], y, [], (g) => [sumToShape(g, x.shape)]);
}

/**
 * Swaps two dimensions (by default the last two, the tiled matrix
 * transpose; a batch of matrices is transposed matrix by matrix).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { transpose } from "./layout.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 2], [3, 4], [5, 6]]);
 * using y = transpose(x);
 * console.log(await y.toArray()); // [[1, 3, 5], [2, 4, 6]]
 * ```
 */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  if (x.rank < 2) {
    throw new RangeError(`transpose: ${x.toString()} has rank ${x.rank}; expected rank ≥ 2`);
  }
  const a = normAxis("transpose", dim0, x.rank), b = normAxis("transpose", dim1, x.rank);
  const axes = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, axes);
}

/**
 * A contiguous copy of `x` (tensors are always contiguous in lowbit; this
 * gives an independent buffer).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { contiguous } from "./layout.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, 2, 3]);
 * using y = contiguous(x);
 * console.log(await y.data()); // Float32Array [1, 2, 3]
 * ```
 */
export function contiguous(x: Tensor): Tensor {
  const y = Tensor.empty(x.shape, x.dtype);
  stridedCopy("contiguous", x, y, {
    shape: [x.size],
    src: [1],
    dst: [1],
    srcOff: 0,
    dstOff: 0,
  });
  return record("contiguous", [x], y, [], (g) => [g.share()]);
}

/**
 * The block `starts[k] ≤ i < ends[k]` of every dimension k as a new tensor.
 * Missing entries (or `undefined`) mean the whole dimension; negative values
 * count from the end. Out-of-range bounds throw.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { slice } from "./layout.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
 * using y = slice(x, [0, 1]);
 * console.log(await y.toArray()); // [[2, 3], [5, 6]]
 * ```
 */
export function slice(
  x: Tensor,
  starts: readonly (number | undefined)[],
  ends: readonly (number | undefined)[] = [],
): Tensor {
  const op = "slice";
  if (starts.length > x.rank || ends.length > x.rank) {
    throw new RangeError(
      `${op}: starts [${starts}] / ends [${ends}] have more entries than ${x.toString()} has ` +
        `dimensions (${x.rank})`,
    );
  }
  const lo: number[] = [], shape: number[] = [];
  for (let k = 0; k < x.rank; k++) {
    const d = x.shape[k];
    const fix = (v: number | undefined, dflt: number, what: string) => {
      if (v === undefined) return dflt;
      const r = v < 0 ? v + d : v;
      if (!Number.isInteger(v) || r < 0 || r > d) {
        throw new RangeError(
          `${op}: ${what} ${v} of dimension ${k} is out of range for ${x.toString()}; expected ` +
            `an integer in [${-d}, ${d}]`,
        );
      }
      return r;
    };
    const s = fix(starts[k], 0, "start"), e = fix(ends[k], d, "end");
    if (e < s) {
      throw new RangeError(
        `${op}: dimension ${k} of ${x.toString()}: end ${ends[k]} (${e}) is before start ` +
          `${starts[k]} (${s})`,
      );
    }
    lo.push(s);
    shape.push(e - s);
  }
  const strides = contiguousStrides(x.shape);
  const y = Tensor.empty(shape, x.dtype);
  stridedCopy(op, x, y, {
    shape,
    src: strides,
    dst: contiguousStrides(shape),
    srcOff: lo.reduce((p, s, k) => p + s * strides[k], 0),
    dstOff: 0,
  });
  return record(op, [x], y, [], (g) => {
    // The gradient of a slice: g in the block, zeros elsewhere.
    const gx = Tensor.zeros(x.shape, g.dtype);
    stridedCopy("slice backward", g, gx, {
      shape,
      src: contiguousStrides(shape),
      dst: strides,
      srcOff: 0,
      dstOff: lo.reduce((p, s, k) => p + s * strides[k], 0),
    });
    return [gx];
  });
}

/**
 * `length` entries of `axis` from `start` (negative start counts from the end).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { narrow } from "./layout.ts";
 * await initGPU();
 * using x = Tensor.arange(10);
 * using y = narrow(x, 0, 7, 2);
 * console.log(await y.data()); // Float32Array [7, 8]
 * ```
 */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  const a = normAxis("narrow", axis, x.rank);
  const s = start < 0 ? start + x.shape[a] : start;
  if (!Number.isInteger(length) || length < 0 || s + length > x.shape[a]) {
    throw new RangeError(
      `narrow: start ${start} + length ${length} exceeds dimension ${a} (${
        x.shape[a]
      }) of ${x.toString()}`,
    );
  }
  const starts = x.shape.map((_, k) => (k === a ? s : 0));
  const ends = x.shape.map((d, k) => (k === a ? s + length : d));
  return slice(x, starts, ends);
}

/**
 * Splits `axis` into pieces: `sizes` gives each piece's length (they must sum
 * to the dimension), or a number gives that many equal pieces.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { split } from "./layout.ts";
 * await initGPU();
 * using qkv = Tensor.zeros([2, 12]);
 * const [q, k, v] = split(qkv, [8, 2, 2], -1);
 * console.log(q.shape, k.shape, v.shape); // [2, 8] [2, 2] [2, 2]
 * for (const t of [q, k, v]) t.dispose();
 * ```
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  const a = normAxis("split", axis, x.rank);
  const d = x.shape[a];
  let parts: number[];
  if (typeof sizes === "number") {
    if (!Number.isInteger(sizes) || sizes <= 0 || d % sizes !== 0) {
      throw new RangeError(
        `split: dimension ${a} (${d}) of ${x.toString()} does not split into ${sizes} equal parts`,
      );
    }
    parts = new Array(sizes).fill(d / sizes);
  } else {
    parts = [...sizes];
    const total = parts.reduce((p, v) => p + v, 0);
    if (parts.some((v) => !Number.isInteger(v) || v < 0) || total !== d) {
      throw new RangeError(
        `split: sizes [${sizes}] must be integers ≥ 0 summing to dimension ${a} (${d}) of ` +
          `${x.toString()}; they sum to ${total}`,
      );
    }
  }
  const out: Tensor[] = [];
  let at = 0;
  for (const p of parts) {
    out.push(narrow(x, a, at, p));
    at += p;
  }
  return out;
}

/**
 * Joins tensors along `axis`; every other dimension and the dtype must match.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { concat } from "./layout.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1], [2]]);
 * using b = Tensor.fromArray([[3, 4], [5, 6]]);
 * using c = concat([a, b], 1);
 * console.log(await c.toArray()); // [[1, 3, 4], [2, 5, 6]]
 * ```
 */
export function concat(ts: readonly Tensor[], axis = 0): Tensor {
  const op = "concat";
  if (ts.length === 0) throw new RangeError(`${op}: needs at least one tensor`);
  const first = ts[0];
  const a = normAxis(op, axis, first.rank);
  for (const [i, t] of ts.entries()) {
    if (t.dtype !== first.dtype) {
      throw new TypeError(
        `${op}: tensor ${i} ${t.toString()} has dtype ${t.dtype}; expected ${first.dtype} like tensor 0`,
      );
    }
    if (t.rank !== first.rank || t.shape.some((d, k) => k !== a && d !== first.shape[k])) {
      throw new RangeError(
        `${op}: tensor ${i} ${t.toString()} does not match tensor 0 ${first.toString()} outside ` +
          `axis ${a}; expected [${first.shape.map((d, k) => (k === a ? "*" : d)).join(", ")}]`,
      );
    }
  }
  const shape = [...first.shape];
  shape[a] = ts.reduce((p, t) => p + t.shape[a], 0);
  const y = Tensor.empty(shape, first.dtype);
  const dst = contiguousStrides(shape);
  let at = 0;
  for (const t of ts) {
    stridedCopy(op, t, y, {
      shape: [...t.shape],
      src: contiguousStrides(t.shape),
      dst,
      srcOff: 0,
      dstOff: at * dst[a],
    });
    at += t.shape[a];
  }
  return record(op, ts, y, [], (g) => {
    let from = 0;
    return ts.map((t) => {
      const gt = narrow(g, a, from, t.shape[a]);
      from += t.shape[a];
      return gt;
    });
  });
}
