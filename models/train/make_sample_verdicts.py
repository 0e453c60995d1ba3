#!/usr/bin/env python3
"""The bundled classifier's probabilities for every query value of the bundled
sample, computed by PyTorch with Hugging Face's BertTokenizer: the oracle of the
default pipeline's end-to-end test (rules, then the model, then alerts).

    $(scripts/python_env.sh) models/train/make_sample_verdicts.py
Writes tests/data/sample_verdicts.jsonl: {"offset": byte offset of the line,
"values": [[p_label...] per non-empty decoded query value]} per line.
Values are split and decoded as the engine's query_values + url_decode
transforms do: '&'-separated, after the first '=', '+' as space, %XX as a byte.
A value longer than max_len tokens is scored as the engine scores it (and as
make_classifier_golden.py does): windows of max_len - 2 word pieces
overlapping by half, the value taking its window least likely normal.
"""
import json
import os
import urllib.parse

import torch

import windowed

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
    model, tok, max_len = windowed.load(MODEL)
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
    for i in range(0, len(texts), 32):
        probs += windowed.score(model, tok, max_len, texts[i : i + 32])
    with open(OUT, "w") as out:
        for off, at, n in rows:
            out.write(json.dumps({"offset": off, "values": [[round(p, 6) for p in probs[k]] for k in range(at, at + n)]}) + "\n")
    print(f"{len(rows)} lines, {len(texts)} values -> {OUT}")


if __name__ == "__main__":
    main()
