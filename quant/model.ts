/**
 * `quantizeModel(model, config)`: the one driver, in the spirit of torchao's
 * `quantize_(model, config)`. The config is plain JSON-able data; the method
 * is a record `{ name, needs, solve }` in the registry
 * (`quant/methods/registry.ts`). The driver owns what methods share:
 *
 * - choosing each layer's quantizer (one, or a per-layer rule) and skips;
 * - calibration data (text or token sequences, count, length, seed);
 * - layer-by-layer capture: for `needs: ["hessian"]` it runs the calibration
 *   windows through layer i (its inputs are the outputs of the already
 *   quantized layers 0…i−1), accumulates H = 2/n·ΣXᵀX once per shared input
 *   (the model's topology: q/k/v share one, gate/up another), calls `solve`
 *   for each of layer i's linears, and recomputes layer i's outputs; for
 *   `"absmean"` it collects mean |x| per input channel on the float model;
 * - progress, one report ({@link QuantReport}), and rollback: if anything
 *   throws, the model is left exactly as it was.
 *
 * A method needing the whole model (scale folding into norms: AWQ, AQAS,
 * DFQ, …) declares `needs: ["model"]` and gets the model itself.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../mod.ts";
 * import { quantizeModel } from "./model.ts";
 * await initGPU();
 * using model = await loadModel();
 * const r = await quantizeModel(model, { method: "rtn", quantizer: int(4, { group: 32 }) });
 * console.log(r.method, r.layers.length, r.bitsPerWeight); // rtn 28 4.5
 * ```
 *
 * A new method is one file (its record) and one registry line; a toy method,
 * RTN with the range clipped at the 99th percentile of each group:
 * ```ts
 * import { initGPU, int, loadModel } from "../mod.ts";
 * import { quantizeLinear } from "./linear.ts";
 * import { withSettings } from "./quantizer.ts";
 * import { type LayerMethod, quantizeModel, registerMethod } from "./model.ts";
 * await initGPU();
 * const rtnP99: LayerMethod = {
 *   name: "rtn_p99",
 *   needs: [],
 *   solve: async (t) => ({
 *     linear: await quantizeLinear(
 *       t.layer,
 *       withSettings(t.quantizer, { range: { kind: "percentile", p: 99 } }),
 *       { act: t.act },
 *     ),
 *   }),
 * };
 * registerMethod(rtnP99); // in quant/methods/registry.ts: one line in the list
 * using model = await loadModel();
 * const r = await quantizeModel(model, { method: "rtn_p99", quantizer: int(4, { group: 32 }) });
 * console.log(r.layers.length); // 28
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import type { LlamaModel } from "../model/llama.ts";
import { sharedInput } from "../model/llama.ts";
import { calibrationSequences, captureLayerInputs } from "../model/capture.ts";
import { HessianObserver } from "./calib/hessian.ts";
import { MomentsObserver } from "./calib/observers.ts";
import { quantError } from "./metrics.ts";
import type { Quantizer } from "./quantizer.ts";
import type { InputQuantizer } from "./activation.ts";
import type { QuantLinear, WeightedLinear } from "./linear.ts";
import { type LayerRow, meanBitsPerWeight, type QuantReport } from "./report.ts";
import { methodRegistry } from "./methods/registry.ts";

/** A per-layer quantizer rule: the first matching entry wins, else `default`. */
export interface LayerRule {
  /** Quantizer of layers no entry matches (null: leave them in float). */
  default?: Quantizer | null;
  /** `match`: a substring of the layer name, or `/regex/`. */
  layers: { match: string; quantizer: Quantizer | null }[];
}

/** Calibration data: token windows, or text to draw them from. */
export interface CalibrationConfig {
  /** Equal-length token windows (used as given). */
  sequences?: readonly ArrayLike<number>[];
  /** Text to draw `n` windows of `seqLen` bytes from (seeded). */
  text?: string;
  /** Windows to draw from `text`. Default 8. */
  n?: number;
  /** Tokens per window. Default 128. */
  seqLen?: number;
  /** Seed of the draw. Default 0. */
  seed?: number;
}

