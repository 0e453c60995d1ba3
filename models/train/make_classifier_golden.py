#!/usr/bin/env python3
"""Reference predictions of the bundled classifier, for the engine's test: the
TorchScript file run by PyTorch with Hugging Face's BertTokenizer, batches
padded to their longest sequence as the engine pads them. A text longer than
max_len tokens is scored as the engine scores it: windows of max_len - 2 word
pieces overlapping by half (the last one ending at the text's end), the text
taking the window with the lowest probability of the negative label.

    $(scripts/python_env.sh) models/train/make_classifier_golden.py
Writes tests/data/classifier_golden.jsonl: {"texts": [...], "probs": [[...], ...]} per batch.
"""
import csv
import json
import os
import random
import re

import torch
from transformers import BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(ROOT, "models", "web-attack-classifier")
DATA = os.path.join(ROOT, "..", "shared", "data", "http_params", "train.csv")
OUT = os.path.join(ROOT, "tests", "data", "classifier_golden.jsonl")


def main():
    torch.set_num_threads(1)
    model = torch.jit.load(os.path.join(MODEL, "model.pt")).eval()
    tok = BertTokenizer(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
    # The model's own max_len (its position table's size), as the engine reads it.
    max_len = int(re.search(r"^\s*max_len:\s*(\d+)", open(os.path.join(MODEL, "model.yaml")).read(), re.M).group(1))
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(7)
    sample = rng.sample(rows, 240)
    texts = [r["payload"] for r in sample] + ["", "é 中文 😀", "a" * 500]
    # Payloads behind padding, past the first window.
    attacks = [r["payload"] for r in sample if r["label"] != "norm"][:8]
    pads = ["x ", "hello world ", "a=1&", ", "]
    texts += [pads[i % len(pads)] * (40 + 15 * i) + a for i, a in enumerate(attacks)]
    width = max_len - 2
    with open(OUT, "w", encoding="utf-8") as out, torch.no_grad():
        for i in range(0, len(texts), 16):
            batch = texts[i : i + 16]
            rows, owner = [], []
            for k, t in enumerate(batch):
                ids = tok.convert_tokens_to_ids(tok.tokenize(t))
                starts = [0]
                if len(ids) > width:
                    starts = list(range(0, len(ids) - width, width // 2)) + [len(ids) - width]
                for s in starts:
                    rows.append([tok.cls_token_id] + ids[s : s + width] + [tok.sep_token_id])
                    owner.append(k)
            longest = max(len(r) for r in rows)
            input_ids = torch.tensor([r + [tok.pad_token_id] * (longest - len(r)) for r in rows])
            mask = torch.tensor([[1] * len(r) + [0] * (longest - len(r)) for r in rows])
            probs = torch.softmax(model(input_ids, mask), -1).tolist()
            best = [None] * len(batch)
            for k, p in zip(owner, probs):
                if best[k] is None or p[0] < best[k][0]:  # label 0, norm, is the negative label
                    best[k] = p
            out.write(json.dumps({"texts": batch, "probs": best}, ensure_ascii=False) + "\n")
    print(f"{len(texts)} texts -> {OUT}")


if __name__ == "__main__":
    main()
