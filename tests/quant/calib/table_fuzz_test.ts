import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import {
  Bool,
  Float32,
  Float64,
  Int64,
  Table,
  tableFromArrays,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import {
  channelTable,
  type LayerStats,
  layerTable,
  outlierChannels,
  readArrowIPC,
  tableToRecords,
} from "../../../quant/calib/mod.ts";
import { below, byteMutations, pick, rng } from "../../_fuzz.ts";

/** Hand-made statistics of one layer (what the observers produce), no GPU needed. */
function stats(layer: string, channels: number, seed: number): LayerStats {
  const r = rng(seed);
  const absmax = Float32Array.from({ length: channels }, () => r() * 4);
  absmax[1] = 40; // an outlier channel
  return {
    layer,
    tokens: 64,
    channels,
    min: absmax.map((v) => -v),
    max: absmax,
    absmax,
    absmean: Float64Array.from(absmax, (v) => v / 3),
    mean: Float64Array.from({ length: channels }, () => r() - 0.5),
    std: Float64Array.from(absmax, (v) => v / 2),
    kurtosis: Float64Array.from({ length: channels }, (_, i) => (i === 2 ? NaN : 3 + r())),
    percentiles: { p99: Float64Array.from(absmax, (v) => v * 0.9) },
    tensorPercentiles: { p99: 3.5 },
    percentileErrorBound: 0.01,
    outliers: outlierChannels(absmax),
  };
}

const layers = [stats("layers.0.q_proj", 12, 1), stats("layers.0.down_proj", 20, 2)];
const batch = (x: number[], s: string[]) =>
  new Table({
    x: vectorFromArray(x, new Float32()),
    s: vectorFromArray(s, new Utf8()),
  });
const twoBatches = batch([1, 2, 3], ["a", "bb", "ccc"]).concat(batch([4], ["dddd"]));
const CASES = 600;
const SEEDS = [
  channelTable(layers),
  layerTable(layers),
  twoBatches,
  new Table({
    n: vectorFromArray([1n, null, 3n], new Int64()),
    f: vectorFromArray([0.5, null, 2], new Float64()),
    b: vectorFromArray([true, false, true], new Bool()),
  }),
  tableFromArrays({ empty: new Float32Array(0) }),
].map((t) => tableToIPC(t, "file"));

Deno.test("fuzz: every damaged Arrow file reads correctly or fails naming the file, fast", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // the seeds themselves read back
    for (const [i, bytes] of SEEDS.entries()) {
      await Deno.writeFile(`${dir}/seed${i}.arrow`, bytes);
      const t = await readArrowIPC(`${dir}/seed${i}.arrow`);
      assertEquals(tableToRecords(t).length, t.numRows);
    }
    const mutations = byteMutations(8); // keep ARROW1 + padding at the start, the magic at the end
    const r = rng(20261202);
    const outcomes = new Map<string, number>();
    let loaded = 0, rejected = 0, slowest = 0;
    const start = performance.now();
    for (let i = 0; i < CASES; i++) {
      let bytes = pick(r, SEEDS);
      const applied: string[] = [];
      for (let k = 1 + below(r, 2); k > 0; k--) {
        const [name, mutate] = pick(r, mutations);
        bytes = mutate(bytes, r, pick(r, SEEDS));
        applied.push(name);
      }
      const path = `${dir}/case ${i}.arrow`;
      await Deno.writeFile(path, bytes);
      const t0 = performance.now();
      try {
        const t = await readArrowIPC(path);
        const records = tableToRecords(t);
        assertEquals(records.length, t.numRows, `case ${i} (${applied})`);
        for (const rec of records) {
          assertEquals(Object.keys(rec), t.schema.fields.map((f) => f.name), `case ${i}`);
        }
        loaded++;
      } catch (e) {
        assert(e instanceof RangeError, `case ${i} (${applied}): ${e}`);
        assert(
          e.message.startsWith(`readArrowIPC: "${path}" `),
          `case ${i} (${applied}) does not name the file: ${e.message}`,
        );
        const kind = /is damaged: (its footer|[a-z ]+ block|column|it cannot be decoded)/
          .exec(e.message)?.[1] ??
          (e.message.includes("not an Arrow IPC file") ? "magic" : "other");
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
        rejected++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
      await Deno.remove(path);
    }
    const ms = performance.now() - start;
    console.log(
      `${CASES} cases: ${loaded} loaded, ${rejected} rejected (${
        [...outcomes].map(([k, v]) => `${k} ${v}`).join(", ")
      }); slowest ${slowest.toFixed(0)} ms, all ${ms.toFixed(0)} ms`,
    );
    // both outcomes occur, and the checks at every level are exercised
    assertGreater(loaded, 20);
    assertGreater(rejected, 200);
    for (const kind of ["its footer", "column", "magic"]) {
      assertGreater(outcomes.get(kind) ?? 0, 3, `few rejections by ${kind}: ${[...outcomes]}`);
    }
    assertLess(slowest, 2000); // no case hangs
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
