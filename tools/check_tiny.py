#!/usr/bin/env python3
"""check_tiny.py — check data/tiny/ without torch or transformers (needs numpy only).

Parses the safetensors files by hand (8-byte little-endian header length, JSON
header, raw little-endian data), validates names/dtypes/shapes/offsets against
config.json, then runs an independent float64 numpy forward of the Llama
architecture (RMSNorm, rotate-half RoPE, GQA, SwiGLU, tied head) and compares
it with the logits transformers stored in reference_logits.safetensors and with
the perplexity in reference.json.

    python3 tools/check_tiny.py [data/tiny]
"""

import json
import math
import os
import struct
import sys

import numpy as np

DTYPES = {"F32": np.float32, "I32": np.int32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    assert 0 < n <= 100_000_000 and 8 + n <= len(blob), f"{path}: bad header size {n}"
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None)
    data = blob[8 + n :]
    spans = []
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        dt = DTYPES[h["dtype"]]
        assert 0 <= a <= b <= len(data), f"{name}: offsets out of bounds"
        assert (b - a) == int(np.prod(h["shape"], dtype=np.int64)) * np.dtype(dt).itemsize, f"{name}: size mismatch"
        spans.append((a, b, name))
        out[name] = np.frombuffer(data[a:b], dtype=np.dtype(dt).newbyteorder("<")).reshape(h["shape"])
    spans.sort()
    for (a0, b0, n0), (a1, b1, n1) in zip(spans, spans[1:]):
        assert b0 <= a1, f"{n0} overlaps {n1}"
    assert spans[0][0] == 0 and spans[-1][1] == len(data), "data not fully covered"
    return out, meta, {k: (v["dtype"], v["shape"]) for k, v in header.items()}


def expected_shapes(c):
    h, i, hd = c["hidden_size"], c["intermediate_size"], c["head_dim"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    s = {"model.embed_tokens.weight": [c["vocab_size"], h], "model.norm.weight": [h]}
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        s.update({
            p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
            p + "self_attn.q_proj.weight": [q, h], p + "self_attn.k_proj.weight": [kv, h],
            p + "self_attn.v_proj.weight": [kv, h], p + "self_attn.o_proj.weight": [h, q],
            p + "mlp.gate_proj.weight": [i, h], p + "mlp.up_proj.weight": [i, h],
            p + "mlp.down_proj.weight": [h, i],
        })
    return s


def forward(w, c, ids):
    """Logits [T, vocab] for one sequence of byte ids, float64."""
    W = {k: v.astype(np.float64) for k, v in w.items()}
    eps = c["rms_norm_eps"]
    theta = c.get("rope_theta") or c["rope_parameters"]["rope_theta"]
    nh, nkv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    T = len(ids)

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    inv = 1.0 / theta ** (np.arange(0, hd, 2) / hd)
    ang = np.arange(T)[:, None] * inv[None, :]
    cos = np.concatenate([np.cos(ang)] * 2, -1)
    sin = np.concatenate([np.sin(ang)] * 2, -1)

    def rope(x):  # x [heads, T, hd]; rotate-half convention (HF Llama)
        x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
        return x * cos + np.concatenate([-x2, x1], -1) * sin

    x = W["model.embed_tokens.weight"][ids]
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for l in range(c["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms(x, W[p + "input_layernorm.weight"])
        q = (h @ W[p + "self_attn.q_proj.weight"].T).reshape(T, nh, hd).transpose(1, 0, 2)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, hd).transpose(1, 0, 2)
        q, k = rope(q), rope(k)
        rep = nh // nkv  # query head j uses kv head j // rep
        k, v = np.repeat(k, rep, 0), np.repeat(v, rep, 0)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd) + mask
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        o = (s @ v).transpose(1, 0, 2).reshape(T, nh * hd)
        x = x + o @ W[p + "self_attn.o_proj.weight"].T
        h = rms(x, W[p + "post_attention_layernorm.weight"])
        g = h @ W[p + "mlp.gate_proj.weight"].T
        u = h @ W[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * u) @ W[p + "mlp.down_proj.weight"].T
    x = rms(x, W["model.norm.weight"])
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return x @ head.T


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "data/tiny"
    c = json.load(open(os.path.join(d, "config.json")))
    ref = json.load(open(os.path.join(d, "reference.json")))
    w, meta, hdr = read_safetensors(os.path.join(d, "model.safetensors"))
    exp = expected_shapes(c)
    assert set(hdr) == set(exp), f"names differ: {set(hdr) ^ set(exp)}"
    for k, (dt, shape) in hdr.items():
        assert dt == "F32" and shape == exp[k], f"{k}: {dt} {shape}, expected F32 {exp[k]}"
    n_params = sum(v.size for v in w.values())
    print(f"model.safetensors: {len(w)} tensors, {n_params} parameters, metadata {meta}")
    assert n_params == ref["model"]["parameters"]

    r, _, rh = read_safetensors(os.path.join(d, "reference_logits.safetensors"))
    assert rh["input_ids"] == ("I32", [2, 64]) and rh["logits"] == ("F32", [2, 64, 256]), rh
    valid = open("data/corpus/valid.txt", "rb").read()
    for b, inp in enumerate(ref["reference_logits"]["inputs"]):
        o = inp["byte_offset"]
        assert list(valid[o : o + 64]) == inp["ids"] == r["input_ids"][b].tolist()
        lg = forward(w, c, np.array(inp["ids"]))
        err = np.abs(lg - r["logits"][b]).max()
        print(f"reference row {b} (valid.txt offset {o}): max |numpy f64 - transformers f32| = {err:.2e}")
        assert err < 1e-3

    pp = ref["perplexity_protocol"]
    L = pp["seq_len"]
    head = valid[:4096]
    tot, n = 0.0, 0
    for s in range(0, len(head) - L + 1, pp["stride"]):
        win = np.frombuffer(head[s : s + L], dtype=np.uint8).astype(np.int64)
        lg = forward(w, c, win)
        lse = np.log(np.exp(lg - lg.max(-1, keepdims=True)).sum(-1)) + lg.max(-1)
        tot += (lse[:-1] - lg[np.arange(L - 1), win[1:]]).sum()
        n += L - 1
    p = math.exp(tot / n)
    want = ref["perplexity"]["valid_first_4096_bytes"]
    print(f"valid first 4096 bytes: {n} predictions, ppl numpy {p:.6f}, transformers {want['ppl']:.6f}")
    assert n == want["tokens_scored"] and abs(p - want["ppl"]) < 1e-4
    print("ok")


if __name__ == "__main__":
    main()
