/**
 * The fast Walsh–Hadamard transform along the last axis, normalised by 1/√n
 * so it is orthonormal and its own inverse, and the randomized Hadamard
 * transform H·diag(s) of QuIP / QuaRot with a ±1 sign vector, with its inverse.
 * Lengths must be powers of two.
 *
 * Kernel: one workgroup transforms a chunk of up to 4096 elements of a row in
 * workgroup memory (log₂ of the chunk butterfly stages between barriers, in
 * f32); rows longer than that continue with one global butterfly pass per
 * remaining bit. f16 inputs are computed in f32 and rounded once, exactly.
 *
 * Row-vector convention: each row x becomes y = x·H·(1/√n) with the Sylvester
 * matrix H (H[i][j] = (−1)^popcount(i & j)), which is symmetric.
 *
 * Gradients (recorded for `x`; the signs are a constant): the transpose of
 * each transform, i.e. `hadamard` itself and `randomHadamard` in the other
 * direction (exact for any sign vector, not only ±1).
 *
 * Reference: `tests/reference/hadamard.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { hadamard } from "./hadamard.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, 0, 0, 0]);
 * using y = hadamard(x);
 * console.log(await y.data()); // Float32Array [0.5, 0.5, 0.5, 0.5]
 * ```
 * @module
 */
import { Rng } from "../random.ts";
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { cast, F16_BITS } from "./elementwise.ts";
import { expectDType, header } from "./wgsl.ts";
import { record } from "../autograd.ts";

/** Elements of a row transformed in workgroup memory at once (16 KiB of f32). */
const CHUNK = 4096;
const WG = 256;

type SignMode = "none" | "pre" | "post";

function checkLength(op: string, x: Tensor): number {
  expectDType(op, x, "f32", "f16");
  if (x.rank < 1) throw new RangeError(`${op}: ${x} needs at least one dimension`);
  const n = x.shape[x.rank - 1];
  if (n < 1 || (n & (n - 1)) !== 0) {
    throw new RangeError(
      `${op}: the last axis of ${x} has length ${n}; the fast Walsh–Hadamard transform needs ` +
        `a power of two (pad the axis with zeros to ${
          2 ** Math.ceil(Math.log2(Math.max(n, 1)))
        }, or transform a power-of-two block size)`,
    );
  }
  return n;
}

/** Chunk kernel: loads (× signs when pre), butterflies in workgroup memory, stores. */
function chunkCode(T: string, c: number, signs: SignMode, final: boolean, f16Out: boolean): string {
  const yT = f16Out ? "u32" : "f32";
  let b = 1;
  const dl = [`@group(0) @binding(${b++}) var<storage, read> X: array<${T}>;`];
  if (signs !== "none") dl.push(`@group(0) @binding(${b++}) var<storage, read> S: array<f32>;`);
  dl.push(`@group(0) @binding(${b++}) var<storage, read_write> Y: array<${yT}>;`);
  const out = (e: string) => {
    const v = `buf[${e}]${final ? " * p.scale" : ""}${
      final && signs === "post" ? ` * S[(base + ${e}) % p.n]` : ""
    }`;
    return v;
  };
  const store = f16Out
    ? `for (var e = lid; e < ${c / 2}u; e += ${WG}u) {
    Y[(base >> 1u) + e] = f16_bits(${out("2u * e")}) | (f16_bits(${out("2u * e + 1u")}) << 16u);
  }`
    : `for (var e = lid; e < ${c}u; e += ${WG}u) { Y[base + e] = ${out("e")}; }`;
  return `${header(T as "f32")}
struct P { n: u32, scale: f32, chunks: u32, }
@group(0) @binding(0) var<uniform> p: P;
${dl.join("\n")}
var<workgroup> buf: array<f32, ${c}>;
${f16Out ? F16_BITS : ""}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let chunk = wg.x + wg.y * nwg.x;
  if (chunk >= p.chunks) { return; }
  let base = chunk * ${c}u;
  for (var e = lid; e < ${c}u; e += ${WG}u) {
    buf[e] = f32(X[base + e])${signs === "pre" ? " * S[(base + e) % p.n]" : ""};
  }
  workgroupBarrier();
  for (var h = 1u; h < ${c}u; h <<= 1u) {
    for (var q = lid; q < ${Math.max(1, c >> 1)}u; q += ${WG}u) {
      let i = (q / h) * 2u * h + q % h;
      let a = buf[i];
      let b = buf[i + h];
      buf[i] = a + b;
      buf[i + h] = a - b;
    }
    workgroupBarrier();
  }
  ${store}
}`;
}

const STAGE = `
struct P { n: u32, h: u32, pairs: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = gid.x + gid.y * nwg.x * ${WG}u;
  if (q >= p.pairs) { return; }
  let half = p.n / 2u;
  let r = q % half;
  let i = (q / half) * p.n + (r / p.h) * 2u * p.h + r % p.h;
  let a = Y[i];
  let b = Y[i + p.h];
  Y[i] = a + b;
  Y[i + p.h] = a - b;
}`;

