/**
 * A tiny named parameter set for the optimizer tests: two matrices of odd
 * shapes, a vector (a norm weight) and a frozen matrix, with seeded values and
 * gradients (a NaN-free mix with exact zeros).
 * @module
 */
import { Rng } from "../../../kernels/random.ts";
import { Tensor } from "../../../kernels/tensor.ts";

/** Name → shape of the test parameters. */
export const SHAPES: Record<string, number[]> = {
  "layers.0.mlp.up_proj.weight": [7, 13],
  "layers.0.mlp.down_proj.weight": [13, 7],
  "layers.0.input_layernorm.weight": [13],
  "embed_tokens.weight": [5, 3],
};

/** Seeded parameter values, on the CPU. */
export function paramValues(seed = 1): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of Object.entries(SHAPES)) {
    out.set(name, rng.normal(shape.reduce((a, b) => a * b, 1), 0, 1));
  }
  return out;
}

/** Seeded gradients of step `step` for every name except `frozen` (every 4th element 0). */
export function gradValues(
  step: number,
  frozen = "embed_tokens.weight",
): Map<string, Float32Array> {
  const rng = new Rng(1000 + step);
  const out = new Map<string, Float32Array>();
  for (const [name, shape] of Object.entries(SHAPES)) {
    if (name === frozen) continue;
    const g = rng.normal(shape.reduce((a, b) => a * b, 1), 0, 1);
    for (let i = 0; i < g.length; i += 4) g[i] = 0;
    out.set(name, g);
  }
  return out;
}

/** GPU tensors of a value map (owned by the caller). */
export function upload(values: Map<string, Float32Array>): Map<string, Tensor> {
  return new Map(
    [...values].map(([name, v]) => [name, Tensor.fromArray(v, SHAPES[name])]),
  );
}

/** Disposes every tensor of a map. */
export function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}
