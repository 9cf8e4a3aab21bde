/**
 * The one row-reduction skeleton of the reductions (`reduce.ts`), the
 * normalisations (`norm.ts`) and softmax (`softmax.ts`): a workgroup of 256
 * invocations holds `tx` rows side by side × `ty` invocations per row
 * (`tx · ty = 256`, both uniforms so one pipeline serves every shape). Each
 * invocation folds its strided share of a row into a state `S` (`s_init`,
 * then the op's own accumulation), the states meet through a tree in
 * workgroup memory (`s_comb`), and `sh[lx]` then holds the row's state for
 * the op's finishing statements.
 *
 * An op supplies the WGSL around the skeleton: a uniform struct bound as `P`
 * with fields `tx` and `ty`, its bindings, the state type `S` with
 * `s_init() -> S` and `s_comb(a: S, b: S) -> S`; the statements that
 * accumulate into `var st: S` (with `lx`, `ly`, the row index `j` in scope);
 * and the statements that finish from `sh[lx]`.
 *
 * @example
 * ```ts
 * import { rowLayout, rowReduceCode } from "./row_reduce.ts";
 * console.log(rowLayout(3), rowLayout(1000)); // { tx: 64, ty: 4 } { tx: 1, ty: 256 }
 * const code = rowReduceCode({ decls: "", accumulate: "", finish: "" });
 * console.log(code.includes("s_comb(sh[li], sh[li + h * P.tx])")); // true
 * ```
 * @module
 */

/** Invocations per row-reduction workgroup. */
export const ROW_WG = 256;

/** Smallest power of two ≥ n (1 for n ≤ 1). */
export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Workgroup shape for reducing `len` elements at stride `inner`: `tx` outputs
 * side by side (consecutive in memory when inner > 1, up to 64) × `ty`
 * invocations striding along the axis; tx·ty = 256.
 *
 * @example
 * ```ts
 * import { rowLayout } from "./row_reduce.ts";
 * console.log(rowLayout(10, 100)); // { tx: 64, ty: 4 }
 * ```
 */
export function rowLayout(len: number, inner = 1): { tx: number; ty: number } {
  const tx0 = inner > 1 ? Math.min(64, nextPow2(inner)) : 1;
  const ty = Math.min(ROW_WG / tx0, nextPow2(len));
  return { tx: ROW_WG / ty, ty };
}

/** The op-specific parts of a row reduction (see the module doc). */
export interface RowReduceParts {
  /** Module scope: enables, `P` (with `tx`, `ty`), bindings, `S`, `s_init`, `s_comb`, helpers. */
  decls: string;
  /** Statements folding this invocation's share of row `j` into `st`. */
  accumulate: string;
  /** Statements run after the tree, reading the row's state from `sh[lx]`. */
  finish: string;
}

/**
 * The WGSL of one row reduction (entry point `main`, dispatched over
 * `⌈rows / tx⌉` workgroups folded into x and y).
 *
 * @example
 * ```ts
 * import { rowReduceCode } from "./row_reduce.ts";
 * const code = rowReduceCode({ decls: "", accumulate: "st = 1.0;", finish: "" });
 * console.log(code.includes("var st = s_init();")); // true
 * ```
 */
export function rowReduceCode(parts: RowReduceParts): string {
  return `${parts.decls}
var<workgroup> sh: array<S, ${ROW_WG}>;
@compute @workgroup_size(${ROW_WG}) fn main(
  @builtin(local_invocation_index) li: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let lx = li % P.tx;
  let ly = li / P.tx;
  let j = (wid.x + wid.y * nwg.x) * P.tx + lx;
  var st = s_init();
  ${parts.accumulate}
  sh[li] = st;
  workgroupBarrier();
  for (var h = P.ty >> 1u; h > 0u; h = h >> 1u) {
    if (ly < h) { sh[li] = s_comb(sh[li], sh[li + h * P.tx]); }
    workgroupBarrier();
  }
  ${parts.finish}
}`;
}
