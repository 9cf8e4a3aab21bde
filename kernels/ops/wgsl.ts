/**
 * Small pieces shared by the WGSL kernels: the f16 header, the linear index
 * of a folded 2-D dispatch, broadcasting strides, and argument checks that say
 * what is wrong.
 *
 * @example
 * ```ts
 * import { broadcastShapes } from "./wgsl.ts";
 * console.log(broadcastShapes([3, 1], [1, 4])); // [3, 4]
 * ```
 * @module
 */
import type { DType } from "../dtype.ts";
import type { Tensor } from "../tensor.ts";

/** `enable f16;` when any of the dtypes is f16 (the device must have `shader-f16`). */
export function header(...dtypes: DType[]): string {
  return dtypes.includes("f16") ? "enable f16;\n" : "";
}

/**
 * WGSL `is_nan(v: f32) -> bool` by bit pattern: compilers may fold `v != v`
 * to false, so NaN is tested on the bits.
 */
export const IS_NAN = `
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }`;

/** Declarations every 1-D elementwise kernel uses: builtins for the linear index. */
export const ENTRY_BUILTINS =
  "@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u";

/**
 * Shape both operands broadcast to (NumPy rules), or a RangeError naming both shapes.
 *
 * @example
 * ```ts
 * import { broadcastShapes } from "./wgsl.ts";
 * console.log(broadcastShapes([2, 3], [3])); // [2, 3]
 * ```
 */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) {
        throw new RangeError(
          `shapes ${shapes.map((x) => `[${x}]`).join(" and ")} do not broadcast ` +
            `(dimension ${i} from the right-aligned start: ${d} vs ${v})`,
        );
      }
      d = v;
    }
    out.push(d);
  }
  return out;
}

/**
 * Element strides of `shape` when broadcast to `out` (0 on broadcast dimensions).
 *
 * @example
 * ```ts
 * import { broadcastStrides } from "./wgsl.ts";
 * console.log(broadcastStrides([3, 1], [3, 4])); // [1, 0]
 * ```
 */
export function broadcastStrides(shape: readonly number[], out: readonly number[]): number[] {
  const strides = new Array(out.length).fill(0);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const j = out.length - shape.length + i;
    strides[j] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/** Contiguous row-major strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/** Throws unless the tensor has one of the allowed dtypes. */
export function expectDType(op: string, t: Tensor, ...allowed: DType[]): void {
  if (!allowed.includes(t.dtype)) {
    throw new TypeError(
      `${op}: ${t.toString()} has dtype ${t.dtype}; expected ${allowed.join(" or ")}` +
        (allowed.includes("f32") ? ' (convert with cast(t, "f32"))' : ""),
    );
  }
}

/** Throws unless all tensors share one dtype. */
export function expectSameDType(op: string, ...ts: Tensor[]): void {
  const d = ts[0].dtype;
  for (const t of ts) {
    if (t.dtype !== d) {
      throw new TypeError(
        `${op}: dtypes differ (${ts.map((x) => x.dtype).join(" vs ")}); cast one operand first`,
      );
    }
  }
}

/** Throws unless the tensor has the given rank. */
export function expectRank(op: string, t: Tensor, ...ranks: number[]): void {
  if (!ranks.includes(t.rank)) {
    throw new RangeError(
      `${op}: ${t.toString()} has rank ${t.rank}; expected rank ${ranks.join(" or ")}`,
    );
  }
}

/** Normalises a possibly negative axis, or throws naming the valid range. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new RangeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  }
  return a;
}
