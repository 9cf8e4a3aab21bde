/**
 * The typed wrappers and registry records that methods share: a wrapper is
 * `quantizeModel` under the method's name (so the wrapper and the registry
 * give the same report, with rollback on failure), typed with the method's
 * options `O` and its report's details `D`.
 *
 * @example
 * ```ts
 * import { initGPU, int } from "../../mod.ts";
 * import { randomLlama } from "../../model/random_llama.ts";
 * import { wrapMethod } from "./_wrap.ts";
 * await initGPU();
 * using model = randomLlama();
 * const rtn = wrapMethod<{ skip?: string[] }, object>("rtn");
 * const r = await rtn(model, int(4), { skip: ["layers.0.mlp.down_proj"] });
 * console.log(r.method, r.layers.length); // rtn 6
 * ```
 * @module
 */
import type { LlamaModel } from "../../model/llama.ts";
import {
  type ModelMethod,
  quantizeModel,
  taskPerTokenAct,
  taskQuantizer,
  taskSequences,
} from "../model.ts";
import type { Quantizer } from "../quantizer.ts";
import type { QuantReport } from "../report.ts";

/** What a {@link wrapMethod} wrapper takes besides the method's own options. */
export interface WrapperOptions {
  /** Calibration windows (equal length), for methods that use them. */
  sequences?: readonly ArrayLike<number>[];
  /** Per-token activation quantizer of the resulting layers. */
  act?: Quantizer;
  /** Layers to leave in float. */
  skip?: string[];
  /** Show a progress bar. Default false. */
  progress?: boolean;
}

/** A method's typed wrapper `(model, q, options)`: quantizes `model` in place with `q`. */
export type MethodWrapper<O, D extends object, Q = Quantizer> = (
  model: LlamaModel,
  q: Q,
  options: O,
) => Promise<QuantReport<D>>;

/**
 * The wrapper `(model, q, options)` of the registered method `method`:
 * `options.sequences` become the calibration, `act`, `skip` and `progress`
 * (default false) go to the driver, every other key is the method's option.
 */
export function wrapMethod<O extends WrapperOptions, D extends object, Q = Quantizer>(
  method: string,
): MethodWrapper<O, D, Q> {
  return async (model, q, options) => {
    const { sequences, act, skip, progress, ...rest } = options;
    return await quantizeModel(model, {
      method,
      quantizer: q as Quantizer,
      act,
      skip,
      calibration: sequences ? { sequences } : undefined,
      options: rest,
      progress: progress ?? false,
    }) as QuantReport<D>;
  };
}

/** What a {@link wrapCalibrated} wrapper takes besides the method's own options. */
export interface CalibratedOptions {
  /** The weight quantizer, for methods that take one. */
  weight?: Quantizer;
  /** Per-token activation quantizer, for methods that take one. */
  act?: Quantizer;
  /** Show a progress bar. Default false. */
  progress?: boolean;
}

/** A calibrated whole-model method's typed wrapper `(model, sequences, options)`. */
export type CalibratedWrapper<O, D extends object> = (
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: O,
) => Promise<QuantReport<D>>;

/**
 * The wrapper `(model, sequences, options)` of the registered whole-model
 * method `method` (`aqas`, `normTweaking`, `llmFp4`): `options.weight` is the
 * quantizer, `act` and `progress` (default false) go to the driver, every
 * other key is the method's option.
 */
export function wrapCalibrated<O extends CalibratedOptions, D extends object>(
  method: string,
): CalibratedWrapper<O, D> {
  return async (model, sequences, options) => {
    const { weight, act, progress, ...rest } = options;
    return await quantizeModel(model, {
      method,
      quantizer: weight,
      act,
      calibration: { sequences },
      options: rest,
      progress: progress ?? false,
    }) as QuantReport<D>;
  };
}

/**
 * The registry record of a calibrated whole-model method whose work is
 * `run(model, sequences, options)`: `options` are the task's options with
 * `progress`, the task's quantizer as `weight` (when `uses.weight`), and its
 * per-token input quantizer as `act` (when `uses.act`; "required" refuses a
 * task without one).
 */
export function calibratedRecord<O>(
  name: string,
  run: (
    model: LlamaModel,
    sequences: readonly ArrayLike<number>[],
    options: O,
  ) => Promise<QuantReport<object>>,
  uses: { weight?: boolean; act?: "optional" | "required" } = {},
): ModelMethod {
  return {
    name,
    needs: ["model"],
    solve: (t) => {
      const o: Record<string, unknown> = { ...t.options, progress: !!t.progress };
      if (uses.act) {
        o.act = taskPerTokenAct(t, name);
        if (!o.act && uses.act === "required") {
          throw new TypeError(`quantizeModel ${name}: needs an activation quantizer (act)`);
        }
      }
      if (uses.weight) o.weight = taskQuantizer(t, name);
      return run(t.model, taskSequences(t, name), o as O);
    },
  };
}