function finishCode(signs: SignMode): string {
  return `
struct P { n: u32, scale: f32, total: u32, }
@group(0) @binding(0) var<uniform> p: P;
${signs === "post" ? "@group(0) @binding(1) var<storage, read> S: array<f32>;" : ""}
@group(0) @binding(${signs === "post" ? 2 : 1}) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.total) { return; }
  Y[i] = Y[i] * p.scale${signs === "post" ? " * S[i % p.n]" : ""};
}`;
}

function transform(op: string, x: Tensor, signs: Tensor | undefined, mode: SignMode): Tensor {
  const n = checkLength(op, x);
  if (signs) {
    expectDType(op, signs, "f32");
    if (signs.rank !== 1 || signs.size !== n) {
      throw new RangeError(`${op}: signs ${signs} must be 1-D with ${n} elements (±1)`);
    }
  }
  const T = x.dtype;
  if (x.size === 0) return Tensor.empty(x.shape, T);
  const c = Math.min(n, CHUNK);
  const chunks = x.size / c;
  const scale = 1 / Math.sqrt(n);
  const sb = signs ? [signs.buffer] : [];
  // Direct: the whole row fits one chunk (f16 stored as exact pairs; n = 1 goes through f32).
  if (n === c && (T === "f32" || n >= 2)) {
    const y = Tensor.empty(x.shape, T);
    const code = chunkCode(T, c, mode, true, T === "f16");
    dispatch(
      op,
      code,
      [x.buffer, ...sb, y.buffer],
      new Params().u(n).f(scale).u(chunks),
      grid(chunks, 1),
    );
    return y;
  }
  const work = Tensor.empty(x.shape, "f32");
  const code = chunkCode(T, c, mode === "pre" ? "pre" : "none", false, false);
  dispatch(
    op,
    code,
    [x.buffer, ...(mode === "pre" ? sb : []), work.buffer],
    new Params().u(n).f(1).u(chunks),
    grid(chunks, 1),
  );
  const pairs = x.size / 2;
  for (let h = c; h < n; h *= 2) {
    dispatch(`${op} stage`, STAGE, [work.buffer], new Params().u(n, h, pairs), grid(pairs, WG));
  }
  const post = mode === "post" ? sb : [];
  dispatch(
    `${op} scale`,
    finishCode(mode === "post" ? "post" : "none"),
    [...post, work.buffer],
    new Params().u(n).f(scale).u(x.size),
    grid(x.size, WG),
  );
  if (T === "f32") return work;
  const y = cast(work, "f16");
  work.dispose();
  return y;
}

/**
 * Orthonormal Walsh–Hadamard transform of every row (last axis, length a
 * power of two): y = x·H/√n. Applying it twice gives x back.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { hadamard } from "./hadamard.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[3, 1], [2, 2]]);
 * using y = hadamard(hadamard(x));
 * console.log(Array.from(await y.data(), (v) => Math.round(v * 1e5) / 1e5)); // [3, 1, 2, 2]
 * ```
 */
export function hadamard(x: Tensor): Tensor {
  const y = transform("hadamard", x, undefined, "none");
  // H/√n is symmetric and orthonormal: the gradient is the same transform.
  return record("hadamard", [x], y, [], (g) => [hadamard(g)]);
}

/**
 * Randomized Hadamard transform (QuIP / QuaRot): y = (x ⊙ s)·H/√n along the
 * last axis, i.e. the orthogonal matrix diag(s)·H/√n applied to each row,
 * with `signs` a ±1 vector of length n (see {@link randomSigns}). With
 * `inverse: true` it undoes that: x = (y·H/√n) ⊙ s.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { randomHadamard, randomSigns } from "./hadamard.ts";
 * await initGPU();
 * using s = randomSigns(8, 42);
 * using x = Tensor.arange(8);
 * using y = randomHadamard(x, s);
 * using back = randomHadamard(y, s, { inverse: true });
 * console.log(Array.from(await back.data(), (v) => Math.round(v))); // [0, 1, 2, 3, 4, 5, 6, 7]
 * ```
 */
export function randomHadamard(
  x: Tensor,
  signs: Tensor,
  opts: { inverse?: boolean } = {},
): Tensor {
  const inverse = opts.inverse ?? false;
  const y = transform("randomHadamard", x, signs, inverse ? "post" : "pre");
  // (diag(s)·H/√n)ᵀ = H/√n·diag(s): the gradient is the other direction.
  return record(
    "randomHadamard",
    [x],
    y,
    [signs],
    (g, [s]) => [randomHadamard(g, s, { inverse: !inverse })],
  );
}

/**
 * A seeded ±1 vector of length n (f32) for {@link randomHadamard}; the same
 * seed gives the same signs on every machine.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomSigns } from "./hadamard.ts";
 * await initGPU();
 * using s = randomSigns(4, 1);
 * console.log((await s.data()).every((v) => v === 1 || v === -1)); // true
 * ```
 */
export function randomSigns(n: number, seed: number): Tensor {
  return Tensor.fromArray(new Rng(seed).signs(n), [n], "f32");
}
