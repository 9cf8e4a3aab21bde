/**
 * Calibration statistics as Apache Arrow tables, and Arrow IPC files that
 * pandas (`pd.read_feather`), polars (`pl.read_ipc`), pyarrow
 * (`pa.ipc.open_file`) and DuckDB read directly.
 *
 * - {@link channelTable}: one row per (layer, channel): `layer` (dictionary
 *   of utf8), `channel` (int32), `min`, `max`, `absmax`, `absmean`, `mean`,
 *   `std`, `kurtosis` (float32; null for a constant channel), one float32
 *   column per percentile of |x| (`p99`, `p999`, …), `is_outlier` (bool).
 * - {@link layerTable}: one row per layer: `layer` (utf8), `tokens`,
 *   `channels` (int32), `absmax`, `mean_absmax`, `median_absmax`,
 *   `max_to_mean`, `kurtosis_mean`, `kurtosis_max`, `outlier_k`,
 *   `outlier_channels` (int32), the whole-tensor percentiles of |x|,
 *   `percentile_error_bound` (float64).
 *
 * {@link writeArrowIPC} writes the IPC **file** format (Feather v2: the magic
 * `ARROW1` at both ends, a footer indexing the record batches) to a temporary
 * file beside the target and renames it into place, so an error never leaves
 * a half-written file; {@link readArrowIPC} checks the magic, the footer and
 * every column's buffers, so a damaged file fails with an error naming it.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { ChannelStatsObserver } from "./observers.ts";
 * import { channelTable, layerTable, readArrowIPC, writeArrowIPC } from "./table.ts";
 * await initGPU();
 * const obs = new ChannelStatsObserver("layers.0.q_proj");
 * using x = Tensor.randn([32, 4], { seed: 0 });
 * obs.observe(x);
 * const stats = await obs.finish();
 * const t = channelTable([stats]);
 * console.log(t.numRows, layerTable([stats]).numRows); // 4 1
 * const path = await Deno.makeTempFile({ suffix: ".arrow" });
 * await writeArrowIPC(t, path);
 * console.log((await readArrowIPC(path)).numRows); // 4
 * await Deno.remove(path);
 * ```
 * @module
 */
