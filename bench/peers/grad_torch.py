#!/usr/bin/env python3
"""grad_torch.py — PyTorch's whole-model gradient of the embedded model on one
batch, the reference for `bench/grad_check.ts` (issue #12).

Runs on the GPU server (python3 with torch, transformers, safetensors). Loads
data/tiny in f32 with eager attention, takes 2 sequences of 64 bytes of
data/corpus/valid.txt at byte offsets 0 and 10000 (the tokenizer is bytes),
and computes HF's own loss `model(ids, labels=ids).loss`: the mean
cross-entropy of the 2×63 next-byte predictions (position t predicts byte
t+1; the last position of each sequence predicts nothing). Writes OUT
(safetensors): one f32 gradient per `named_parameters()` name (the tied
lm_head appears once, as model.embed_tokens.weight), plus `loss` [1] and
`ids` [2, 64] (I32).

    python3 bench/peers/grad_torch.py --out /tmp/grad_torch.safetensors [--device cuda]
"""
import argparse

import torch
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

SEQ = 64
OFFSETS = (0, 10000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="data/tiny")
    ap.add_argument("--corpus", default="data/corpus/valid.txt")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    data = open(a.corpus, "rb").read()
    ids = torch.tensor([list(data[o:o + SEQ]) for o in OFFSETS], dtype=torch.long)
    model = LlamaForCausalLM.from_pretrained(a.model, torch_dtype=torch.float32,
                                             attn_implementation="eager").to(a.device)
    model.train(False)  # no dropout (the config has none; be explicit)
    out = model(ids.to(a.device), labels=ids.to(a.device))
    out.loss.backward()
    tensors = {n: p.grad.detach().float().cpu().contiguous() for n, p in model.named_parameters()}
    tensors["loss"] = out.loss.detach().float().cpu().reshape(1)
    tensors["ids"] = ids.to(torch.int32)
    save_file(tensors, a.out)
    print(f"loss {out.loss.item():.6f}; {len(tensors) - 2} gradients -> {a.out}")


if __name__ == "__main__":
    main()
