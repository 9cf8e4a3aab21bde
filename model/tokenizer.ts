/**
 * Tokenizers: {@link ByteTokenizer} (UTF-8 bytes, vocab 256) for the
 * embedded tiny model, and {@link loadHFTokenizer} for a real model's
 * `tokenizer.json`, through `@huggingface/tokenizers` (pure JavaScript, no
 * network: it only reads the files given).
 *
 * @example
 * ```ts
 * import { ByteTokenizer } from "./tokenizer.ts";
 * const tok = new ByteTokenizer();
 * console.log(tok.encode("hé"), tok.decode(tok.encode("hé"))); // Int32Array [104, 195, 169] hé
 * ```
 * @module
 */

import { Tokenizer as HFTokenizerImpl } from "@huggingface/tokenizers";

/** Text to token ids and back. */
export interface Tokenizer {
  /** Number of token ids: every id is in `[0, vocabSize)`. */
  readonly vocabSize: number;
  /** Token ids for `text`. */
  encode(text: string): Int32Array;
  /** The text for `ids`. */
  decode(ids: ArrayLike<number>): string;
}

/** A bad tokenizer file or token id; the message names the file or id. */
export class TokenizerError extends Error {
  /**
   * Makes an error with the given message.
   *
   * @param message what is wrong and how to fix it
   *
   * @example
   * ```ts
   * import { TokenizerError } from "./tokenizer.ts";
   * console.log(new TokenizerError("x").name); // TokenizerError
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "TokenizerError";
  }
}

function checkIds(ids: ArrayLike<number>, vocabSize: number, who: string): number[] {
  const out = Array.from(ids);
  for (let i = 0; i < out.length; i++) {
    const id = out[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new TokenizerError(
        `${who}: token id ${id} at position ${i} is outside the vocabulary [0, ${vocabSize})`,
      );
    }
  }
  return out;
}

/**
 * One token per UTF-8 byte (vocab 256). Decoding bytes that are not valid
 * UTF-8 gives U+FFFD for the bad sequences, as a text decoder does.
 *
 * @example
 * ```ts
 * import { ByteTokenizer } from "./tokenizer.ts";
 * const tok = new ByteTokenizer();
 * console.log(tok.vocabSize, tok.encode("A\n")); // 256 Int32Array [65, 10]
 * ```
 */
export class ByteTokenizer implements Tokenizer {
  /** Always 256. */
  readonly vocabSize = 256;

  /** UTF-8 bytes of `text`, as ids. */
  encode(text: string): Int32Array {
    return Int32Array.from(new TextEncoder().encode(text));
  }

  /** The text whose UTF-8 bytes are `ids`; throws on an id outside [0, 256). */
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder().decode(Uint8Array.from(checkIds(ids, 256, "ByteTokenizer")));
  }
}

/** Options for {@link HFTokenizer.encode} and {@link HFTokenizer.decode}. */
export interface HFCodingOptions {
  /** encode: add the model's special tokens (e.g. BOS), as HF does by default. Default true. */
  addSpecialTokens?: boolean;
  /** decode: leave special tokens out of the text. Default false. */
  skipSpecialTokens?: boolean;
}

/** A Hugging Face `tokenizer.json` tokenizer (BPE, Unigram, WordPiece). */
export class HFTokenizer implements Tokenizer {
  /** One past the largest token id, added tokens included. */
  readonly vocabSize: number;
  /** The file it was loaded from. */
  readonly path: string;
  #impl: HFTokenizerImpl;

