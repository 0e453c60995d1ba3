#!/usr/bin/env python3
"""The bundled classifier's probabilities for every query value of the bundled
sample, computed by PyTorch with Hugging Face's BertTokenizer: the oracle of the
default pipeline's end-to-end test (rules, then the model, then alerts).

    $(scripts/python_env.sh) models/train/make_sample_verdicts.py
Writes tests/data/sample_verdicts.jsonl: {"offset": byte offset of the line,
"values": [[p_label...] per non-empty decoded query value]} per line.
Values are split and decoded as the engine's query_values + url_decode
transforms do: '&'-separated, after the first '=', '+' as space, %XX as a byte.
"""
import json
import os
import re
import urllib.parse

import torch
from transformers import BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MODEL = os.path.join(ROOT, "models", "web-attack-classifier")
SAMPLE = os.path.join(ROOT, "config", "samples", "web-access.jsonl")
OUT = os.path.join(ROOT, "tests", "data", "sample_verdicts.jsonl")


def values(query):
    for pair in query.split("&"):
        eq = pair.find("=")
        v = pair if eq < 0 else pair[eq + 1 :]
        v = urllib.parse.unquote_to_bytes(v.replace("+", " ")).decode("utf-8", "replace")
        if v:
            yield v


def main():
    torch.set_num_threads(1)
    model = torch.jit.load(os.path.join(MODEL, "model.pt")).eval()
    tok = BertTokenizer(os.path.join(MODEL, "vocab.txt"), do_lower_case=True)
    max_len = int(re.search(r"^\s*max_len:\s*(\d+)", open(os.path.join(MODEL, "model.yaml")).read(), re.M).group(1))
    rows, texts = [], []
    offset = 0
    with open(SAMPLE, "rb") as f:
        for raw in f:
            q = json.loads(raw)["url"].get("query", "")
            vs = list(values(q))
            rows.append((offset, len(texts), len(vs)))
            texts += vs
            offset += len(raw)
    probs = []
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            enc = tok(texts[i : i + 32], truncation=True, max_length=max_len, padding="longest", return_tensors="pt")
            probs += torch.softmax(model(enc["input_ids"], enc["attention_mask"]), -1).tolist()
    with open(OUT, "w") as out:
        for off, at, n in rows:
            out.write(json.dumps({"offset": off, "values": [[round(p, 6) for p in probs[k]] for k in range(at, at + n)]}) + "\n")
    print(f"{len(rows)} lines, {len(texts)} values -> {OUT}")


if __name__ == "__main__":
    main()
