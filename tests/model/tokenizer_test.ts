import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  ByteTokenizer,
  HFTokenizer,
  loadHFTokenizer,
  TokenizerError,
} from "../../model/tokenizer.ts";

Deno.test("ByteTokenizer: UTF-8 bytes both ways, ids checked", () => {
  const tok = new ByteTokenizer();
  const text = "Grüße, 世界 🙂\n";
  const ids = tok.encode(text);
  assertEquals(ids, Int32Array.from(new TextEncoder().encode(text)));
  assertEquals(ids.length, 21); // 1+1+2+2+1+1+1+3+3+1+4+1 bytes
  assertEquals(tok.decode(ids), text);
  assertEquals(tok.decode([0xff]), "\ufffd");
  assertThrows(() => tok.decode([256]), TokenizerError, "token id 256 at position 0");
  assertThrows(() => tok.decode([65, -1]), TokenizerError, "[0, 256)");
});

/** A tiny GPT-2/Llama-3 style byte-level BPE tokenizer.json, made by hand. */
const BYTE_LEVEL_BPE = {
  version: "1.0",
  truncation: null,
  padding: null,
  added_tokens: [
    {
      id: 16,
      content: "<|begin_of_text|>",
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    },
  ],
  normalizer: null,
  pre_tokenizer: {
    type: "ByteLevel",
    add_prefix_space: false,
    trim_offsets: true,
    use_regex: true,
  },
  post_processor: {
    type: "TemplateProcessing",
    single: [
      { SpecialToken: { id: "<|begin_of_text|>", type_id: 0 } },
      { Sequence: { id: "A", type_id: 0 } },
    ],
    pair: [],
    special_tokens: {
      "<|begin_of_text|>": { id: "<|begin_of_text|>", ids: [16], tokens: ["<|begin_of_text|>"] },
    },
  },
  decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
  model: {
    type: "BPE",
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    vocab: {
      h: 0,
      e: 1,
      l: 2,
      o: 3,
      "Ġ": 4,
      w: 5,
      r: 6,
      d: 7,
      he: 8,
      ll: 9,
      hell: 10,
      hello: 11,
      "Ġw": 12,
      or: 13,
      "Ġwor": 14,
      "Ġworld": 15,
    },
    merges: ["h e", "l l", "he ll", "hell o", "Ġ w", "o r", "Ġw or"],
  },
};

Deno.test("loadHFTokenizer: byte-level BPE merges, special tokens, decode", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(BYTE_LEVEL_BPE));
  const tok = await loadHFTokenizer(dir);
  assertEquals(tok.vocabSize, 17);
  // "hello" merges fully; " world" stops at "Ġwor" since no merge makes "Ġworld".
  assertEquals(tok.tokenize("hello world"), ["hello", "Ġwor", "l", "d"]);
  assertEquals(tok.encode("hello world"), new Int32Array([16, 11, 14, 2, 7]));
  assertEquals(
    tok.encode("hello world", { addSpecialTokens: false }),
    new Int32Array([11, 14, 2, 7]),
  );
  assertEquals(tok.decode([16, 11, 14, 2, 7], { skipSpecialTokens: true }), "hello world");
  assertEquals(tok.decode([11, 4, 5]), "hello w");
  assertThrows(() => tok.decode([17]), TokenizerError, "token id 17");
  // The file path works as well as the directory.
  assertEquals(
    (await loadHFTokenizer(`${dir}/tokenizer.json`)).encode("he"),
    new Int32Array([16, 8]),
  );
});

Deno.test("loadHFTokenizer: a tokenizer_config.json beside it is applied", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(BYTE_LEVEL_BPE));
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({ do_lowercase_and_remove_accent: true, clean_up_tokenization_spaces: false }),
  );
  const tok = await loadHFTokenizer(dir);
  assertEquals(tok.encode("HELLO", { addSpecialTokens: false }), new Int32Array([11]));
});

Deno.test("loadHFTokenizer: missing and malformed files name the file", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(
    () => loadHFTokenizer(dir),
    TokenizerError,
    `${dir}/tokenizer.json: cannot be read`,
  );
  await Deno.writeTextFile(`${dir}/tokenizer.json`, "{bad");
  await assertRejects(() => loadHFTokenizer(dir), TokenizerError, "is not valid JSON");
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify({ vocab: {} }));
  await assertRejects(() => loadHFTokenizer(dir), TokenizerError, "cannot build a tokenizer");
  assertThrows(() => new HFTokenizer(null), TokenizerError, "expected a JSON object");
});
