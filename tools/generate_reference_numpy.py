#!/usr/bin/env python3
"""generate_reference_numpy.py — greedy generation of the embedded model without torch.

The numpy-only counterpart of tools/generate_reference.py: the same 3 prompts
(32 bytes of data/corpus/valid.txt at the same offsets), 48 greedy tokens each,
but every step is a full float64 recompute over the growing sequence with the
independent numpy forward of tools/check_tiny.py (no cache at all), so it checks
lowbit's cached decoding against a different implementation and precision.
Writes data/tiny/generate_reference_numpy.json in the same format (prompts,
tokens, margins = top-1 minus top-2 logit per step, settings, versions).

    python3 tools/generate_reference_numpy.py [data/tiny]
"""

import json
import os
import platform
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_tiny import forward, read_safetensors  # noqa: E402
from generate_reference import NEW_TOKENS, OFFSETS, PROMPT_BYTES  # noqa: E402


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "data/tiny"
    c = json.load(open(os.path.join(d, "config.json")))
    w, _, _ = read_safetensors(os.path.join(d, "model.safetensors"))
    valid = open("data/corpus/valid.txt", "rb").read()
    prompts = [{"byte_offset": o, "ids": list(valid[o : o + PROMPT_BYTES])} for o in OFFSETS]
    tokens, margins = [], []
    for p in prompts:
        seq, gen, marg = list(p["ids"]), [], []
        for _ in range(NEW_TOKENS):
            last = forward(w, c, np.array(seq))[-1]
            order = np.argsort(-last, kind="stable")  # ties: the lower index first, as argmax
            gen.append(int(order[0]))
            marg.append(float(last[order[0]] - last[order[1]]))
            seq.append(int(order[0]))
        tokens.append(gen)
        margins.append(marg)
        print(repr(bytes(p["ids"]).decode("utf-8", "replace")), "->", repr(bytes(gen).decode("utf-8", "replace")))
    result = {
        "description": "greedy generation of data/tiny by a float64 numpy full recompute per step "
        "(no cache); made by tools/generate_reference_numpy.py",
        "settings": {
            "prompt_source": "data/corpus/valid.txt",
            "prompt_bytes": PROMPT_BYTES,
            "max_new_tokens": NEW_TOKENS,
            "do_sample": False,
            "use_cache": False,
            "dtype": "float64",
        },
        "prompts": prompts,
        "tokens": tokens,
        "margins": margins,
        "versions": {"python": platform.python_version(), "numpy": np.__version__},
    }
    path = os.path.join(d, "generate_reference_numpy.json")
    with open(path + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
