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
    width = max_len - 2
    with torch.no_grad():
        for i in range(0, len(texts), 32):
            batch = texts[i : i + 32]
            windows, owner = [], []
            for k, t in enumerate(batch):
                ids = tok.convert_tokens_to_ids(tok.tokenize(t))
                starts = [0]
                if len(ids) > width:
                    starts = list(range(0, len(ids) - width, width // 2)) + [len(ids) - width]
                for st in starts:
                    windows.append([tok.cls_token_id] + ids[st : st + width] + [tok.sep_token_id])
                    owner.append(k)
            longest = max(len(w) for w in windows)
            input_ids = torch.tensor([w + [tok.pad_token_id] * (longest - len(w)) for w in windows])
            mask = torch.tensor([[1] * len(w) + [0] * (longest - len(w)) for w in windows])
            best = [None] * len(batch)
            for k, p in zip(owner, torch.softmax(model(input_ids, mask), -1).tolist()):
                if best[k] is None or p[0] < best[k][0]:  # label 0, norm, is the negative label
                    best[k] = p
            probs += best
    with open(OUT, "w") as out:
        for off, at, n in rows:
            out.write(json.dumps({"offset": off, "values": [[round(p, 6) for p in probs[k]] for k in range(at, at + n)]}) + "\n")
    print(f"{len(rows)} lines, {len(texts)} values -> {OUT}")


if __name__ == "__main__":
    main()
