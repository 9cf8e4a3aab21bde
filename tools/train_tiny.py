#!/usr/bin/env python3
"""train_tiny.py — train lowbit's embedded default model and export its reference data.

A byte-level Llama (vocab 256: token id = UTF-8 byte value; no special tokens,
no BOS) trained with Hugging Face transformers' LlamaForCausalLM on
data/corpus/train.txt (see tools/make_corpus.sh), with early stopping on
data/corpus/valid.txt. Run on a CUDA machine from the repository root:

    PYTHONUNBUFFERED=1 python3 tools/train_tiny.py --out $OUT/tiny

Writes to --out:
    model.safetensors            f32 weights, HF names (tied: no lm_head.weight)
    config.json                  as written by save_pretrained
    reference_logits.safetensors "input_ids" I32 [2,64], "logits" F32 [2,64,256]
    reference.json               inputs, perplexity protocol and results, training facts
    train_log.txt                the training log

Perplexity protocol (used for every number this script reports): the byte
string is cut into consecutive non-overlapping windows of SEQ_LEN=256 bytes
starting at offset 0 (stride 256); a trailing partial window is dropped. Each
window is an independent sequence (positions 0..255, no BOS, no cache). Within
a window, the logits at position t predict byte t+1, so a window scores 255
predictions; the first byte of each window is never scored. Perplexity =
exp(mean natural-log NLL over all scored predictions).
"""

import argparse
import json
import math
import os
import platform
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
import transformers
import safetensors
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

SEQ_LEN = 256
REF_OFFSETS = (0, 10000)
REF_LEN = 64
REF_PPL_BYTES = 4096


def log(msg, fh):
    print(msg)
    fh.write(msg + "\n")
    fh.flush()


def make_config():
    return LlamaConfig(
        vocab_size=256,
        hidden_size=128,
        intermediate_size=384,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        hidden_act="silu",
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        rope_scaling=None,
        attention_bias=False,
        attention_dropout=0.0,
        mlp_bias=False,
        tie_word_embeddings=True,
        initializer_range=0.02,
        bos_token_id=None,
        eos_token_id=None,
        pad_token_id=None,
        use_cache=False,
    )


def windows(data: torch.Tensor, seq_len: int = SEQ_LEN) -> torch.Tensor:
    """Non-overlapping windows [n, seq_len] from offset 0; partial tail dropped."""
    n = data.numel() // seq_len
    return data[: n * seq_len].view(n, seq_len).long()


@torch.no_grad()
def nll_sum(model, wins: torch.Tensor, batch: int = 256):
    """Sum of NLL (nats) and number of scored predictions under the protocol above."""
    total = 0.0
    count = 0
    for i in range(0, wins.shape[0], batch):
        x = wins[i : i + batch]
        logits = model(input_ids=x).logits.float()
        loss = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum"
        )
        total += loss.item()
        count += x.shape[0] * (x.shape[1] - 1)
    return total, count