/** What to do: plain data (a function rule is accepted too, for scripts). */
export interface QuantizeConfig {
  /** The method's registry name ("rtn", "gptq", "awq", "quip", "lqer", …). */
  method: string;
  /** The weight quantizer, a per-layer rule, or a function (null: skip the layer). */
  quantizer?: Quantizer | LayerRule | ((name: string) => Quantizer | null);
  /** Input (activation) quantizer of the quantized layers (a Quantizer: per token). */
  act?: Quantizer | InputQuantizer;
  /** Calibration data, for methods that need it. */
  calibration?: CalibrationConfig;
  /** The method's own options (e.g. GPTQ's `blockSize`, LQER's `rank`). */
  options?: Record<string, unknown>;
  /** Layers to leave in float. */
  skip?: string[];
  /** Also quantize `lm_head` (layer methods without calibration only). Default false. */
  includeHead?: boolean;
  /** Show a progress bar (true, or a label). Default false. */
  progress?: boolean | string;
}

/** What a layer method's `solve` gets. */
export interface LayerTask {
  /** The layer's name. */
  name: string;
  /** The float layer (not to be modified). */
  layer: WeightedLinear;
  /** Its quantizer. */
  quantizer: Quantizer;
  /** The input quantizer to give the result, if any. */
  act?: Quantizer | InputQuantizer;
  /** H `[in, in]` of the layer's input (`needs: ["hessian"]`), owned by the driver. */
  hessian?: Tensor;
  /** mean |x| per input channel (`needs: ["absmean"]`, with calibration). */
  absmean?: Float32Array;
  /** The method's options. */
  options: Record<string, unknown>;
  /** How many layers were solved before this one. */
  index: number;
}

/** What a layer method returns: the new layer, and what it measured. */
export interface LayerResult {
  /** The quantized layer (owned by the model from now on). */
  linear: QuantLinear;
  /** The weight SQNR (dB) the method measured itself; else the driver measures it. */
  sqnrDb?: number;
  /**
   * The method's own facts about this layer, by list: each key `k` appends
   * `{ name, ...facts[k] }` to the report's `details[k]` (e.g. QuIP's
   * `{ incoherence: { before, after } }`).
   */
  facts?: Record<string, object>;
}

/** What a whole-model method's `solve` gets. */
export interface ModelTask {
  /** The model, to quantize in place. */
  model: LlamaModel;
  /** The weight quantizer (a single one: whole-model methods take no per-layer rule). */
  quantizer?: Quantizer;
  /** The input quantizer, if any. */
  act?: Quantizer | InputQuantizer;
  /** The calibration windows, when the config gave calibration. */
  sequences?: readonly ArrayLike<number>[];
  /** The method's options. */
  options: Record<string, unknown>;
  /** Progress setting. */
  progress: boolean | string;
  /** Layers to skip. */
  skip?: string[];
}

/** What a layer method needs from the driver ("absmean?": only when calibration is given). */
export type LayerNeed = "hessian" | "absmean" | "absmean?";

/** A method quantizing one layer at a time. */
export interface LayerMethod {
  /** Registry name. */
  readonly name: string;
  /** Statistics the driver collects for `solve`. */
  readonly needs: readonly LayerNeed[];
  /** Quantizes one layer. */
  solve(task: LayerTask): Promise<LayerResult>;
}

/** A method that works on the whole model (it folds scales into norms, …). */
export interface ModelMethod {
  /** Registry name. */
  readonly name: string;
  /** Always `["model"]`. */
  readonly needs: readonly ["model"];
  /** Quantizes the model in place and reports. */
  solve(task: ModelTask): Promise<QuantReport>;
}

/** A quantization method: a record in the registry. */
export type QuantMethod = LayerMethod | ModelMethod;

/** The calibration windows of a whole-model task, or an error naming the method. */
export function taskSequences(t: ModelTask, method: string): readonly ArrayLike<number>[] {
  if (!t.sequences) throw new TypeError(`quantizeModel ${method}: needs calibration data`);
  return t.sequences;
}

/** The weight quantizer of a whole-model task, or an error naming the method. */
export function taskQuantizer(t: ModelTask, method: string): Quantizer {
  if (!t.quantizer) throw new TypeError(`quantizeModel ${method}: config.quantizer is required`);
  return t.quantizer;
}

/** The per-token activation quantizer of a task (whole-model methods take a Quantizer). */
export function taskPerTokenAct(t: ModelTask, method: string): Quantizer | undefined {
  const a = t.act;
  if (!a) return undefined;
  if ("granularity" in a) return a;
  if (a.kind === "token") return a.quantizer;
  throw new TypeError(`quantizeModel ${method}: takes a per-token activation quantizer`);
}

