#!/usr/bin/env python3
"""train_torch.py — the PyTorch side of `bench/train.ts`: tokens/s of one
training step (forward, mean next-token cross-entropy via `labels=ids`,
backward through every parameter; no optimizer step) and the peak of
`torch.cuda.max_memory_allocated`, eager f32 (TF32 off), same configs, batch,
sequence length and weight std (0.02) as bench/train.ts; `--checkpoint-layers`
turns on HF's per-layer gradient checkpointing (non-reentrant).

    python3 bench/peers/train_torch.py --config 125m [--batch 8 --seq 256 --steps 10
        --warmup 2] [--checkpoint-layers] [--json OUT.json]
"""
import argparse
import json
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

CONFIGS = {
    "tiny": dict(hidden_size=128, intermediate_size=384, num_hidden_layers=4, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=256, tie_word_embeddings=True),
    "125m": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12,
                 num_attention_heads=12, num_key_value_heads=12, vocab_size=32000,
                 tie_word_embeddings=False),
    "micro": dict(hidden_size=32, intermediate_size=48, num_hidden_layers=1, num_attention_heads=2,
                  num_key_value_heads=1, vocab_size=16, tie_word_embeddings=True),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--checkpoint-layers", action="store_true")
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    dev = "cuda"
    cfg = LlamaConfig(max_position_embeddings=4096, initializer_range=0.02, rms_norm_eps=1e-6,
                      attn_implementation="eager", **CONFIGS[a.config])
    model = LlamaForCausalLM(cfg).to(dev, torch.float32)
    if a.checkpoint_layers:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    gen = torch.Generator(device="cpu").manual_seed(1)

    def step():
        ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), generator=gen).to(dev)
        loss = model(ids, labels=ids).loss
        loss.backward()
        model.zero_grad(set_to_none=True)

    for _ in range(a.warmup):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    r = dict(what="training step throughput (forward + cross-entropy + backward, no optimizer)",
             device=torch.cuda.get_device_name(), config=a.config, params=n_params,
             batch=a.batch, seq=a.seq, steps=a.steps, checkpointLayers=a.checkpoint_layers,
             tokensPerSecond=a.batch * a.seq * a.steps / seconds, secondsPerStep=seconds / a.steps,
             peakAllocatedBytes=torch.cuda.max_memory_allocated())
    print(f"{a.config} ({n_params / 1e6:.1f}M params) batch {a.batch}x{a.seq}, checkpoint "
          f"{a.checkpoint_layers}: {r['tokensPerSecond']:.0f} tokens/s, "
          f"peak {r['peakAllocatedBytes'] / 2**20:.1f} MiB")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(r, f, indent=2)


if __name__ == "__main__":
    main()
