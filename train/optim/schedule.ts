/**
 * Learning-rate schedules as pure functions of the step (counted from 0, the
 * step about to be taken): constant; linear warm-up then cosine decay to
 * `minRatio·lr` (the schedule of `tools/train_tiny.py`, reproduced operation
 * for operation); and one-cycle (`torch.optim.lr_scheduler.OneCycleLR` with its
 * cosine default).
 *
 * @example
 * ```ts
 * import { warmupCosine } from "./schedule.ts";
 * const lr = warmupCosine({ lr: 1e-3, warmup: 10, total: 100, minRatio: 0.1 });
 * console.log(lr(0), lr(9), lr(100)); // 0.0001 0.001 0.0001
 * ```
 * @module
 */

/** The learning rate at a step (0 for the first step). */
export type Schedule = (step: number) => number;

function checkStep(op: string, step: number, total = Infinity): void {
  if (!Number.isInteger(step) || step < 0 || step > total) {
    throw new RangeError(
      `${op}: step ${step} must be an integer in [0, ${total}] (steps count from 0)`,
    );
  }
}

function checkPositive(op: string, what: string, v: number, allowZero = false): void {
  if (!(Number.isFinite(v) && (v > 0 || (allowZero && v === 0)))) {
    throw new RangeError(`${op}: ${what} is ${v}; it must be a finite number > 0`);
  }
}

/**
 * The same learning rate at every step.
 *
 * @example
 * ```ts
 * import { constantLr } from "./schedule.ts";
 * console.log(constantLr(0.01)(1234)); // 0.01
 * ```
 */
export function constantLr(lr: number): Schedule {
  checkPositive("constantLr", "lr", lr, true);
  return (step) => {
    checkStep("constantLr", step);
    return lr;
  };
}

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** Peak learning rate. */
  lr: number;
  /** Steps of linear warm-up (0 for none). */
  warmup: number;
  /** Total steps; the cosine reaches its floor here and stays there. */
  total: number;
  /** Floor as a fraction of `lr`. Default 0. */
  minRatio?: number;
}

/**
 * Linear warm-up, then cosine to `minRatio·lr`, exactly as `tools/train_tiny.py`:
 *
 *   step < warmup:  lr·(step + 1) / warmup
 *   otherwise:      p = min(1, (step − warmup) / max(1, total − warmup)),
 *                   lo = lr·minRatio,  lo + 0.5·(lr − lo)·(1 + cos(π·p))
 *
 * @example
 * ```ts
 * import { warmupCosine } from "./schedule.ts";
 * const lr = warmupCosine({ lr: 1, warmup: 2, total: 6 });
 * console.log([0, 1, 2, 4, 6, 9].map(lr)); // [0.5, 1, 1, 0.5, 0, 0]
 * ```
 */
export function warmupCosine({ lr, warmup, total, minRatio = 0 }: WarmupCosineOptions): Schedule {
  const op = "warmupCosine";
  checkPositive(op, "lr", lr, true);
  if (!Number.isInteger(warmup) || warmup < 0 || !Number.isInteger(total) || total < 0) {
    throw new RangeError(`${op}: warmup ${warmup} and total ${total} must be integers ≥ 0`);
  }
  if (!(minRatio >= 0 && minRatio <= 1)) {
    throw new RangeError(`${op}: minRatio ${minRatio} must be in [0, 1]`);
  }
  return (step) => {
    checkStep(op, step);
    if (step < warmup) return lr * (step + 1) / warmup;
    const p = Math.min(1, (step - warmup) / Math.max(1, total - warmup));
    const lo = lr * minRatio;
    return lo + 0.5 * (lr - lo) * (1 + Math.cos(Math.PI * p));
  };
}

/** Options of {@link oneCycle} (PyTorch's names and defaults). */
export interface OneCycleOptions {
  /** Peak learning rate. */
  maxLr: number;
  /** Total steps; steps 0 … total are valid (torch raises beyond). */
  total: number;
  /** Fraction of the steps spent rising. Default 0.3. */
  pctStart?: number;
  /** Initial lr = maxLr / divFactor. Default 25. */
  divFactor?: number;
  /** Final lr = initial lr / finalDivFactor. Default 1e4. */
  finalDivFactor?: number;
  /** Three phases (rise, fall back to the initial lr, anneal to the final). Default false. */
  threePhase?: boolean;
}

/**
 * One-cycle learning rate, as `torch.optim.lr_scheduler.OneCycleLR` with
 * `anneal_strategy="cos"` at `last_epoch = step`: phases end at steps
 * `pctStart·total − 1` (rise from maxLr/divFactor to maxLr) and `total − 1`
 * (fall to the final lr); with `threePhase`, the fall back to the initial lr
 * ends at `2·pctStart·total − 2` and the last phase anneals to the final lr.
 * Within a phase from step s to e, with x = (step − s)/(e − s):
 * `end + (start − end)/2·(cos(π·x) + 1)`. The momentum cycling of OneCycleLR is
 * not implemented here (the optimizers take fixed betas).
 *
 * @example
 * ```ts
 * import { oneCycle } from "./schedule.ts";
 * const lr = oneCycle({ maxLr: 1, total: 10 });
 * console.log(lr(0), lr(2), lr(9)); // 0.040000000000000036 1 0.000004
 * ```
 */
export function oneCycle(
  {
    maxLr,
    total,
    pctStart = 0.3,
    divFactor = 25,
    finalDivFactor = 1e4,
    threePhase = false,
  }: OneCycleOptions,
): Schedule {
  const op = "oneCycle";
  checkPositive(op, "maxLr", maxLr, true);
  checkPositive(op, "divFactor", divFactor);
  checkPositive(op, "finalDivFactor", finalDivFactor);
  if (!Number.isInteger(total) || total < 1) {
    throw new RangeError(`${op}: total ${total} must be an integer ≥ 1`);
  }
  if (!(pctStart >= 0 && pctStart <= 1)) {
    throw new RangeError(`${op}: pctStart ${pctStart} must be in [0, 1]`);
  }
  const initial = maxLr / divFactor;
  const min = initial / finalDivFactor;
  const phases = threePhase
    ? [
      { end: pctStart * total - 1, from: initial, to: maxLr },
      { end: 2 * pctStart * total - 2, from: maxLr, to: initial },
      { end: total - 1, from: initial, to: min },
    ]
    : [
      { end: pctStart * total - 1, from: initial, to: maxLr },
      { end: total - 1, from: maxLr, to: min },
    ];
  return (step) => {
    checkStep(op, step, total);
    let start = 0;
    for (let i = 0; i < phases.length; i++) {
      const ph = phases[i];
      if (step <= ph.end || i === phases.length - 1) {
        const x = (step - start) / (ph.end - start);
        return ph.to + (ph.from - ph.to) / 2 * (Math.cos(Math.PI * x) + 1);
      }
      start = ph.end;
    }
    throw new Error("unreachable");
  };
}
