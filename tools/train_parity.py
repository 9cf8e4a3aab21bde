#!/usr/bin/env python3
"""train_parity.py — the PyTorch side of lowbit's training parity run (issue #12, done-when #1).

Trains the embedded model's architecture (make_config() of tools/train_tiny.py) from
scratch exactly as train_tiny.py does — seed 1234 initialisation, batch starts drawn with
torch.randint(..., generator=gen) from the same seed, batch 128 × seq 256, linear warm-up
200 steps to lr 3e-3 then cosine to 0.1·lr at step 2000, AdamW betas (0.9, 0.95) eps 1e-8,
weight decay 0.1 on rank ≥ 2 parameters, gradient clipping 1.0 — but in strict f32 (TF32
off, eager attention) so that lowbit can be compared with it, and logs the loss of every
step. Run on a CUDA machine from the repository root:

    PYTHONUNBUFFERED=1 python3 tools/train_parity.py --out $OUT/parity --steps 2000

Writes to --out:
    init/config.json, init/model.safetensors   the initial weights (HF names, tied embeddings)
    starts.json       {"batch", "seq_len", "steps", "starts": [[128 ints] per step]}
    torch_curve.json  {"step", "lr", "loss", "eval_step", "eval_nll", "seconds",
                       "step1_row_loss" (mean loss of each row of the first batch), ...}
Then `deno run -A tools/train_parity.ts --dir $OUT/parity` trains lowbit on the same
weights and batches and writes lowbit_curve.json and the comparison.
"""

import argparse
import json
import math
import os
import platform
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
import transformers
from transformers import LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_tiny import SEQ_LEN, make_config, nll_sum, windows  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--corpus", default="data/corpus")
    ap.add_argument("--steps", type=int, default=2000, help="steps to run")
    ap.add_argument("--schedule-steps", type=int, default=2000, help="total steps of the cosine")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-windows", type=int, default=64, help="validation windows scored (0: all)")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True, warn_only=True)

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def read(name):
        with open(os.path.join(args.corpus, name), "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)

    train = read("train.txt")
    valid = read("valid.txt")
    train_gpu = train.to(dev)
    valid_wins = windows(valid)
    if args.eval_windows:
        valid_wins = valid_wins[: args.eval_windows]
    valid_wins = valid_wins.to(dev)

    config = make_config()
    # Same construction order as train_tiny.py: seeds, then the model, then the generator.
    model = LlamaForCausalLM._from_config(config, attn_implementation="eager", dtype=torch.float32).to(dev)
    init_dir = os.path.join(args.out, "init")
    model.save_pretrained(init_dir, safe_serialization=True)
    gc_path = os.path.join(init_dir, "generation_config.json")
    if os.path.exists(gc_path):
        os.remove(gc_path)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda",
    )

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = min(1.0, (step - args.warmup) / max(1, args.schedule_steps - args.warmup))
        lo = args.lr * args.min_lr_ratio
        return lo + 0.5 * (args.lr - lo) * (1 + math.cos(math.pi * p))

    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    # train_tiny.py draws one randint per step from this generator and nothing else: drawing
    # them all first gives the same numbers.
    all_starts = [
        torch.randint(0, train_gpu.numel() - SEQ_LEN - 1, (args.batch,), device=dev, generator=gen)
        for _ in range(args.steps)
    ]
    with open(os.path.join(args.out, "starts.json"), "w") as f:
        json.dump({"batch": args.batch, "seq_len": SEQ_LEN, "steps": args.steps, "seed": args.seed,
                   "starts": [s.tolist() for s in all_starts]}, f)
    offs_base = torch.arange(SEQ_LEN + 1, device=dev)

    curve = {"step": [], "lr": [], "loss": [], "eval_step": [], "eval_nll": [], "seconds": []}
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        seq = train_gpu[all_starts[step][:, None] + offs_base].long()
        x, y = seq[:, :-1], seq[:, 1:]
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
        if step == 0:  # per-row losses of the first batch on the initial weights (notebook 20's live check)
            with torch.no_grad():
                rows = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1), reduction="none")
                curve["step1_row_loss"] = rows.view(args.batch, -1).mean(1).tolist()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        curve["step"].append(step + 1)
        curve["lr"].append(lr_at(step))
        curve["loss"].append(loss.item())
        curve["seconds"].append(time.time() - t0)
        if (step + 1) % args.eval_every == 0 or step + 1 == args.steps:
            model.eval()
            s, n = nll_sum(model, valid_wins)
            model.train()
            curve["eval_step"].append(step + 1)
            curve["eval_nll"].append(s / n)
            print(f"step {step + 1:5d} lr {lr_at(step):.2e} loss {loss.item():.4f} valid_nll {s / n:.4f} "
                  f"{time.time() - t0:.1f}s", flush=True)
    curve.update({
        "device": torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu",
        "precision": "f32, TF32 off, eager attention",
        "eval_windows": int(valid_wins.shape[0]),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "args": vars(args),
    })
    with open(os.path.join(args.out, "torch_curve.json"), "w") as f:
        json.dump(curve, f, indent=1)
    print(f"wrote {args.out}: {args.steps} steps in {time.time() - t0:.1f}s", flush=True)


if __name__ == "__main__":
    main()
