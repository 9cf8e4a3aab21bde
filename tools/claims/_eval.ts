/**
 * The evaluation every claim sweep shares: perplexity of a model on a text
 * cut into slices of `checkChars` (each evaluated in windows of `seqLen`),
 * combined by the token-weighted mean NLL, plus the perplexity of the first
 * slice alone — the cheap *check value* a notebook recomputes live.
 * @module
 */
import * as lb from "../../mod.ts";

/** Slice and window lengths of {@linkcode evaluateSlices}. */
export interface SliceOptions {
  /** Characters per slice (the first slice's perplexity is the check value). */
  checkChars: number;
  /** Window length in tokens. */
  seqLen: number;
}

/** Perplexity of `model` on `text` (slices of `checkChars`) and on its first slice. */
export async function evaluateSlices(
  model: lb.LlamaModel,
  text: string,
  options: SliceOptions,
): Promise<{ perplexity: number; check: number; tokens: number }> {
  const { checkChars, seqLen } = options;
  let nll = 0, tokens = 0, check = NaN;
  for (let at = 0; at < text.length; at += checkChars) {
    const r = await lb.perplexity(model, text.slice(at, at + checkChars), { seqLen });
    if (at === 0) check = r.perplexity;
    nll += r.meanNll * r.tokens;
    tokens += r.tokens;
  }
  return { perplexity: Math.exp(nll / tokens), check, tokens };
}
