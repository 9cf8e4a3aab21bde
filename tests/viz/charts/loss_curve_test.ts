import { assertEquals, assertThrows } from "@std/assert";
import { tableFromArrays } from "apache-arrow";
import { column, lossCurveFigure, PLOTLY_MIME } from "../../../viz/plot.ts";
import { bundleOf } from "../../../viz/display.ts";

Deno.test("lossCurveFigure: one line per curve, NaN points left out, Arrow columns accepted", () => {
  const t = tableFromArrays({
    step: new Float64Array([1, 2, 3, 4]),
    train_loss: new Float64Array([5.5, 4.1, 3.6, 3.2]),
    eval_loss: new Float64Array([NaN, 4.4, NaN, 3.5]),
  });
  const fig = lossCurveFigure([
    { name: "train", steps: column(t, "step"), loss: column(t, "train_loss") },
    { name: "eval", steps: column(t, "step"), loss: column(t, "eval_loss"), dashed: true },
  ], { title: "run" });
  const j = fig.toJSON();
  assertEquals(j.data.length, 2);
  assertEquals([j.data[0].x, j.data[0].y], [[1, 2, 3, 4], [5.5, 4.1, 3.6, 3.2]]);
  assertEquals([j.data[1].x, j.data[1].y], [[2, 4], [4.4, 3.5]]);
  assertEquals((j.data[1].line as { dash: string }).dash, "dash");
  assertEquals((j.layout.xaxis as { title: { text: string } }).title.text, "step");
  assertEquals(j.layout.yaxis2, undefined);
});

Deno.test("lossCurveFigure: the reference panel is |Δ|/ref in percent at the shared steps", async () => {
  const torch = { name: "PyTorch", steps: [1, 2, 3, 4, 5], loss: [5.5, 4, 3.5, 3, 2.5] };
  // lowbit logged steps 1, 3, 5 and 6 (6 has no reference: left out of the panel).
  const ours = { name: "lowbit", steps: [1, 3, 5, 6], loss: [5.5, 3.57, 2.45, 2.4] };
  const fig = lossCurveFigure([torch, ours], { reference: "PyTorch", tolerance: 0.03 });
  const j = fig.toJSON();
  assertEquals(j.data.length, 3);
  const d = j.data[2] as { x: number[]; y: number[]; yaxis: string; name: string };
  assertEquals(d.yaxis, "y2");
  assertEquals(d.name, "lowbit vs PyTorch (%)");
  assertEquals(d.x, [1, 3, 5]);
  // f64 reference: 100·|a − b|/|b|
  const want = [[5.5, 5.5], [3.57, 3.5], [2.45, 2.5]].map(([a, b]) => 100 * Math.abs(a - b) / b);
  d.y.forEach((v, i) => {
    if (Math.abs(v - want[i]) > 1e-12) throw new Error(`point ${i}: ${v} vs ${want[i]}`);
  });
  const shape = (j.layout.shapes as { y0: number; yref: string }[])[0];
  assertEquals([shape.y0, shape.yref], [3, "y2"]);
  const b = await bundleOf(fig);
  assertEquals((b[PLOTLY_MIME] as { data: unknown[] }).data.length, 3);
});

Deno.test("lossCurveFigure: compare picks the curves of the comparison panel", () => {
  const c = (name: string, loss: number[]) => ({ name, steps: [1, 2], loss });
  const curves = [c("ref", [2, 1]), c("a", [2.2, 1]), c("ref eval", [3, 2])];
  const all = lossCurveFigure(curves, { reference: "ref" }).toJSON();
  assertEquals(all.data.slice(3).map((t) => t.name), ["a vs ref (%)", "ref eval vs ref (%)"]);
  const one = lossCurveFigure(curves, { reference: "ref", compare: ["a"] }).toJSON();
  assertEquals(one.data.slice(3).map((t) => [t.name, t.y]), [["a vs ref (%)", [
    10.000000000000009,
    0,
  ]]]);
  assertThrows(
    () => lossCurveFigure(curves, { reference: "ref", compare: ["b"] }),
    RangeError,
    'compare names "b"',
  );
});

Deno.test("lossCurveFigure: NaN everywhere gives an empty line, not an error", () => {
  const fig = lossCurveFigure([{ name: "none", steps: [1, 2], loss: [NaN, NaN] }]);
  assertEquals(fig.toJSON().data[0].x, []);
});

Deno.test("lossCurveFigure: bad input names the curve and the fix", () => {
  assertThrows(() => lossCurveFigure([]), RangeError, "at least one");
  assertThrows(
    () => lossCurveFigure([{ name: "a", steps: [1, 2], loss: [1] }]),
    RangeError,
    "length mismatch",
  );
  assertThrows(
    () => lossCurveFigure([{ name: "a", steps: [2, 1], loss: [1, 1] }]),
    RangeError,
    '"a" has step 1 after step 2',
  );
  const a = { name: "a", steps: [1], loss: [1] };
  assertThrows(() => lossCurveFigure([a, a]), RangeError, 'two curves are named "a"');
  assertThrows(() => lossCurveFigure([a], { reference: "b" }), RangeError, "curves: a");
  assertThrows(() => lossCurveFigure([a], { tolerance: 0.03 }), RangeError, "needs a reference");
  assertThrows(
    () => lossCurveFigure([a], { reference: "a", tolerance: -1 }),
    RangeError,
    "must be > 0",
  );
});
