/**
 * The loss curve of a training run: one row per optimizer step (step, learning
 * rate, training loss, evaluation loss where one was run, tokens seen,
 * seconds elapsed), kept in memory and handed out as an Arrow table, which
 * pandas, polars and DuckDB read, and which `viz`'s `lossCurveFigure` draws.
 *
 * @example
 * ```ts
 * import { LossCurve } from "./curve.ts";
 * const curve = new LossCurve();
 * curve.push({ step: 1, lr: 0.1, trainLoss: 2.5, tokens: 64, seconds: 0.2 });
 * curve.push({ step: 2, lr: 0.1, trainLoss: 2.1, evalLoss: 2.3, tokens: 128, seconds: 0.4 });
 * const t = curve.toTable();
 * console.log(t.numRows, t.getChild("eval_loss")!.toArray()); // 2 Float64Array [NaN, 2.3]
 * ```
 * @module
 */
import { type Table, tableFromArrays } from "apache-arrow";

/** One row of a {@link LossCurve}. */
export interface CurveRow {
  /** Optimizer steps done (1 after the first). */
  step: number;
  /** Learning rate of that step. */
  lr: number;
  /** Training loss of that step (mean over its micro-batches). */
  trainLoss: number;
  /** Evaluation loss after that step; absent (NaN in the table) when none was run. */
  evalLoss?: number;
  /** Tokens trained on so far. */
  tokens: number;
  /** Seconds of training so far (excluding evaluation). */
  seconds: number;
}

/** The rows of a run, in step order; a resumed run continues the same curve. */
export class LossCurve {
  /** The rows pushed so far, in step order. */
  readonly rows: CurveRow[] = [];

  /** A curve holding `rows` (e.g. from a checkpoint's JSON). */
  constructor(rows: readonly CurveRow[] = []) {
    for (const r of rows) this.push(r);
  }

  /** Appends a row; steps must increase. */
  push(row: CurveRow): void {
    const last = this.rows.at(-1);
    if (last && !(row.step > last.step)) {
      throw new RangeError(
        `LossCurve: step ${row.step} after step ${last.step}; steps must increase`,
      );
    }
    this.rows.push({ ...row });
  }

  /**
   * Columns `step`, `lr`, `train_loss`, `eval_loss` (NaN where none), `tokens`,
   * `seconds`, all Float64.
   */
  toTable(): Table {
    const col = (f: (r: CurveRow) => number | undefined) =>
      Float64Array.from(this.rows, (r) => f(r) ?? NaN);
    return tableFromArrays({
      step: col((r) => r.step),
      lr: col((r) => r.lr),
      train_loss: col((r) => r.trainLoss),
      eval_loss: col((r) => r.evalLoss),
      tokens: col((r) => r.tokens),
      seconds: col((r) => r.seconds),
    });
  }

  /** Plain rows for JSON (NaN-free: a missing evaluation is left out). */
  toJSON(): CurveRow[] {
    return this.rows.map((r) => ({ ...r }));
  }
}
