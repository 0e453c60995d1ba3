#!/usr/bin/env python3
"""Generates analysts' verdicts ({"text", "label", "analyst"} JSON lines) for
the online classifier of config/online-feedback.yaml: labelled HTTP parameter
values of HttpParamsDataset (tests/data/http_params/train.csv), preferring
values that samples/web-access.jsonl does not carry, so that a model trained
on them is tested on texts it has not seen: every normal and SQL injection
verdict is such a value; the data set has too few XSS, path traversal and
command injection values for that, and those classes take sample values too.

The bundled file (config/samples/web-verdicts.jsonl, for the cases in
config/cases/online-feedback.yaml) is made with the defaults:
    scripts/gen_web_verdicts.py
Deterministic for a given --seed. Standard library only.
"""
import argparse
import csv
import json
import os
import random
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Past the classifier's min_updates (1000), in roughly the data set's mix but
# with every rare class present enough to be learnt.
DEFAULT_MIX = {"norm": 700, "sqli": 350, "xss": 100, "path-traversal": 50, "cmdi": 30}


def sample_values(path):
    values = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            query = json.loads(line).get("url", {}).get("query", "")
            for _, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
                values.add(value)
    return values


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=os.path.join(ROOT, "tests", "data", "http_params", "train.csv"))
    ap.add_argument("--sample", default=os.path.join(ROOT, "config", "samples", "web-access.jsonl"))
    ap.add_argument("--out", default=os.path.join(ROOT, "config", "samples", "web-verdicts.jsonl"))
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args()

    seen = sample_values(args.sample)
    unseen = {k: [] for k in DEFAULT_MIX}
    also = {k: [] for k in DEFAULT_MIX}
    with open(args.csv, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            kind, text = row["attack_type"], row["payload"]
            if kind in unseen and text.strip():
                (also if text in seen else unseen)[kind].append(text)
    picked = {k: (unseen[k] + also[k])[:n] for k, n in DEFAULT_MIX.items()}
    for kind, rows in picked.items():
        if len(rows) < DEFAULT_MIX[kind]:
            raise SystemExit(f"only {len(rows)} {kind} values not in the sample; wanted {DEFAULT_MIX[kind]}")
    verdicts = [(text, kind) for kind, rows in picked.items() for text in rows]
    random.Random(args.seed).shuffle(verdicts)
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        for text, kind in verdicts:
            out.write(json.dumps({"text": text, "label": kind, "analyst": "sample"}, ensure_ascii=False) + "\n")
    print(f"{args.out}: {len(verdicts)} verdicts")


if __name__ == "__main__":
    main()
