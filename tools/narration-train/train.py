#!/usr/bin/env python3
"""Fine-tunes Vigil's default model with a LoRA adapter on facts -> alert pairs and writes the
adapter as a GGUF file that Vigil's engine (and llama.cpp) loads at run time.

    python train.py --model ../../models/SmolLM2-135M-Instruct.Q4_1.gguf \
        --pairs ../../sensors/narration/train.jsonl \
        --out ../../models/vigil-narration-lora.gguf

Each pair is one JSON object per line with at least `system`, `user` and `reference`. The
training text is the model's ChatML rendering
`<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n{reference}<|im_end|>`
with the loss on the reference tokens and the closing `<|im_end|>` only.

Deterministic: a fixed seed, a fixed order and a fixed thread count; the same inputs, PyTorch
version and CPU give the same file. A development tool only: the agent never runs Python.
"""

import argparse
import hashlib
import json
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from lora_model import TARGETS, Llama, Tokenizer, chat_prefix


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="the base GGUF file (as provisioned)")
    p.add_argument("--pairs", required=True, help="JSONL of {system, user, reference, ...}")
    p.add_argument("--out", required=True, help="the adapter GGUF to write (and <out>.sha256)")
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--first-layer", type=int, default=14,
                   help="adapt blocks from this one to the last (the blocks below run without gradients: faster)")
    p.add_argument("--targets", default=",".join(TARGETS), help="matrices to adapt, comma-separated")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=4, help="sequences per step, grouped by length")
    p.add_argument("--max-len", type=int, default=320, help="longest sequence in tokens (longer pairs are skipped)")
    p.add_argument("--max-pairs", type=int, default=0, help="use at most this many pairs, spread over kinds (0: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dtype", choices=["f16", "f32"], default="f16", help="tensor type of the adapter file")
    p.add_argument("--check", type=int, default=3, help="print greedy outputs for this many pairs at the end")
    return p.parse_args()


def load_pairs(path, limit, seed):
    pairs = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    for i, p in enumerate(pairs):
        for key in ("system", "user", "reference"):
            if not isinstance(p.get(key), str):
                sys.exit(f"{path}:{i + 1}: '{key}' is missing or not a string")
    if limit and len(pairs) > limit:
        # Spread over (kind, stage): round-robin through the groups, each in a seeded order.
        rng = random.Random(seed)
        groups = {}
        for p in pairs:
            groups.setdefault((str(p.get("kind")), str(p.get("stage"))), []).append(p)
        queues = [rng.sample(g, len(g)) for _, g in sorted(groups.items())]
        chosen = []
        while len(chosen) < limit:
            for q in queues:
                if q and len(chosen) < limit:
                    chosen.append(q.pop())
        pairs = chosen
    return pairs


def encode(tok, pair):
    prompt = tok.encode(chat_prefix(pair["system"], pair["user"]))
    answer = tok.encode(pair["reference"], special=False) + [tok.im_end]
    return prompt, answer


def batches(examples, size, rng):
    """Groups of `size` examples of similar length, in a seeded order."""
    by_length = sorted(range(len(examples)), key=lambda i: len(examples[i][0]) + len(examples[i][1]))
    groups = [by_length[i:i + size] for i in range(0, len(by_length), size)]
    rng.shuffle(groups)
    return groups


def step_loss(model, examples, group):
    """Mean cross-entropy over the answer tokens of the group's sequences. Their common prefix
    (the shared system turn) is computed once for the group."""
    seqs = [examples[i][0] + examples[i][1] for i in group]
    starts = [len(examples[i][0]) for i in group]
    p = 0
    while p < min(starts) - 1 and all(s[p] == seqs[0][p] for s in seqs):
        p += 1
    n = max(len(s) for s in seqs) - p
    ids = torch.zeros(len(group), n, dtype=torch.long)
    labels = torch.full((len(group), n), -100, dtype=torch.long)
    for row, (seq, start) in enumerate(zip(seqs, starts)):
        ids[row, :len(seq) - p] = torch.tensor(seq[p:])
        # position t predicts token t + 1: label the positions before each answer token
        labels[row, start - 1 - p:len(seq) - 1 - p] = torch.tensor(seq[start:])
    # Right padding: causal attention never looks at later (padding) positions.
    hidden = model.hidden_shared(torch.tensor(seqs[0][:p]), ids)
    mask = labels >= 0
    logits = model.logits(hidden[mask])
    return F.cross_entropy(logits, labels[mask])


def write_adapter(model, path, dtype, alpha):
    import gguf

    writer = gguf.GGUFWriter(path, arch=model.config.arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    writer.add_string("general.name", "vigil-narration-lora")
    for name, array in model.adapter_tensors():
        writer.add_tensor(name, array.astype(np.float16 if dtype == "f16" else np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    with open(path + ".sha256", "w") as f:
        f.write(f"{digest}  {path.rsplit('/', 1)[-1]}\n")
    return digest


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    tok = Tokenizer(args.model)
    targets = [t for t in args.targets.split(",") if t]
    model = Llama(args.model, rank=args.rank, alpha=args.alpha, targets=targets, seed=args.seed,
                  first_layer=args.first_layer)
    pairs = load_pairs(args.pairs, args.max_pairs, args.seed)
    examples = [encode(tok, p) for p in pairs]
    kept = [e for e in examples if len(e[0]) + len(e[1]) <= args.max_len]
    print(f"model loaded in {time.time() - t0:.0f} s; {len(kept)} of {len(examples)} pairs fit in {args.max_len} tokens; "
          f"rank {args.rank}, alpha {args.alpha}, blocks {args.first_layer}..{model.config.blocks - 1}, {','.join(targets)}",
          flush=True)
    if not kept:
        sys.exit("no pair fits --max-len")

    rng = random.Random(args.seed)
    params = model.lora_parameters()
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.0)
    plan = [g for _ in range(args.epochs) for g in batches(kept, args.batch, rng)]
    warmup = max(1, len(plan) // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * max(0.05, 1 - s / len(plan)))
    t1 = time.time()
    model.train()
    for s, group in enumerate(plan):
        loss = step_loss(model, kept, group)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if s % 5 == 0 or s == len(plan) - 1:
            el = time.time() - t1
            print(f"step {s + 1}/{len(plan)} loss {loss.item():.3f} elapsed {el:.0f} s "
                  f"(about {el / (s + 1) * (len(plan) - s - 1):.0f} s left)", flush=True)
    train_seconds = time.time() - t1

    digest = write_adapter(model, args.out, args.dtype, args.alpha)
    print(f"wrote {args.out} sha256 {digest}; training {train_seconds:.0f} s, total {time.time() - t0:.0f} s", flush=True)

    if args.check:
        # Greedy outputs with the adapter exactly as written (F16 rounding included), to compare
        # with `vigil generate --adapter`.
        model.load_adapter(args.out)
        model.eval()
        for pair in pairs[:args.check]:
            prompt, _ = encode(tok, pair)
            out = model.greedy(prompt, 60, stop_id=tok.im_end)
            print(json.dumps({"user": pair["user"], "greedy": tok.decode(out), "ids": out}), flush=True)


if __name__ == "__main__":
    main()
