/**
 * The PTQ leaderboard: every quantization method of `quant/methods/` ×
 * {W4 g32, W3 g32, W2 g32, W8A8, W4A8} on the embedded tiny model, scored by
 * perplexity, KL to full precision and top-1 agreement on the first 1024
 * bytes of valid.txt (windows of 128), with the stored bits per weight.
 * Calibrated methods see 8 windows × 128 tokens of train.txt (seed 0). A
 * method that fails (or does not support a config) gets its error text in
 * the `error` column. Writes `data/leaderboard.arrow` (Arrow IPC) and
 * `data/leaderboard.json` (the same rows, the date, the adapter and the
 * protocol), each row as soon as it is done.
 *
 *   deno run -A tools/leaderboard.ts [method-filter] [config-filter] [--resume]
 *
 * `--resume` keeps the rows already in `data/leaderboard.json` and computes the missing ones.
 *
 * `notebooks/ptq-leaderboard.ipynb` displays the file and recomputes a
 * subset live with the same protocol ({@link PROTOCOL}).
 *
 * @example
 * ```ts ignore
 * // deno run -A tools/leaderboard.ts rtn "W4 g32"
 * ```
 * @module
 */
import { tableFromArrays } from "apache-arrow";
import * as lb from "../mod.ts";
import type { LlamaModel, Quantizer } from "../mod.ts";

/** The evaluation and calibration protocol (the notebook repeats it). */
export const PROTOCOL = {
  evalBytes: 1024,
  seqLen: 128,
  calibration: { n: 8, seqLen: 128, seed: 0 },
} as const;

/** A weight (and optional activation) configuration. */
export interface Config {
  name: string;
  weight: Quantizer;
  act?: Quantizer;
}

/** The five configurations of the leaderboard. */
export function configs(): Config[] {
  const a8 = lb.int(8, { per: "token" });
  return [
    { name: "W4 g32", weight: lb.int(4, { group: 32 }) },
    { name: "W3 g32", weight: lb.int(3, { group: 32 }) },
    { name: "W2 g32", weight: lb.int(2, { group: 32 }) },
    { name: "W8A8", weight: lb.int(8), act: a8 },
    { name: "W4A8", weight: lb.int(4, { group: 32 }), act: a8 },
  ];
}

type Run3 = (model: LlamaModel, seqs: Int32Array[], o: object) => Promise<unknown>;
type Run = (model: LlamaModel, c: Config, calib: Int32Array[]) => Promise<unknown>;

function noAct(name: string, c: Config): void {
  if (c.act) throw new Error(`${name} has no activation-quantization option`);
}

/** Every method, by name, as one call on a fresh model. */
export const METHODS: Record<string, Run> = {
  rtn: (m, c) => lb.rtn(m, c.weight, { act: c.act }),
  gpfq: (m, c, s) => lb.gpfq(m, c.weight, { calibration: s, act: c.act }),
  comq: (m, c, s) => lb.comq(m, c.weight, { calibration: s, act: c.act }),
  gptq: (m, c, s) => lb.gptqModel(m, c.weight, s, { act: c.act, progress: false }),
  awq: (m, c, s) => lb.awq(m, c.weight, { sequences: s, act: c.act, progress: false }),
  quip: (m, c, s) => (noAct("quip", c), lb.quip(m, c.weight, { sequences: s, progress: false })),
  lqer: (m, c, s) => lb.lqer(m, c.weight, { rank: 8, sequences: s, act: c.act, progress: false }),
  lq_lora: (m, c) => (noAct("lq_lora", c), lb.lqLora(m, c.weight, { rank: 8 })),
  aqas: (m, c, s) => {
    if (!c.act) throw new Error("aqas is a weight-and-activation method (W·A8 configs only)");
    // looked up at run time: aqas may not be registered in quant/methods/mod.ts yet
    const aqas = (lb as unknown as Record<string, Run3 | undefined>).aqas;
    if (!aqas) throw new Error("aqas is not exported by quant/methods/mod.ts");
    return aqas(m, s, { weight: c.weight, act: c.act, progress: false });
  },
};

/** One leaderboard row. */
export interface Row {
  method: string;
  config: string;
  perplexity: number | null;
  kl: number | null;
  top1: number | null;
  bits_per_weight: number | null;
  seconds: number | null;
  error: string | null;
}

