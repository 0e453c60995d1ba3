#!/usr/bin/env python3
"""Reference predictions of the bundled classifier, for the engine's test: the
TorchScript file run by PyTorch with Hugging Face's BertTokenizer, batches
padded to their longest sequence as the engine pads them.

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
    texts = [r["payload"] for r in rng.sample(rows, 240)] + ["", "é 中文 😀", "a" * 500]
    with open(OUT, "w", encoding="utf-8") as out, torch.no_grad():
        for i in range(0, len(texts), 16):
            batch = texts[i : i + 16]
            enc = tok(batch, truncation=True, max_length=max_len, padding="longest", return_tensors="pt")
            probs = torch.softmax(model(enc["input_ids"], enc["attention_mask"]), -1)
            out.write(json.dumps({"texts": batch, "probs": probs.tolist()}, ensure_ascii=False) + "\n")
    print(f"{len(texts)} texts -> {OUT}")


if __name__ == "__main__":
    main()
