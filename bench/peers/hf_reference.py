#!/usr/bin/env python3
"""hf_reference.py — make a randomly initialised Llama-family checkpoint with
transformers and its reference activations, for `bench/scale.ts`.

Runs on the GPU server (its python3 has torch, transformers, safetensors).
Writes into OUT:
  config.json, model*.safetensors (+ index)   the checkpoint, in --dtype (bf16 like
                                               the real Llama-3.2 release, or f32)
  reference.safetensors                        ids [1, T] (I32), logits [1, T, V] and
                                               hidden.{0..L} [T, H] (F32), computed in f32
                                               (CPU, eager attention) from the stored weights
                                               upcast to f32, so both sides see the same numbers

    python3 bench/peers/hf_reference.py --shape llama-3.2-1b --out /tmp/m1b [--tokens 128]
"""
import argparse
import json
import os
import time

import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {
    # Llama-3.2-1B's config.json (the public release's numbers).
    "llama-3.2-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192,
                         num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                         head_dim=64, rope_theta=500000.0, max_position_embeddings=131072,
                         rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                       "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                         tie_word_embeddings=True, rms_norm_eps=1e-5),
    # Llama-3-8B's config.json.
    "llama-3-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336,
                       num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=8,
                       head_dim=128, rope_theta=500000.0, max_position_embeddings=8192,
                       tie_word_embeddings=False, rms_norm_eps=1e-5),
    # A small one with the 1B's structure, for a quick check.
    "small": dict(vocab_size=4096, hidden_size=256, intermediate_size=704, num_hidden_layers=4,
                  num_attention_heads=8, num_key_value_heads=2, head_dim=32, rope_theta=500000.0,
                  max_position_embeddings=4096,
                  rope_scaling={"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
                                "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
                  tie_word_embeddings=True, rms_norm_eps=1e-5),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shard-gb", type=float, default=1.0)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--layers", type=int, help="override num_hidden_layers")
    ap.add_argument("--vocab", type=int, help="override vocab_size")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.manual_seed(a.seed)
    shape = dict(SHAPES[a.shape])
    if a.layers:
        shape["num_hidden_layers"] = a.layers
    if a.vocab:
        shape["vocab_size"] = a.vocab
    cfg = LlamaConfig(**shape, torch_dtype="bfloat16" if a.dtype == "bf16" else "float32",
                      attn_implementation="eager")
    t0 = time.time()
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = LlamaForCausalLM(cfg)
    model = model.to(torch.bfloat16 if a.dtype == "bf16" else torch.float32)
    os.makedirs(a.out, exist_ok=True)
    model.save_pretrained(a.out, safe_serialization=True, max_shard_size=f"{int(a.shard_gb * 1000)}MB")
    print(f"saved {a.shape} ({sum(p.numel() for p in model.parameters()) / 1e9:.3f}B params, {a.dtype}) "
          f"in {time.time() - t0:.1f} s")
    if a.no_reference:
        return
    # Load the saved checkpoint afresh in f32, as a user of transformers would: casting the
    # in-memory model back with .float() would keep RoPE's inv_freq buffer rounded to bf16.
    del model
    model = LlamaForCausalLM.from_pretrained(a.out, torch_dtype=torch.float32,
                                             attn_implementation="eager")
    model = model.to("cuda" if torch.cuda.is_available() else "cpu").eval()
    g = torch.Generator().manual_seed(a.seed + 1)
    ids = torch.randint(0, cfg.vocab_size, (1, a.tokens), generator=g)
    with torch.no_grad():
        out = model(ids.to(model.device), output_hidden_states=True)
    tensors = {"ids": ids.to(torch.int32).contiguous(), "logits": out.logits.float().cpu().contiguous()}
    for i, h in enumerate(out.hidden_states):
        tensors[f"hidden.{i}"] = h[0].float().cpu().contiguous()
    save_file(tensors, os.path.join(a.out, "reference.safetensors"))
    print(f"reference: {a.tokens} tokens, max |logit| {out.logits.abs().max().item():.4f}, "
          f"device {model.device}, torch {torch.__version__}, "
          f"tf32 matmul {torch.backends.cuda.matmul.allow_tf32}")


if __name__ == "__main__":
    main()