/** Parameter-weighted mean bits per weight of the decoder linears. */
export function modelBits(model: LlamaModel): number {
  let bits = 0, n = 0;
  for (const l of model.linears().values()) {
    const p = l.inFeatures * l.outFeatures;
    bits += (l.bitsPerWeight ?? 32) * p;
    n += p;
  }
  return bits / n;
}

/** Quantizes a fresh model with `method` at `config` and scores it against `ref`. */
export async function score(
  method: string,
  config: Config,
  ref: LlamaModel,
  text: string,
  calib: Int32Array[],
): Promise<Row> {
  const row: Row = {
    method,
    config: config.name,
    perplexity: null,
    kl: null,
    top1: null,
    bits_per_weight: null,
    seconds: null,
    error: null,
  };
  using model = await lb.loadModel();
  const t0 = performance.now();
  try {
    await METHODS[method](model, config, calib);
    row.seconds = (performance.now() - t0) / 1000;
    row.bits_per_weight = modelBits(model);
    const r = await lb.compareModels(ref, model, text, { seqLen: PROTOCOL.seqLen });
    row.perplexity = r.perplexity;
    row.kl = r.kl;
    row.top1 = r.top1;
  } catch (e) {
    row.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  return row;
}

/** The rows as one Arrow table. */
export function toTable(rows: readonly Row[]) {
  const num = (k: keyof Row) =>
    Float64Array.from(rows, (r) => (r[k] === null ? NaN : r[k] as number));
  return tableFromArrays({
    method: rows.map((r) => r.method),
    config: rows.map((r) => r.config),
    perplexity: num("perplexity"),
    kl: num("kl"),
    top1: num("top1"),
    bits_per_weight: num("bits_per_weight"),
    seconds: num("seconds"),
    error: rows.map((r) => r.error ?? ""),
  });
}

if (import.meta.main) {
  const resume = Deno.args.includes("--resume");
  const [methodFilter = "", configFilter = ""] = Deno.args.filter((a) => a !== "--resume");
  const root = new URL("..", import.meta.url);
  const ctx = await lb.initGPU();
  const text = (await Deno.readTextFile(new URL("data/corpus/valid.txt", root)))
    .slice(0, PROTOCOL.evalBytes);
  const train = await Deno.readTextFile(new URL("data/corpus/train.txt", root));
  const calib = lb.calibrationSequences(train, PROTOCOL.calibration);
  using ref = await lb.loadModel();
  const fp = await lb.perplexity(ref, text, { seqLen: PROTOCOL.seqLen });
  const rows: Row[] = [{
    method: "fp32",
    config: "-",
    perplexity: fp.perplexity,
    kl: 0,
    top1: 1,
    bits_per_weight: 32,
    seconds: 0,
    error: null,
  }];
  const write = async () => {
    const meta = {
      date: new Date().toISOString(),
      adapter: ctx.adapterName,
      protocol: PROTOCOL,
      rows,
    };
    await Deno.writeTextFile(
      new URL("data/leaderboard.json.tmp", root),
      JSON.stringify(meta, null, 1),
    );
    await Deno.rename(
      new URL("data/leaderboard.json.tmp", root),
      new URL("data/leaderboard.json", root),
    );
    await lb.calib.writeArrowIPC(toTable(rows), new URL("data/leaderboard.arrow", root));
  };
  if (resume) {
    // keep the rows of an earlier (interrupted) run and compute only the missing ones
    const old = JSON.parse(await Deno.readTextFile(new URL("data/leaderboard.json", root)));
    for (const r of old.rows as Row[]) if (r.method !== "fp32") rows.push(r);
  }
  const done = (m: string, c: string) => rows.some((r) => r.method === m && r.config === c);
  for (const method of Object.keys(METHODS)) {
    if (!method.includes(methodFilter)) continue;
    for (const c of configs()) {
      if (!c.name.includes(configFilter) || done(method, c.name)) continue;
      const row = await score(method, c, ref, text, calib);
      rows.push(row);
      console.log(
        `${method.padEnd(8)} ${c.name.padEnd(7)} ppl ${row.perplexity?.toFixed(4) ?? "-"} ` +
          `kl ${row.kl?.toFixed(5) ?? "-"} bits ${row.bits_per_weight?.toFixed(3) ?? "-"} ` +
          `${row.seconds?.toFixed(1) ?? "-"}s ${row.error ?? ""}`,
      );
      await write();
    }
  }
}
