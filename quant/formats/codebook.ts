/**
 * The codebook family: any element format of at most 8 bits whose codes the
 * packed kernels decode through its own value table (minifloats other than
 * E2M1, NF4, log formats, dINT, formats registered at run time). It is the
 * family of every {@link ElementFormat} that names none.
 *
 * Scale rule (symmetric, float scales): scale = clip / maxValue, so the
 * group's range maps onto the format's largest value; a zero range gets the
 * scale 1; a "mean" range (absmean, absmedian) is used as the scale itself.
 * Storage: `codebook<b>` (`kernels/lowbit/codebook.ts`) with the format's
 * `values` as the table; block scales (E8M0, E4M3) have no codebook kernel.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { familyOf } from "./codebook.ts";
 * import { e3m2 } from "./minifloat.ts";
 * import { F16_SCALES } from "./format.ts";
 * assert(familyOf(e3m2).name === "codebook" && familyOf(e3m2).storage(e3m2, F16_SCALES)?.name === "codebook6");
 * ```
 * @module
 */
import type { Storage } from "../../kernels/lowbit/codegen.ts";
import { codebookStorage } from "../../kernels/lowbit/codebook.ts";
import { type ElementFormat, floatScales, type FormatFamily, type ScaleRule } from "./format.ts";

const f = Math.fround;

/**
 * The float scale rule of table formats: scale = f32(clip / maxValue), 1 for
 * a zero range (a "mean" range is the scale, at least `eps`).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { maxValueScales } from "./codebook.ts";
 * import { e2m1 } from "./minifloat.ts";
 * const r = maxValueScales()(e2m1, {
 *   kind: "clip", clip: Float32Array.of(3, 0), min: new Float32Array(2), max: new Float32Array(2),
 *   store: (s) => s,
 * });
 * assert(Array.from(r.decode).join() === "0.5,1");
 * ```
 */
export function maxValueScales(eps = 0): ScaleRule {
  return (element, ranges) =>
    floatScales(ranges, (clip) => (clip === 0 ? 1 : f(clip / element.maxValue)), eps);
}

const storages = new Map<number, Storage>();

/** The codebook family (see the module doc). */
export const CODEBOOK_FAMILY: FormatFamily = {
  name: "codebook",
  scale: maxValueScales(),
  storage(element, scale) {
    if (scale.rule) return undefined; // block scales: no codebook kernel
    let s = storages.get(element.bits);
    if (!s) storages.set(element.bits, s = codebookStorage(element.bits));
    return s;
  },
};

/**
 * The family record of an element format ({@link CODEBOOK_FAMILY} when it names none).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { familyOf } from "./codebook.ts";
 * import { int4 } from "./int.ts";
 * assert(familyOf(int4).name === "int");
 * ```
 */
export function familyOf(element: ElementFormat): FormatFamily {
  return element.family ?? CODEBOOK_FAMILY;
}