  /**
   * Prefer {@link loadHFTokenizer}, which reads the files.
   *
   * @param tokenizerJson the parsed `tokenizer.json`
   * @param tokenizerConfig the parsed `tokenizer_config.json`, or `{}`
   * @param path a name for errors
   */
  constructor(tokenizerJson: unknown, tokenizerConfig: unknown = {}, path = "tokenizer.json") {
    this.path = path;
    if (tokenizerJson === null || typeof tokenizerJson !== "object") {
      throw new TokenizerError(`${path}: expected a JSON object with "model" and "decoder"`);
    }
    try {
      this.#impl = new HFTokenizerImpl(tokenizerJson, (tokenizerConfig ?? {}) as object);
    } catch (e) {
      throw new TokenizerError(
        `${path}: @huggingface/tokenizers cannot build a tokenizer from it (${
          (e as Error).message
        }); is it a Hugging Face tokenizer.json?`,
      );
    }
    let max = -1;
    for (const id of this.#impl.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
  }

  /**
   * Token ids for `text`.
   *
   * @example
   * ```ts
   * import { HFTokenizer } from "./tokenizer.ts";
   * const tok = new HFTokenizer({
   *   model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] },
   *   normalizer: null,
   *   pre_tokenizer: { type: "WhitespaceSplit" },
   *   post_processor: null,
   *   decoder: { type: "Fuse" },
   *   added_tokens: [],
   * });
   * console.log(tok.encode("ab b")); // Int32Array [2, 1]
   * ```
   */
  encode(text: string, options: HFCodingOptions = {}): Int32Array {
    const enc = this.#impl.encode(text, {
      add_special_tokens: options.addSpecialTokens ?? true,
    });
    return Int32Array.from(enc.ids);
  }

  /**
   * The text for `ids`; throws on an id outside the vocabulary (the library
   * would drop it silently).
   */
  decode(ids: ArrayLike<number>, options: HFCodingOptions = {}): string {
    const checked = checkIds(ids, this.vocabSize, this.path);
    return this.#impl.decode(checked, { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /** The token strings for `text` (no special tokens), for inspection. */
  tokenize(text: string): string[] {
    return this.#impl.tokenize(text);
  }
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new TokenizerError(
      `${path}: cannot be read (${(e as Error).message}); check the path and --allow-read`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${path}: is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Loads a Hugging Face tokenizer from a `tokenizer.json` file, or from a
 * model directory holding `tokenizer.json` (and, if present,
 * `tokenizer_config.json`, whose settings such as `add_bos_token` apply).
 * Reads only those files; nothing is downloaded.
 *
 * @param path a `tokenizer.json` file or the directory that holds it
 * @throws {TokenizerError} naming the file when it is missing or malformed
 *
 * @example
 * ```ts
 * import { loadHFTokenizer } from "./tokenizer.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify({
 *   model: { type: "BPE", vocab: { a: 0, b: 1, ab: 2 }, merges: ["a b"] },
 *   normalizer: null,
 *   pre_tokenizer: { type: "WhitespaceSplit" },
 *   post_processor: null,
 *   decoder: { type: "Fuse" },
 *   added_tokens: [],
 * }));
 * const tok = await loadHFTokenizer(dir);
 * console.log(tok.vocabSize, tok.encode("aab"), tok.decode([2, 0])); // 3 Int32Array [0, 2] aba
 * ```
 */
export async function loadHFTokenizer(path: string): Promise<HFTokenizer> {
  let file = path;
  let configFile: string | null = null;
  try {
    if ((await Deno.stat(path)).isDirectory) {
      const dir = path.replace(/\/$/, "");
      file = `${dir}/tokenizer.json`;
      configFile = `${dir}/tokenizer_config.json`;
    } else {
      const cut = path.lastIndexOf("/");
      configFile = `${cut >= 0 ? path.slice(0, cut) : "."}/tokenizer_config.json`;
    }
  } catch (e) {
    throw new TokenizerError(`${path}: cannot be read (${(e as Error).message})`);
  }
  const json = await readJson(file);
  let config: unknown = {};
  try {
    if ((await Deno.stat(configFile)).isFile) config = await readJson(configFile);
  } catch (e) {
    if (e instanceof TokenizerError) throw e;
    // no tokenizer_config.json: use the library's defaults
  }
  return new HFTokenizer(json, config, file);
}
