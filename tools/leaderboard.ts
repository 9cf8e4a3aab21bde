/**
 * The PTQ leaderboard: every quantization method of `quant/methods/` on the
 * embedded tiny model, in each configuration where the method has the mode
 * ({@link METHODS}, {@link configs}), scored by perplexity, KL to full
 * precision and top-1 agreement on the first 1024 bytes of valid.txt
 * (windows of 128), with the bits per weight each row really stores (scales,
 * zeros and low-rank factors counted), so rows compare at equal bits.
 * Calibrated methods see 8 windows × 128 tokens of train.txt; each
 * calibration seed is its own row (`--seeds=0,1,2`; default seed 0). A
 * method that fails gets its error text in the `error` column. Writes
 * `data/leaderboard.arrow` (Arrow IPC) and `data/leaderboard.json` (the same
 * rows, the script, the date, the adapter and the protocol), each row as soon
 * as it is done.
 *
 *   deno run -A tools/leaderboard.ts [method-filter] [config-filter] [--seeds=0,1,2] [--resume]
 *   deno run -A tools/leaderboard.ts --markdown     # the README's table, from data/leaderboard.json
 *
 * `--resume` keeps the rows already in `data/leaderboard.json` and computes the missing ones
 * (without it, the file is rebuilt from the rows this run computes).
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

const A8 = () => lb.int(8, { per: "token" });

/**
 * Every configuration of the leaderboard: the five shared ones (W4/W3/W2 g32,
 * W8A8, W4A8), the per-channel weight-only baselines that sit at the bits of
 * the low-rank methods (W4/W5/W6/W8 per channel, 4.10–8.10 b), and the
 * method-specific modes (LLM-FP4's own FP4 search, layer-wise IP's mixed
 * precision under a 3.5 b budget; their `weight` is nominal).
 */
export function configs(): Config[] {
  return [
    { name: "W4 g32", weight: lb.int(4, { group: 32 }) },
    { name: "W3 g32", weight: lb.int(3, { group: 32 }) },
    { name: "W2 g32", weight: lb.int(2, { group: 32 }) },
    { name: "W8A8", weight: lb.int(8), act: A8() },
    { name: "W4A8", weight: lb.int(4, { group: 32 }), act: A8() },
    { name: "W4 pc", weight: lb.int(4) },
    { name: "W5 pc", weight: lb.int(5) },
    { name: "W6 pc", weight: lb.int(6) },
    { name: "W8 pc", weight: lb.int(8) },
    { name: "FP4 W4A4", weight: lb.fp("e2m1"), act: lb.fp("e2m1", { per: "token" }) },
    { name: "FP4 W4", weight: lb.fp("e2m1") },
    { name: "mixed ≤3.5 b", weight: lb.int(3, { group: 32 }) },
  ];
}

type Run3 = (model: LlamaModel, seqs: Int32Array[], o: object) => Promise<unknown>;
type Run = (model: LlamaModel, c: Config, calib: Int32Array[]) => Promise<unknown>;

/** A leaderboard method: how to run it, on which configs, and whether it calibrates. */
export interface Method {
  /** One call on a fresh model. */
  run: Run;
  /** The configs where the method has the mode. */
  configs: readonly string[];
  /** Whether it sees calibration data (then each calibration seed is its own row). */
  calibrated: boolean;
}

const BASE = ["W4 g32", "W3 g32", "W2 g32", "W8A8", "W4A8"] as const;
const WEIGHT = ["W4 g32", "W3 g32", "W2 g32"] as const;
const ACT = ["W8A8", "W4A8"] as const;

