import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  binValues,
  channelChart,
  errorVsBits,
  Figure,
  heatmap,
  histogram,
  nondominated,
  outlierChannels,
  paretoFront,
  PLOTLY_MIME,
  scatter,
} from "../../viz/plot.ts";
import { bundleOf } from "../../viz/display.ts";
import { tableFromArrays } from "apache-arrow";
import { column } from "../../viz/data.ts";

Deno.test("binValues counts every finite value once and skips NaN/Inf", () => {
  const v = new Float64Array(1000).map((_, i) => Math.sin(i) * 3);
  v[10] = NaN;
  v[20] = Infinity;
  const b = binValues(v, 37);
  assertEquals(b.counts.reduce((a, c) => a + c, 0), 998);
  assertEquals(b.nonFinite, 2);
  // every value lies in its bin
  const lo = b.start, w = b.width;
  for (const x of v) {
    if (!Number.isFinite(x)) continue;
    const k = Math.min(36, Math.floor((x - lo) / w));
    assert(x >= lo + k * w - 1e-12 && x <= lo + (k + 1) * w + 1e-12);
  }
});

Deno.test("binValues handles constant and empty input", () => {
  assertEquals(binValues(new Float64Array([2, 2, 2]), 4).counts.reduce((a, c) => a + c), 3);
  assertEquals(binValues(new Float64Array([NaN]), 4).n, 0);
  assertThrows(() => binValues(new Float64Array(1), 0), RangeError);
});

Deno.test("histogram draws one line per grid value and honours logY", () => {
  const fig = histogram(new Float32Array([0, 0.5, 1]), { grid: [0, 0.25, 0.5], logY: true });
  assertEquals((fig.layout.shapes as unknown[]).length, 3);
  assertEquals((fig.layout.yaxis as { type: string }).type, "log");
});

Deno.test("channelChart splits outliers from the rest", () => {
  const absmax = new Float32Array(64).fill(1);
  absmax[3] = 40;
  absmax[60] = 7;
  assertEquals(outlierChannels(absmax), [3, 60]); // default 6 × median = 6
  const fig = channelChart(absmax, { threshold: 10 });
  assertEquals(fig.data[1].x, [3]);
  assertEquals((fig.data[0].x as number[]).length, 63);
});

Deno.test("nondominated matches a brute-force definition", () => {
  let s = 7;
  const rand = () => (s = (s * 48271) % 2147483647) / 2147483647;
  const pts = Array.from({ length: 60 }, (_, i) => ({
    name: `p${i}`,
    bits: Math.round(rand() * 16) / 2,
    error: Math.round(rand() * 50) / 50,
  }));
  const dominated = (p: typeof pts[0]) =>
    pts.some((q) =>
      q.bits <= p.bits && q.error <= p.error && (q.bits < p.bits || q.error < p.error)
    );
  const expected = new Set(pts.filter((p) => !dominated(p)).map((p) => `${p.bits},${p.error}`));
  const got = nondominated(pts);
  assertEquals(new Set(got.map((p) => `${p.bits},${p.error}`)), expected);
  for (let i = 1; i < got.length; i++) {
    assert(got[i].bits > got[i - 1].bits && got[i].error < got[i - 1].error);
  }
  assertEquals(paretoFront(pts).data[1].x, got.map((p) => p.bits));
});

Deno.test("heatmap checks its shape", () => {
  assertThrows(() => heatmap([1, 2, 3], ["a", "b"], ["r"]), RangeError, "expected 1 rows × 2");
  assertThrows(() => heatmap([[1, 2], [3]], ["a", "b"], ["r", "s"]), RangeError, "row 1");
  assertEquals(heatmap([[1, 2]], ["a", "b"], ["r"]).data[0].z, [[1, 2]]);
});

Deno.test("charts accept Arrow columns and check lengths", () => {
  const t = tableFromArrays({
    bits: new Float32Array([2, 3, 4]),
    mse: new Float64Array([1, .5, .2]),
  });
  const fig = scatter(column(t, "bits"), column(t, "mse"));
  assertEquals(Array.from(fig.data[0].x as Float64Array), [2, 3, 4]);
  assertThrows(() => column(t, "nope"), Error, "columns: bits, mse");
  assertThrows(() => scatter([1, 2], [1]), RangeError, "length mismatch");
  const e = errorVsBits([{ name: "RTN", bits: column(t, "bits"), error: column(t, "mse") }]);
  assertEquals(e.toJSON().data[0].y, [1, 0.5, 0.2]);
});

Deno.test("Figure bundle: plotly JSON with plain arrays, HTML fallback, plain text", async () => {
  const fig = new Figure([{ type: "bar", y: new Float32Array([0.1, 0.2]) }], { title: "t" });
  const b = await bundleOf(fig);
  const spec = b[PLOTLY_MIME] as { data: { y: number[] }[] };
  assertEquals(spec.data[0].y, [0.1, 0.2]);
  const html = String(b["text/html"]);
  assert(html.includes("Plotly.newPlot") && !html.includes("plotly.js v"), "no inlined plotly");
  assertEquals(b["text/plain"], 'Figure "t" (1 trace(s): bar)');
  // a title with markup cannot break out of the script
  const evil = new Figure([], { title: "</script><b>x</b>" }).htmlFragment();
  assertEquals(evil.match(/<\/script>/g)?.length, 1);
});

Deno.test("writeHTML writes a page with plotly.js inlined once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/fig.html`;
    await histogram([1, 2, 3]).writeHTML(path);
    const page = await Deno.readTextFile(path);
    assertEquals(page.split("plotly.js v").length - 1, 1);
    assertEquals([...Deno.readDirSync(dir)].length, 1); // no temporary left
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
