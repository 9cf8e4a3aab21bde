import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { tableFromArrays, tableToIPC } from "apache-arrow";
import { Tensor } from "../../../kernels/tensor.ts";
import {
  ChannelStatsObserver,
  channelTable,
  hasArrowFileMagic,
  type LayerStats,
  layerTable,
  readArrowIPC,
  tableToRecords,
  writeArrowIPC,
} from "../../../quant/calib/mod.ts";
import { gpuTest } from "../../_helpers.ts";
import {
  activations,
  BATCHES,
  CHANNELS,
  OFFSET_CHANNEL,
  OUTLIER,
  split,
  ZERO_CHANNEL,
} from "./_data.ts";

const TOKENS = BATCHES.reduce((a, b) => a + b);

async function twoLayers(): Promise<LayerStats[]> {
  const out: LayerStats[] = [];
  for (
    const [name, seed] of [["layers.0.self_attn.q_proj", 5], ["layers.0.mlp.down_proj", 6]] as const
  ) {
    const obs = new ChannelStatsObserver(name);
    for (const b of split(activations(TOKENS, CHANNELS, seed), BATCHES, CHANNELS)) {
      using t = Tensor.fromArray(b, [b.length / CHANNELS, CHANNELS]);
      obs.observe(t);
    }
    out.push(await obs.finish());
  }
  return out;
}

gpuTest("channelTable and layerTable: schema and values from the observers", async () => {
  const stats = await twoLayers();
  const ct = channelTable(stats);
  assertEquals(ct.numRows, 2 * CHANNELS);
  assertEquals(
    ct.schema.fields.map((f) => `${f.name}:${f.type}`),
    [
      "layer:Dictionary<Int32, Utf8>",
      "channel:Int32",
      "min:Float32",
      "max:Float32",
      "absmax:Float32",
      "absmean:Float32",
      "mean:Float32",
      "std:Float32",
      "kurtosis:Float32",
      "p99:Float32",
      "p999:Float32",
      "is_outlier:Bool",
    ],
  );
  const rows = tableToRecords(ct);
  const r = rows[CHANNELS + OUTLIER[1]];
  assertEquals([r.layer, r.channel, r.absmax, r.is_outlier], [
    stats[1].layer,
    OUTLIER[1],
    1e4,
    true,
  ]);
  assertEquals(rows[ZERO_CHANNEL].kurtosis, null); // constant channel: null, not NaN
  assertEquals(rows[ZERO_CHANNEL].std, 0);
  assertEquals(rows.filter((x) => x.is_outlier).length, 4);
  assertEquals(rows[3].layer, "layers.0.self_attn.q_proj");

  const lt = layerTable(stats);
  assertEquals(lt.numRows, 2);
  const l = tableToRecords(lt)[0];
  assertEquals([l.layer, l.tokens, l.channels, l.absmax], [stats[0].layer, TOKENS, CHANNELS, 1e4]);
  assertEquals(l.outlier_channels, 2); // the huge value and the mean-100 channel
  assertEquals(l.outlier_k, 6);
  const finite = Array.from(stats[0].kurtosis).filter((k) => !Number.isNaN(k));
  assertEquals(l.kurtosis_mean, finite.reduce((a, b) => a + b) / finite.length);
  assertEquals(l.max_to_mean, stats[0].outliers.maxToMean);
  assert((l.p999 as number) >= (l.p99 as number));
  assert(l.percentile_error_bound as number > 0);
  assertEquals(Object.keys(l).includes("p99"), true);
  void OFFSET_CHANNEL;
});

gpuTest("Arrow IPC file round trip: same schema and values, ARROW1 at both ends", async () => {
  const stats = await twoLayers();
  const dir = await Deno.makeTempDir();
  try {
    for (
      const [name, t] of [["channels", channelTable(stats)], ["layers", layerTable(stats)]] as const
    ) {
      const path = `${dir}/${name}.arrow`;
      await writeArrowIPC(t, path);
      const bytes = await Deno.readFile(path);
      assertEquals(new TextDecoder().decode(bytes.subarray(0, 6)), "ARROW1");
      assertEquals(new TextDecoder().decode(bytes.subarray(bytes.length - 6)), "ARROW1");
      assert(hasArrowFileMagic(bytes));
      const back = await readArrowIPC(path);
      assertEquals(
        back.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
        t.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`),
      );
      assertEquals(tableToRecords(back), tableToRecords(t));
    }
    // Only the two files: no temporary left behind.
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "channels.arrow",
      "layers.arrow",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeArrowIPC leaves nothing half-written; readArrowIPC names bad files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const t = tableFromArrays({ a: Float32Array.from([1, 2, 3]) });
    // Target is a directory: the rename fails, the temporary file is removed.
    await Deno.mkdir(`${dir}/taken`);
    await assertRejects(
      () => writeArrowIPC(t, `${dir}/taken`),
      Error,
      `could not write "${dir}/taken"`,
    );
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["taken"]);
    await assertRejects(() => writeArrowIPC(t, `${dir}/missing/x.arrow`), Error, "could not write");
    // An existing file is replaced whole.
    await writeArrowIPC(t, `${dir}/a.arrow`);
    await writeArrowIPC(tableFromArrays({ b: Int32Array.from([9]) }), `${dir}/a.arrow`);
    assertEquals(tableToRecords(await readArrowIPC(`${dir}/a.arrow`)), [{ b: 9 }]);
    // Truncated file and stream-format bytes get named errors.
    const full = tableToIPC(t, "file");
    await Deno.writeFile(`${dir}/cut.arrow`, full.subarray(0, full.length - 10));
    await assertRejects(() => readArrowIPC(`${dir}/cut.arrow`), RangeError, "truncated");
    await Deno.writeFile(`${dir}/s.arrows`, tableToIPC(t, "stream"));
    await assertRejects(() => readArrowIPC(`${dir}/s.arrows`), RangeError, "no ARROW1 magic");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tables reject inconsistent inputs", () => {
  assertThrows(() => channelTable([]), RangeError, "no layers");
  assertThrows(() => layerTable([]), RangeError, "no layers");
});
