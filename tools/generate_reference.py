#!/usr/bin/env python3
"""generate_reference.py — greedy generation of the embedded model by HF transformers.

Loads data/tiny with transformers (LlamaForCausalLM, float32, eager attention,
TF32 off), takes 3 validation prompts (32 bytes of data/corpus/valid.txt at the
fixed offsets below; the model reads bytes: token id = byte value), greedily
generates 48 new tokens per prompt with use_cache=True (one batch of 3), and
writes data/tiny/generate_reference.json:

  prompts   [{byte_offset, ids}]          the inputs
  tokens    [[48 ids]]                    the generated ids per prompt
  margins   [[48 floats]]                 top-1 minus top-2 logit at each step
                                          (a test may accept a different token
                                          only where this is within f32 noise)
  settings, versions

tests/model/generate_test.ts compares lowbit's `generate` with this file.

    python3 tools/generate_reference.py [--model data/tiny] [--device cpu|cuda]
"""

import argparse
import json
import os
import platform

OFFSETS = [0, 100000, 200000]
PROMPT_BYTES = 32
NEW_TOKENS = 48


def main():
    import torch  # here, so that tools/generate_reference_numpy.py can import the constants
    import transformers
    from transformers import LlamaForCausalLM

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="data/tiny")
    ap.add_argument("--corpus", default="data/corpus/valid.txt")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=None, help="default: <model>/generate_reference.json")
    a = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)

    try:  # transformers ≥ 4.56 / 5 name it `dtype`, older ones `torch_dtype`
        model = LlamaForCausalLM.from_pretrained(a.model, dtype=torch.float32, attn_implementation="eager")
    except TypeError:
        model = LlamaForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32, attn_implementation="eager")
    model = model.to(a.device).eval()
    assert next(model.parameters()).dtype == torch.float32

    valid = open(a.corpus, "rb").read()
    prompts = [{"byte_offset": o, "ids": list(valid[o : o + PROMPT_BYTES])} for o in OFFSETS]
    for p in prompts:
        assert len(p["ids"]) == PROMPT_BYTES, f"offset {p['byte_offset']} is too close to the end"
    ids = torch.tensor([p["ids"] for p in prompts], dtype=torch.long, device=a.device)

    with torch.no_grad():
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=NEW_TOKENS,
            do_sample=False,
            num_beams=1,
            use_cache=True,
            output_scores=True,
            return_dict_in_generate=True,
            pad_token_id=0,  # the byte model has no pad/eos; nothing may stop early
            eos_token_id=None,
        )
    tokens = out.sequences[:, PROMPT_BYTES:].tolist()
    assert all(len(t) == NEW_TOKENS for t in tokens), [len(t) for t in tokens]
    margins = [[0.0] * NEW_TOKENS for _ in prompts]
    for s, scores in enumerate(out.scores):  # [batch, vocab] logits of step s (no warpers in greedy)
        top2 = torch.topk(scores.float(), 2, dim=-1).values
        for b in range(len(prompts)):
            margins[b][s] = float(top2[b, 0] - top2[b, 1])
            assert int(scores[b].argmax()) == tokens[b][s]

    result = {
        "description": "greedy generation of data/tiny by HF transformers with its KV cache; "
        "made by tools/generate_reference.py",
        "settings": {
            "prompt_source": os.path.relpath(a.corpus),
            "prompt_bytes": PROMPT_BYTES,
            "max_new_tokens": NEW_TOKENS,
            "do_sample": False,
            "use_cache": True,
            "dtype": "float32",
            "attn_implementation": "eager",
            "tf32": False,
            "device": a.device,
        },
        "prompts": prompts,
        "tokens": tokens,
        "margins": margins,
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "cuda": torch.version.cuda,
            "device_name": torch.cuda.get_device_name() if a.device.startswith("cuda") else platform.processor(),
        },
    }
    path = a.out or os.path.join(a.model, "generate_reference.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    for p, t in zip(prompts, tokens):
        print(repr(bytes(p["ids"]).decode("utf-8", "replace")), "->", repr(bytes(t).decode("utf-8", "replace")))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