/**
 * Adds (or replaces) a method in the registry.
 *
 * @example
 * ```ts
 * import { registerMethod } from "./model.ts";
 * registerMethod({ name: "noop", needs: ["model"], solve: () => Promise.resolve({ layers: [], bitsPerWeight: 0 }) });
 * ```
 */
export function registerMethod(m: QuantMethod): void {
  methodRegistry().set(m.name, m);
}

/** The names of the registered methods. */
export function methodNames(): string[] {
  return [...methodRegistry().keys()];
}

function ruleOf(config: QuantizeConfig): (name: string) => Quantizer | null {
  const q = config.quantizer;
  if (!q) throw new TypeError(`quantizeModel ${config.method}: config.quantizer is required`);
  if (typeof q === "function") return q;
  if (!("layers" in q) || !Array.isArray(q.layers)) return () => q as Quantizer;
  const rule = q as LayerRule;
  const tests = rule.layers.map((e) => {
    const re = /^\/(.*)\/$/.exec(e.match);
    const rx = re ? new RegExp(re[1]) : undefined;
    return (name: string) => (rx ? rx.test(name) : name.includes(e.match));
  });
  return (name) => {
    const i = tests.findIndex((t) => t(name));
    return i >= 0 ? rule.layers[i].quantizer : rule.default ?? null;
  };
}

function sequencesOf(config: QuantizeConfig): readonly ArrayLike<number>[] | undefined {
  const c = config.calibration;
  if (!c) return undefined;
  if (c.sequences) {
    if (!c.sequences.length || c.sequences.some((s) => s.length < 1)) {
      throw new RangeError(
        `quantizeModel ${config.method}: calibration.sequences must hold at least one ` +
          `non-empty window (got ${c.sequences.length} windows)`,
      );
    }
    return c.sequences;
  }
  if (c.text !== undefined) {
    return calibrationSequences(c.text, { n: c.n ?? 8, seqLen: c.seqLen ?? 128, seed: c.seed });
  }
  throw new TypeError(
    `quantizeModel ${config.method}: calibration needs "sequences" or "text"`,
  );
}

/**
 * Quantizes `model` in place with `config.method` and returns the report.
 * If the method throws, the model is restored exactly as it was and the
 * error is rethrown with the method's name.
 */
export async function quantizeModel(
  model: LlamaModel,
  config: QuantizeConfig,
): Promise<QuantReport> {
  const method = methodRegistry().get(config.method);
  if (!method) {
    throw new RangeError(
      `quantizeModel: unknown method ${JSON.stringify(config.method)}; registered: ` +
        `${methodNames().join(", ")} (add one with registerMethod)`,
    );
  }
  const start = performance.now();
  const edit = model.beginEdit();
  try {
    const report = isModelMethod(method)
      ? await runModelMethod(model, method, config)
      : await runLayerMethod(model, method, config);
    edit.commit();
    report.method = method.name;
    report.seconds = (performance.now() - start) / 1000;
    return report;
  } catch (e) {
    edit.rollback();
    throw e;
  }
}

function isModelMethod(m: QuantMethod): m is ModelMethod {
  return (m.needs as readonly string[]).includes("model");
}

async function runModelMethod(
  model: LlamaModel,
  method: ModelMethod,
  config: QuantizeConfig,
): Promise<QuantReport> {
  const q = config.quantizer;
  if (q && (typeof q === "function" || "layers" in q)) {
    throw new TypeError(`quantizeModel ${method.name}: needs one quantizer (no per-layer rule)`);
  }
  return await method.solve({
    model,
    quantizer: q as Quantizer | undefined,
    act: config.act,
    sequences: sequencesOf(config),
    options: config.options ?? {},
    progress: config.progress ?? false,
    skip: config.skip,
  });
}

