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

Deno.test("writeArrowIPC and readArrowIPC take file URLs with escaped characters", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/with space`);
    const url = new URL(`file://${dir}/with space/ä x.arrow`);
    assert(url.pathname.includes("%20"), url.pathname);
    await writeArrowIPC(tableFromArrays({ n: Int32Array.from([7]) }), url);
    assertEquals([...Deno.readDirSync(`${dir}/with space`)].map((e) => e.name), ["ä x.arrow"]);
    assertEquals(tableToRecords(await readArrowIPC(url)), [{ n: 7 }]);
    await assertRejects(
      () => writeArrowIPC(tableFromArrays({ n: [1] }), new URL("https://example.com/x.arrow")),
      TypeError,
      "not a file URL",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readArrowIPC: damage inside a file is named with the file, and never hangs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = tableToIPC(
      tableFromArrays({ a: Float32Array.from([1, 2, 3]), s: ["x", "y", "z"] }),
      "file",
    );
    const cases: [string, (b: Uint8Array) => void, string][] = [
      // the footer's record-batch count: the reader would walk ~2³¹ blocks
      ["count", (b) => b.fill(0x7f, b.length - 10 - 8, b.length - 10 - 5), "is damaged"],
      // the footer length itself
      ["footer", (b) => new DataView(b.buffer).setInt32(b.length - 10, 1e9, true), "footer length"],
      // the message region overwritten with 0xff: lengths and offsets all wrong
      ["message", (b) => b.fill(0xff, 12, 120), "is damaged"],
    ];
    for (const [name, damage, part] of cases) {
      const b = good.slice();
      damage(b);
      const path = `${dir}/${name}.arrow`;
      await Deno.writeFile(path, b);
      const t0 = performance.now();
      const e = await assertRejects(() => readArrowIPC(path), RangeError);
      assert(e.message.includes(`"${path}"`) && e.message.includes(part), `${name}: ${e.message}`);
      assert(performance.now() - t0 < 1000, `${name}: ${performance.now() - t0} ms`);
    }
    await assertRejects(
      () => readArrowIPC(`${dir}/none.arrow`),
      Error,
      `cannot read "${dir}/none.arrow"`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tables reject inconsistent inputs", () => {
  assertThrows(() => channelTable([]), RangeError, "no layers");
  assertThrows(() => layerTable([]), RangeError, "no layers");
});