def ppl(model, wins):
    s, n = nll_sum(model, wins)
    return math.exp(s / n), s / n, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--corpus", default="data/corpus")
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--patience", type=int, default=4, help="evals without improvement before stopping")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="hard wall-clock budget for the training loop")
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    fh = open(os.path.join(args.out, "train_log.txt"), "w")

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.cuda.manual_seed_all(args.seed)

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    gpu_name = torch.cuda.get_device_name(0) if dev.type == "cuda" else "cpu"
    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "cuda": torch.version.cuda,
    }
    log(f"versions {json.dumps(versions)} device {gpu_name}", fh)

    def read(name):
        with open(os.path.join(args.corpus, name), "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=torch.uint8)

    train = read("train.txt")
    valid = read("valid.txt")
    log(f"corpus train {train.numel()} bytes, valid {valid.numel()} bytes", fh)
    train_gpu = train.to(dev)
    valid_wins = windows(valid).to(dev)
    # Train-set perplexity uses the same protocol on as many windows as the
    # validation set has, taken at evenly spaced offsets across train.txt.
    n_tw = valid_wins.shape[0]
    tstride = (train.numel() - SEQ_LEN) // n_tw
    train_wins = torch.stack([train[i * tstride : i * tstride + SEQ_LEN] for i in range(n_tw)]).long().to(dev)

    config = make_config()
    # Training uses SDPA with TF32 matmuls for speed; all reported numbers are
    # recomputed afterwards in strict f32 with eager attention.
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    model = LlamaForCausalLM._from_config(config, attn_implementation="sdpa", dtype=torch.float32).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"parameters {n_params}", fh)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8, fused=dev.type == "cuda",
    )

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
        lo = args.lr * args.min_lr_ratio
        return lo + 0.5 * (args.lr - lo) * (1 + math.cos(math.pi * p))

    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    offs_base = torch.arange(SEQ_LEN + 1, device=dev)

    best = {"valid_nll": float("inf"), "step": 0}
    best_state = None
    bad_evals = 0
    run_loss = 0.0
    run_n = 0
    last_train_loss = float("nan")
    stopped = "steps"
    steps_done = 0
    t0 = time.time()
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        starts = torch.randint(0, train_gpu.numel() - SEQ_LEN - 1, (args.batch,), device=dev, generator=gen)
        seq = train_gpu[starts[:, None] + offs_base].long()
        x, y = seq[:, :-1], seq[:, 1:]
        logits = model(input_ids=x).logits
        loss = F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        steps_done = step + 1
        run_loss += loss.detach()
        run_n += 1
        if steps_done % args.eval_every == 0 or steps_done == args.steps:
            last_train_loss = (run_loss / run_n).item()
            run_loss, run_n = 0.0, 0
            model.eval()
            vs, vn = nll_sum(model, valid_wins)
            model.train()
            vnll = vs / vn
            el = time.time() - t0
            log(
                f"step {steps_done:6d} lr {lr_at(step):.2e} train_loss {last_train_loss:.4f} "
                f"valid_nll {vnll:.4f} valid_ppl {math.exp(vnll):.3f} elapsed {el:.1f}s",
                fh,
            )
            if vnll < best["valid_nll"] - 1e-4:
                best = {"valid_nll": vnll, "step": steps_done, "train_loss": last_train_loss}
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                bad_evals = 0
            else:
                bad_evals += 1
                if bad_evals >= args.patience:
                    stopped = "early-stop (valid stopped improving)"
                    break
            if el > args.max_seconds:
                stopped = "time budget"
                break
    wall = time.time() - t0
    log(f"training stopped after {steps_done} steps ({stopped}), {wall:.1f}s; best step {best['step']}", fh)

    # ---- export the best checkpoint -------------------------------------------------
    model.load_state_dict(best_state)
    model = model.to("cpu").float()
    model.config.use_cache = False
    model.save_pretrained(args.out, safe_serialization=True)
    gc_path = os.path.join(args.out, "generation_config.json")
    if os.path.exists(gc_path):
        os.remove(gc_path)

    # ---- reference numbers from the saved files, strict f32, eager attention ----------
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ref = LlamaForCausalLM.from_pretrained(args.out, attn_implementation="eager", dtype=torch.float32)
    ref.eval()
    with safetensors.safe_open(os.path.join(args.out, "model.safetensors"), "pt") as st:
        names = sorted(st.keys())
        assert all(st.get_tensor(k).dtype == torch.float32 for k in names)

    ids = torch.stack([valid[o : o + REF_LEN] for o in REF_OFFSETS]).long()
    with torch.no_grad():
        ref_logits = ref(input_ids=ids).logits.float().contiguous()
    save_file(
        {"input_ids": ids.to(torch.int32).contiguous(), "logits": ref_logits},
        os.path.join(args.out, "reference_logits.safetensors"),
        metadata={"format": "pt", "note": "lowbit tiny model reference logits, CPU f32 eager"},
    )
    lp = torch.log_softmax(ref_logits.double(), -1)
    ref_seq_nll = [
        (-lp[b, :-1].gather(-1, ids[b, 1:, None]).mean()).item() for b in range(ids.shape[0])
    ]

    head_wins = windows(valid[:REF_PPL_BYTES])
    p4096_cpu, nll4096_cpu, n4096 = ppl(ref, head_wins)
    p_full_cpu, nll_full_cpu, n_full = ppl(ref, windows(valid))
    p_train_cpu, nll_train_cpu, n_train = ppl(ref, train_wins.cpu())
    ref_gpu = ref.to(dev)
    p4096_gpu, _, _ = ppl(ref_gpu, head_wins.to(dev))
    p_full_gpu, _, _ = ppl(ref_gpu, windows(valid).to(dev))
    log(f"valid ppl first {REF_PPL_BYTES} bytes: cpu {p4096_cpu:.6f} gpu(f32, no tf32) {p4096_gpu:.6f}", fh)
    log(f"valid ppl full: cpu {p_full_cpu:.6f} gpu {p_full_gpu:.6f}; train-sample ppl {p_train_cpu:.6f}", fh)

    reference = {
        "model": {
            "files": ["config.json", "model.safetensors"],
            "tokenizer": "bytes: token id = UTF-8 byte value 0..255; no BOS/EOS/pad, nothing prepended",
            "parameters": n_params,
            "tensor_names": names,
            "tied_embeddings": "lm_head.weight absent from model.safetensors; logits = final_norm(h) @ embed_tokens.weight^T",
        },
        "reference_logits": {
            "file": "reference_logits.safetensors",
            "tensors": {"input_ids": "I32 [2,64]", "logits": "F32 [2,64,256]"},
            "inputs": [
                {"source": "data/corpus/valid.txt", "byte_offset": o, "length": REF_LEN, "ids": ids[i].tolist()}
                for i, o in enumerate(REF_OFFSETS)
            ],
            "how": "each row run as an independent sequence, positions 0..63, no attention mask/padding; "
                   "transformers LlamaForCausalLM.from_pretrained(data/tiny, dtype=float32, "
                   "attn_implementation='eager'), eval mode, on CPU",
            "mean_nll_next_byte": ref_seq_nll,
            "logits_row0_pos0_first8": [round(v, 6) for v in ref_logits[0, 0, :8].tolist()],
            "argmax": ref_logits.argmax(-1).tolist(),
        },
        "perplexity_protocol": {
            "seq_len": SEQ_LEN,
            "stride": SEQ_LEN,
            "windows": "non-overlapping, from byte offset 0; a trailing partial window is dropped",
            "first_token_of_window_scored": False,
            "predictions_per_window": SEQ_LEN - 1,
            "context": "each window is an independent sequence at positions 0..255 (no BOS, no carry-over)",
            "formula": "exp(sum of -ln softmax(logits[t])[byte[t+1]] for t=0..254 over all windows / number of predictions)",
            "dtype": "float32, eager attention, TF32 disabled",
        },
        "perplexity": {
            "valid_first_4096_bytes": {
                "bytes": REF_PPL_BYTES, "windows": head_wins.shape[0], "tokens_scored": n4096,
                "mean_nll": nll4096_cpu, "ppl": p4096_cpu, "ppl_gpu_f32": p4096_gpu,
            },
            "valid_full": {
                "bytes": valid.numel(), "windows": valid.numel() // SEQ_LEN, "tokens_scored": n_full,
                "mean_nll": nll_full_cpu, "ppl": p_full_cpu, "ppl_gpu_f32": p_full_gpu,
            },
            "train_sample": {
                "windows": n_tw, "window_starts": f"i * {tstride} for i in 0..{n_tw - 1} in train.txt",
                "tokens_scored": n_train, "mean_nll": nll_train_cpu, "ppl": p_train_cpu,
            },
        },
        "training": {
            "corpus": {"train_bytes": train.numel(), "valid_bytes": valid.numel()},
            "optimizer": f"AdamW betas (0.9, 0.95) eps 1e-8, weight decay {args.weight_decay} on matrices/embedding only, grad clip 1.0",
            "schedule": f"linear warmup {args.warmup} steps to lr {args.lr:g}, cosine to {args.lr * args.min_lr_ratio:g} at step {args.steps}",
            "batch": args.batch, "seq_len": SEQ_LEN,
            "sampling": "uniformly random 257-byte windows of train.txt (seeded torch generator)",
            "precision": "f32 weights, TF32 matmuls, SDPA attention",
            "planned_steps": args.steps, "steps_run": steps_done, "stopped_by": stopped,
            "exported_step": best["step"],
            "tokens_seen_at_exported_step": best["step"] * args.batch * SEQ_LEN,
            "tokens_seen_total": steps_done * args.batch * SEQ_LEN,
            "train_loss_at_exported_step": best.get("train_loss"),
            "train_loss_final": last_train_loss,
            "train_loss_note": "mean training cross-entropy (nats/byte) over the eval interval ending at that step",
            "valid_nll_at_exported_step_tf32": best["valid_nll"],
            "wall_seconds": round(wall, 1),
            "seed": args.seed,
            "device": gpu_name,
            "versions": versions,
        },
    }
    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
        f.write("\n")
    log("wrote " + ", ".join(sorted(os.listdir(args.out))), fh)
    fh.close()


if __name__ == "__main__":
    main()