/** Every method, by name. */
export const METHODS: Record<string, Method> = {
  rtn: {
    run: (m, c) => lb.methods.rtn(m, c.weight, { act: c.act }),
    configs: [...BASE, "W4 pc", "W5 pc", "W6 pc", "W8 pc"],
    calibrated: false,
  },
  gpfq: {
    run: (m, c, s) => lb.methods.gpfq(m, c.weight, { calibration: s, act: c.act }),
    configs: BASE,
    calibrated: true,
  },
  comq: {
    run: (m, c, s) => lb.methods.comq(m, c.weight, { calibration: s, act: c.act }),
    configs: BASE,
    calibrated: true,
  },
  gptq: {
    run: (m, c, s) => lb.methods.gptqModel(m, c.weight, s, { act: c.act, progress: false }),
    configs: [...BASE, "W4 pc", "W5 pc", "W6 pc"],
    calibrated: true,
  },
  awq: {
    run: (m, c, s) => lb.methods.awq(m, c.weight, { sequences: s, act: c.act, progress: false }),
    configs: BASE,
    calibrated: true,
  },
  quip: {
    run: (m, c, s) => lb.methods.quip(m, c.weight, { sequences: s, progress: false }),
    configs: WEIGHT,
    calibrated: true,
  },
  lqer: {
    run: (m, c, s) =>
      lb.methods.lqer(m, c.weight, { rank: 8, sequences: s, act: c.act, progress: false }),
    configs: BASE,
    calibrated: true,
  },
  lq_lora: {
    run: (m, c) => lb.methods.lqLora(m, c.weight, { rank: 8 }),
    configs: WEIGHT,
    calibrated: false,
  },
  aqas: {
    run: (m, c, s) => {
      // looked up at run time: aqas may not be registered in quant/methods/mod.ts yet
      const aqas = (lb as unknown as Record<string, Run3 | undefined>).aqas;
      if (!aqas) throw new Error("aqas is not exported by quant/methods/mod.ts");
      return aqas(m, s, { weight: c.weight, act: c.act, progress: false });
    },
    configs: ACT,
    calibrated: true,
  },
  crossquant: {
    run: (m, c) => lb.methods.crossquant(m, c.weight, { act: c.act! }),
    configs: ACT,
    calibrated: false,
  },
  llm_fp4: {
    run: (m, c, s) => lb.methods.llmFp4(m, s, c.act ? {} : { actFormats: null }),
    configs: ["FP4 W4A4", "FP4 W4"],
    calibrated: true,
  },
  dfq: {
    run: (m, c, s) => lb.methods.dfq(m, c.weight, { sequences: s }),
    configs: WEIGHT,
    calibrated: true,
  },
  norm_tweaking: {
    run: (m, c, s) => lb.methods.normTweaking(m, s, { weight: c.weight, base: "gptq" }),
    configs: WEIGHT,
    calibrated: true,
  },
  layerwise_ip: {
    run: (m, _c, s) => lb.methods.layerwiseIp(m, { avgBits: 3.5, evalRows: s, calibration: s }),
    configs: ["mixed ≤3.5 b"],
    calibrated: true,
  },
};

/** One leaderboard row. */
export interface Row {
  method: string;
  config: string;
  /** Calibration seed (0 for methods without calibration data). */
  seed: number;
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
  seed = 0,
): Promise<Row> {
  const row: Row = {
    method,
    config: config.name,
    seed,
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
    await METHODS[method].run(model, config, calib);
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
    seed: Int32Array.from(rows, (r) => r.seed ?? 0),
    perplexity: num("perplexity"),
    kl: num("kl"),
    top1: num("top1"),
    bits_per_weight: num("bits_per_weight"),
    seconds: num("seconds"),
    error: rows.map((r) => r.error ?? ""),
  });
}

const NAMES: Record<string, string> = {
  rtn: "RTN",
  gptq: "GPTQ",
  gpfq: "GPFQ",
  comq: "COMQ",
  awq: "AWQ",
  quip: "QuIP",
  lqer: "LQER",
  lq_lora: "LQ-LoRA",
  aqas: "AQAS",
  crossquant: "CrossQuant",
  llm_fp4: "LLM-FP4",
  dfq: "DFQ",
  norm_tweaking: "Norm Tweaking",
  layerwise_ip: "layer-wise IP",
};

/**
 * The README's leaderboard table: seed-0 rows grouped by whole bits per
 * weight, sorted by perplexity within a group, with the Pareto front marked
 * (no other row has fewer or equal bits and a lower perplexity).
 *
 * @example
 * ```ts
 * import { markdownTable } from "./leaderboard.ts";
 * const row = { seed: 0, kl: 0.1, top1: 0.9, seconds: 1, error: null };
 * const md = markdownTable([
 *   { ...row, method: "rtn", config: "W4 g32", perplexity: 3.3, bits_per_weight: 4.5 },
 *   { ...row, method: "gptq", config: "W4 pc", perplexity: 3.2, bits_per_weight: 4.1 },
 * ]);
 * if (!md.includes("| 4–5 b | GPTQ | W4 pc | 4.10 | 3.200 | 0.1000 | ● |")) throw new Error(md);
 * ```
 */