import {
  Bool,
  Dictionary,
  Float32,
  Float64,
  Int32,
  Table,
  tableFromIPC,
  tableToIPC,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import { fileURLToPath } from "node:url";
import type { LayerStats } from "./observers.ts";
import { checkArrowFooter, checkArrowTable } from "./_arrow_check.ts";

const INT32_MAX = 2 ** 31 - 1;

/** NaN → null, so Arrow readers see a missing value rather than a float NaN. */
function nullable(values: ArrayLike<number>): (number | null)[] {
  return Array.from(values, (v) => (Number.isNaN(v) ? null : v));
}

function int32(values: number[], what: string): Vector {
  for (const v of values) {
    if (!Number.isInteger(v) || v < 0 || v > INT32_MAX) {
      throw new RangeError(`${what}: ${v} does not fit an int32 column`);
    }
  }
  return vectorFromArray(values, new Int32());
}

/**
 * One row per channel of every layer (layers in the given order).
 *
 * @example
 * ```ts
 * import { channelTable } from "./table.ts";
 * import { outlierChannels } from "./observers.ts";
 * const stats = {
 *   layer: "fc", tokens: 10, channels: 2,
 *   min: new Float32Array([-1, 0]), max: new Float32Array([1, 0]),
 *   absmax: new Float32Array([1, 0]), absmean: new Float64Array([0.5, 0]),
 *   mean: new Float64Array([0, 0]), std: new Float64Array([0.6, 0]),
 *   kurtosis: new Float64Array([1.8, NaN]),
 *   percentiles: { p99: new Float64Array([1, 0]) }, tensorPercentiles: { p99: 1 },
 *   percentileErrorBound: 0.002, outliers: outlierChannels([1, 0]),
 * };
 * const t = channelTable([stats]);
 * console.log(t.schema.fields.map((f) => f.name).join(","));
 * // layer,channel,min,max,absmax,absmean,mean,std,kurtosis,p99,is_outlier
 * console.log(t.get(1)?.toJSON().kurtosis); // null
 * ```
 */
export function channelTable(stats: readonly LayerStats[]): Table {
  if (!stats.length) throw new RangeError("channelTable: no layers");
  const names = Object.keys(stats[0].percentiles);
  for (const s of stats) {
    const k = Object.keys(s.percentiles);
    if (k.join() !== names.join()) {
      throw new RangeError(
        `channelTable: layer "${s.layer}" has percentiles [${k}] but "${stats[0].layer}" has ` +
          `[${names}]; observe every layer with the same percentiles`,
      );
    }
  }
  const layer: string[] = [];
  const channel: number[] = [];
  const cat = (get: (s: LayerStats) => ArrayLike<number>) => {
    const out: number[] = [];
    for (const s of stats) {
      const v = get(s);
      if (v.length !== s.channels) {
        throw new RangeError(
          `channelTable: layer "${s.layer}" has ${v.length} values for ${s.channels} channels`,
        );
      }
      for (let i = 0; i < v.length; i++) out.push(v[i]);
    }
    return out;
  };
  for (const s of stats) {
    for (let c = 0; c < s.channels; c++) {
      layer.push(s.layer);
      channel.push(c);
    }
  }
  const f32 = (get: (s: LayerStats) => ArrayLike<number>) =>
    vectorFromArray(nullable(cat(get)), new Float32());
  const columns: Record<string, Vector> = {
    layer: vectorFromArray(layer, new Dictionary(new Utf8(), new Int32())),
    channel: int32(channel, "channelTable channel"),
    min: f32((s) => s.min),
    max: f32((s) => s.max),
    absmax: f32((s) => s.absmax),
    absmean: f32((s) => s.absmean),
    mean: f32((s) => s.mean),
    std: f32((s) => s.std),
    kurtosis: f32((s) => s.kurtosis),
  };
  for (const n of names) columns[n] = f32((s) => s.percentiles[n]);
  columns.is_outlier = vectorFromArray(
    cat((s) => s.outliers.isOutlier).map((v) => v === 1),
    new Bool(),
  );
  return new Table(columns);
}

/**
 * One summary row per layer.
 *
 * @example
 * ```ts
 * import { layerTable } from "./table.ts";
 * import { outlierChannels } from "./observers.ts";
 * const absmax = new Float32Array([1, 1, 30]);
 * const stats = {
 *   layer: "fc", tokens: 10, channels: 3, min: absmax.map((v) => -v), max: absmax, absmax,
 *   absmean: new Float64Array(3), mean: new Float64Array(3), std: new Float64Array([1, 1, 1]),
 *   kurtosis: new Float64Array([3, 3, 9]), percentiles: {}, tensorPercentiles: {},
 *   percentileErrorBound: 0, outliers: outlierChannels(absmax),
 * };
 * const row = layerTable([stats]).get(0)!.toJSON();
 * console.log(row.outlier_channels, row.max_to_mean, row.kurtosis_mean); // 1 2.8125 5
 * ```
 */
export function layerTable(stats: readonly LayerStats[]): Table {
  if (!stats.length) throw new RangeError("layerTable: no layers");
  const names = Object.keys(stats[0].tensorPercentiles);
  const col = (get: (s: LayerStats) => number) =>
    vectorFromArray(
      stats.map((s) => {
        const v = get(s);
        return Number.isNaN(v) ? null : v;
      }),
      new Float64(),
    );
  const kurt = (
    s: LayerStats,
    f: (a: number, b: number) => number,
    init: number,
    mean: boolean,
  ) => {
    let acc = init, n = 0;
    for (const k of s.kurtosis) {
      if (Number.isNaN(k)) continue;
      acc = f(acc, k);
      n++;
    }
    return n === 0 ? NaN : mean ? acc / n : acc;
  };
  const columns: Record<string, Vector> = {
    layer: vectorFromArray(stats.map((s) => s.layer), new Utf8()),
    tokens: int32(stats.map((s) => s.tokens), "layerTable tokens"),
    channels: int32(stats.map((s) => s.channels), "layerTable channels"),
    absmax: col((s) => s.outliers.maxAbsmax),
    mean_absmax: col((s) => s.outliers.meanAbsmax),
    median_absmax: col((s) => s.outliers.median),
    max_to_mean: col((s) => s.outliers.maxToMean),
    kurtosis_mean: col((s) => kurt(s, (a, b) => a + b, 0, true)),
    kurtosis_max: col((s) => kurt(s, Math.max, -Infinity, false)),
    outlier_k: col((s) => s.outliers.k),
    outlier_channels: int32(stats.map((s) => s.outliers.count), "layerTable outlier_channels"),
  };
  for (const n of names) columns[n] = col((s) => s.tensorPercentiles[n] ?? NaN);
  columns.percentile_error_bound = col((s) => s.percentileErrorBound);
  return new Table(columns);
}

/**
 * Plain objects, one per row: numbers, strings, booleans and null (dictionary
 * columns decoded, 64-bit integers as numbers when exact).
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { tableToRecords } from "./table.ts";
 * const t = tableFromArrays({ a: Int32Array.from([1, 2]), b: ["x", "y"] });
 * console.log(tableToRecords(t)); // [{ a: 1, b: "x" }, { a: 2, b: "y" }]
 * ```
 */
export function tableToRecords(table: Table): Record<string, unknown>[] {
  const names = table.schema.fields.map((f) => f.name);
  const cols = names.map((n) => table.getChild(n)!);
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < table.numRows; i++) {
    const row: Record<string, unknown> = {};
    names.forEach((n, j) => {
      let v: unknown = cols[j].get(i);
      if (typeof v === "bigint") v = Number.isSafeInteger(Number(v)) ? Number(v) : v;
      row[n] = v ?? null;
    });
    out.push(row);
  }
  return out;
}

