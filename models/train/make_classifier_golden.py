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

import torch

import windowed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(ROOT, "models", "web-attack-classifier")
DATA = os.path.join(ROOT, "..", "shared", "data", "http_params", "train.csv")
OUT = os.path.join(ROOT, "tests", "data", "classifier_golden.jsonl")


def main():
    torch.set_num_threads(1)
    model, tok, max_len = windowed.load(MODEL)
    with open(DATA, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    rng = random.Random(7)
    sample = rng.sample(rows, 240)
    texts = [r["payload"] for r in sample] + ["", "é 中文 😀", "a" * 500]
    # Payloads behind padding, past the first window.
    attacks = [r["payload"] for r in sample if r["label"] != "norm"][:8]
    pads = ["x ", "hello world ", "a=1&", ", "]
    texts += [pads[i % len(pads)] * (40 + 15 * i) + a for i, a in enumerate(attacks)]
    with open(OUT, "w", encoding="utf-8") as out:
        for i in range(0, len(texts), 16):
            batch = texts[i : i + 16]
            out.write(json.dumps({"texts": batch, "probs": windowed.score(model, tok, max_len, batch)},
                                 ensure_ascii=False) + "\n")
    print(f"{len(texts)} texts -> {OUT}")


if __name__ == "__main__":
    main()