export function markdownTable(rows: readonly Row[]): string {
  const ok = rows.filter((r) =>
    !r.error && r.seed === 0 && r.method !== "fp32" && r.perplexity !== null &&
    r.bits_per_weight !== null
  );
  const sorted = [...ok].sort((a, b) =>
    Math.floor(a.bits_per_weight!) - Math.floor(b.bits_per_weight!) ||
    a.perplexity! - b.perplexity!
  );
  let best = Infinity;
  const front = new Set<Row>();
  for (
    const r of [...ok].sort((a, b) =>
      a.bits_per_weight! - b.bits_per_weight! || a.perplexity! - b.perplexity!
    )
  ) {
    if (r.perplexity! < best) (front.add(r), best = r.perplexity!);
  }
  const lines = [
    "| bits  | method | config | bits/weight | perplexity | KL | front |",
    "| ----- | ------ | ------ | ----------- | ---------- | -- | ----- |",
  ];
  const fp = rows.find((r) => r.method === "fp32" && r.perplexity !== null);
  if (fp) lines.push(`| 32 b | full precision | f32 | 32 | ${fp.perplexity!.toFixed(3)} | 0 | |`);
  for (const r of sorted) {
    const g = Math.floor(r.bits_per_weight!);
    lines.push(
      `| ${g}–${g + 1} b | ${NAMES[r.method] ?? r.method} | ${r.config} | ${
        r.bits_per_weight!.toFixed(2)
      } | ${r.perplexity! >= 10 ? r.perplexity!.toFixed(2) : r.perplexity!.toFixed(3)} | ${
        r.kl!.toFixed(4)
      } | ${front.has(r) ? "●" : ""} |`,
    );
  }
  return lines.join("\n");
}

/** Parses `--seeds=0,1,2` (default: seed 0 only). */
export function parseSeeds(args: readonly string[]): number[] {
  const a = args.find((x) => x.startsWith("--seeds="));
  if (!a) return [0];
  const seeds = a.slice("--seeds=".length).split(",").map(Number);
  if (!seeds.length || seeds.some((x) => !Number.isInteger(x) || x < 0)) {
    throw new Error(`--seeds needs non-negative integers separated by commas, got "${a}"`);
  }
  return seeds;
}

if (import.meta.main && Deno.args.includes("--markdown")) {
  const root = new URL("..", import.meta.url);
  const data = JSON.parse(await Deno.readTextFile(new URL("data/leaderboard.json", root)));
  console.log(markdownTable(data.rows));
} else if (import.meta.main) {
  const resume = Deno.args.includes("--resume");
  const seeds = parseSeeds(Deno.args);
  const [methodFilter = "", configFilter = ""] = Deno.args.filter((a) => !a.startsWith("--"));
  const root = new URL("..", import.meta.url);
  const ctx = await lb.initGPU();
  const text = (await Deno.readTextFile(new URL("data/corpus/valid.txt", root)))
    .slice(0, PROTOCOL.evalBytes);
  const train = await Deno.readTextFile(new URL("data/corpus/train.txt", root));
  using ref = await lb.loadModel();
  const fp = await lb.perplexity(ref, text, { seqLen: PROTOCOL.seqLen });
  const rows: Row[] = [{
    method: "fp32",
    config: "-",
    seed: 0,
    perplexity: fp.perplexity,
    kl: 0,
    top1: 1,
    bits_per_weight: 32,
    seconds: 0,
    error: null,
  }];
  const write = async () => {
    const meta = {
      script: "tools/leaderboard.ts",
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
  const planned = (m: string, c: string) => METHODS[m]?.configs.includes(c) ?? false;
  if (resume) {
    // keep the rows of an earlier run (old rows have seed 0) and compute only the missing ones;
    // rows of a method × config that is no longer planned (an unsupported mode) are dropped
    const old = JSON.parse(await Deno.readTextFile(new URL("data/leaderboard.json", root)));
    for (const r of old.rows as Row[]) {
      if (r.method !== "fp32" && planned(r.method, r.config)) {
        rows.push({ ...r, seed: r.seed ?? 0 });
      }
    }
  }
  const done = (m: string, c: string, seed: number) =>
    rows.some((r) => r.method === m && r.config === c && r.seed === seed);
  for (const [method, spec] of Object.entries(METHODS)) {
    if (!method.includes(methodFilter)) continue;
    for (const c of configs()) {
      if (!spec.configs.includes(c.name) || !c.name.includes(configFilter)) continue;
      for (const seed of spec.calibrated ? seeds : [0]) {
        if (done(method, c.name, seed)) continue;
        const calib = lb.calibrationSequences(train, { ...PROTOCOL.calibration, seed });
        const row = await score(method, c, ref, text, calib, seed);
        rows.push(row);
        console.log(
          `${method.padEnd(8)} ${c.name.padEnd(7)} seed ${seed} ppl ${
            row.perplexity?.toFixed(4) ?? "-"
          } ` +
            `kl ${row.kl?.toFixed(5) ?? "-"} bits ${row.bits_per_weight?.toFixed(3) ?? "-"} ` +
            `${row.seconds?.toFixed(1) ?? "-"}s ${row.error ?? ""}`,
        );
        await write();
      }
    }
  }
  await write();
}