const MAGIC = new TextEncoder().encode("ARROW1");

/**
 * True when `bytes` start and end with the Arrow IPC file magic `ARROW1`.
 *
 * @example
 * ```ts
 * import { tableFromArrays, tableToIPC } from "apache-arrow";
 * import { hasArrowFileMagic } from "./table.ts";
 * const bytes = tableToIPC(tableFromArrays({ a: [1] }), "file");
 * console.log(hasArrowFileMagic(bytes)); // true
 * ```
 */
export function hasArrowFileMagic(bytes: Uint8Array): boolean {
  if (bytes.length < 2 * MAGIC.length) return false;
  const end = bytes.length - MAGIC.length;
  return MAGIC.every((b, i) => bytes[i] === b && bytes[end + i] === b);
}

/**
 * Writes `table` to `path` in the Arrow IPC file format, atomically: the
 * bytes go to a temporary file in the same folder, which is renamed over
 * `path` only once complete; on any error the temporary file is removed and
 * `path` is untouched. Needs `--allow-write` of the folder.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { writeArrowIPC } from "./table.ts";
 * const dir = await Deno.makeTempDir();
 * await writeArrowIPC(tableFromArrays({ x: Float32Array.from([1, 2]) }), `${dir}/x.arrow`);
 * console.log([...Deno.readDirSync(dir)].map((e) => e.name)); // ["x.arrow"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeArrowIPC(table: Table, path: string | URL): Promise<void> {
  const target = path instanceof URL ? fromFileUrl(path, "writeArrowIPC") : path;
  const bytes = tableToIPC(table, "file");
  const tmp = `${target}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(tmp, bytes, { createNew: true });
    await Deno.rename(tmp, target);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(
      `writeArrowIPC: could not write "${target}": ${(e as Error).message}` +
        (e instanceof Deno.errors.NotCapable ? ` (run with --allow-write of its folder)` : ""),
      { cause: e },
    );
  }
}

/**
 * Reads an Arrow IPC file written by {@link writeArrowIPC} (or pandas,
 * polars, pyarrow). Checks the `ARROW1` magic at both ends first, so a
 * truncated or foreign file gets an error naming it.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { readArrowIPC, writeArrowIPC } from "./table.ts";
 * const path = await Deno.makeTempFile({ suffix: ".arrow" });
 * await writeArrowIPC(tableFromArrays({ n: Int32Array.from([7]) }), path);
 * console.log((await readArrowIPC(path)).get(0)?.toJSON()); // { n: 7 }
 * await Deno.remove(path);
 * ```
 */
export async function readArrowIPC(path: string | URL): Promise<Table> {
  const file = path instanceof URL ? fromFileUrl(path, "readArrowIPC") : path;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(file);
  } catch (e) {
    throw new Error(`readArrowIPC: cannot read "${file}": ${(e as Error).message}`, { cause: e });
  }
  if (!hasArrowFileMagic(bytes)) {
    const starts = bytes.length >= 6 && MAGIC.every((b, i) => bytes[i] === b);
    throw new RangeError(
      `readArrowIPC: "${file}" is not an Arrow IPC file (${bytes.length} bytes; ` +
        (starts
          ? `it starts with ARROW1 but does not end with it: truncated?)`
          : `no ARROW1 magic at the start: an IPC stream or another format?)`),
    );
  }
  const damaged = (problem: string, cause?: unknown) =>
    new RangeError(
      `readArrowIPC: "${file}" is damaged: ${problem}; write it again (or restore a copy)`,
      { cause },
    );
  const footer = checkArrowFooter(bytes);
  if (footer) throw damaged(footer);
  let table: Table;
  try {
    table = tableFromIPC(bytes);
  } catch (e) {
    throw damaged(`it cannot be decoded (${(e as Error).message})`, e);
  }
  const columns = checkArrowTable(table);
  if (columns) throw damaged(columns);
  return table;
}

/** A `file:` URL as a path (percent-escapes decoded); other schemes are refused. */
function fromFileUrl(url: URL, op: string): string {
  if (url.protocol !== "file:") {
    throw new TypeError(`${op}: ${url.href} is not a file URL; give a path or a file: URL`);
  }
  return fileURLToPath(url);
}
