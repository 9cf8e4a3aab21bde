/**
 * Calibration test data: activations [tokens, channels] with per-channel
 * means and scales, an all-zero channel, a channel with a large mean and a
 * tiny spread (cancellation check) and one huge outlier, cut into uneven batches.
 * @module
 */
import { Rng } from "../../../kernels/random.ts";

/** Default stream: 3 batches of 5, 17 and 1 tokens × 37 channels. */
export const BATCHES = [5, 17, 1];
/** Channels of the default stream. */
export const CHANNELS = 37;
/** The all-zero channel. */
export const ZERO_CHANNEL = 3;
/** The channel with mean 100 and std 0.01. */
export const OFFSET_CHANNEL = 11;
/** Where the single huge outlier sits: [token, channel, value]. */
export const OUTLIER: [number, number, number] = [9, 20, 1e4];

/** All tokens of the stream, row-major f32 (values as the GPU sees them). */
export function activations(tokens: number, channels = CHANNELS, seed = 5): Float32Array {
  const z = new Rng(seed).normal(tokens * channels);
  const x = new Float32Array(tokens * channels);
  for (let t = 0; t < tokens; t++) {
    for (let c = 0; c < channels; c++) {
      const i = t * channels + c;
      if (c === ZERO_CHANNEL) x[i] = 0;
      else if (c === OFFSET_CHANNEL) x[i] = 100 + 0.01 * z[i];
      else x[i] = 0.25 * (c % 7) - 0.5 + (1 + (c % 5)) * z[i];
    }
  }
  const [ot, oc, ov] = OUTLIER;
  if (ot < tokens && oc < channels) x[ot * channels + oc] = ov;
  return x;
}

/** Splits row-major [sum(sizes), channels] data into batches of `sizes` tokens. */
export function split(x: Float32Array, sizes: number[], channels: number): Float32Array[] {
  const out: Float32Array[] = [];
  let t = 0;
  for (const n of sizes) {
    out.push(x.slice(t * channels, (t + n) * channels));
    t += n;
  }
  return out;
}