async function runLayerMethod(
  model: LlamaModel,
  method: LayerMethod,
  config: QuantizeConfig,
): Promise<QuantReport> {
  const choose = ruleOf(config);
  const wanted = (name: string) => !config.skip?.includes(name) && choose(name) !== null;
  const layers: LayerRow[] = [];
  const details: Record<string, object[]> = {};
  const options = config.options ?? {};
  const seqs = sequencesOf(config);
  let index = 0;
  const solveOne = async (
    name: string,
    lin: unknown,
    stats: { hessian?: Tensor; absmean?: Float32Array },
  ) => {
    const layer = lin as WeightedLinear;
    if (!layer.weight) {
      throw new TypeError(`${method.name}: layer ${name} has no float weight (already quantized?)`);
    }
    const r = await method.solve({
      name,
      layer,
      quantizer: choose(name)!,
      act: config.act,
      ...stats,
      options,
      index: index++,
    });
    const ql = r.linear;
    let sqnrDb = r.sqnrDb;
    if (sqnrDb === undefined) {
      using eff = await ql.effectiveWeight();
      sqnrDb = (await quantError(layer.weight, eff)).sqnr;
    }
    layers.push({
      name,
      out: ql.outFeatures,
      in: ql.inFeatures,
      bitsPerWeight: ql.bitsPerWeight,
      sqnrDb,
    });
    for (const [k, f] of Object.entries(r.facts ?? {})) (details[k] ??= []).push({ name, ...f });
    model.setLinear(name, ql);
  };

  const needs = method.needs;
  if (needs.includes("hessian")) {
    if (!seqs) throw new TypeError(`quantizeModel ${method.name}: needs calibration data`);
    await hessianPass(model, seqs, config, wanted, solveOne);
  } else {
    let absmean: Map<string, Float32Array> | undefined;
    if (needs.includes("absmean") || (needs.includes("absmean?") && seqs)) {
      if (!seqs) throw new TypeError(`quantizeModel ${method.name}: needs calibration data`);
      absmean = await absmeanPass(model, seqs, config.progress ?? false);
    }
    for (const [name, lin] of model.linears({ includeHead: config.includeHead })) {
      if (!wanted(name)) continue;
      await solveOne(name, lin, { absmean: absmean?.get(name) });
    }
  }
  const report: QuantReport = { layers, bitsPerWeight: meanBitsPerWeight(layers) };
  if (Object.keys(details).length) report.details = details;
  return report;
}

/** mean |x| per input channel of every linear, on the float model. */
async function absmeanPass(
  model: LlamaModel,
  seqs: readonly ArrayLike<number>[],
  progress: boolean | string,
): Promise<Map<string, Float32Array>> {
  const res = await captureLayerInputs(model, seqs, {
    observers: (name) => new MomentsObserver(name, { kurtosis: false }),
    progress,
  });
  const out = new Map<string, Float32Array>();
  for (const [name, obs] of res.observers) {
    out.set(name, Float32Array.from((await (obs as MomentsObserver).finish()).absmean));
  }
  return out;
}

/** Layer by layer: H per shared input, solve each linear, recompute the layer's outputs. */
async function hessianPass(
  model: LlamaModel,
  seqs: readonly ArrayLike<number>[],
  config: QuantizeConfig,
  wanted: (name: string) => boolean,
  solveOne: (name: string, lin: unknown, stats: { hessian?: Tensor }) => Promise<void>,
): Promise<void> {
  const observers = new Map<string, HessianObserver>();
  const needed = new Set([...model.linears().keys()].filter(wanted).map(sharedInput));
  const maxLayers = config.options?.layers as number | undefined;
  try {
    await captureLayerInputs(model, seqs, {
      progress: config.progress ?? false,
      layers: maxLayers,
      onLinearInput: (name, x) => {
        if (sharedInput(name) !== name || !needed.has(name)) return; // one H per shared input
        let o = observers.get(name);
        if (!o) observers.set(name, o = new HessianObserver(name));
        o.observe(x);
      },
      afterLayer: async (i, m) => {
        const hessians = new Map<string, Tensor>();
        try {
          for (const [name, lin] of m.linears({ layer: i })) {
            if (!wanted(name)) continue;
            const key = sharedInput(name);
            let h = hessians.get(key);
            if (!h) {
              const o = observers.get(key);
              if (!o) throw new Error(`no inputs were captured for ${key}`);
              h = await o.finish();
              observers.delete(key);
              hessians.set(key, h);
            }
            await solveOne(name, lin, { hessian: h });
          }
        } finally {
          for (const h of hessians.values()) h.dispose();
        }
      },
    });
  } finally {
    observers.clear();
  }
}
