"""The online-learning baseline: River's LogisticRegression (FTRL-Proximal,
one-vs-rest over the five labels) on the same stream, with the same features
as socstream's online model: character 3- and 4-grams of the lowercased text
between start and end markers, and its words (runs of letters and digits).
River keeps features as dict keys, so it has no hash collisions.

Reads the stream bench/model/online_bench --write-stream wrote (one JSON
object per line: text, label), in that order, and prints the same key=value
lines as online_bench:
  updates_per_s         featurise + predict + learn (progressive validation)
  predictions_per_s     featurise + predict, with the trained model
  progressive_accuracy_last_half
Usage: river_online.py STREAM.jsonl [--limit N] [--optimizer ftrl|sgd]
  ftrl (the default) is socstream's algorithm; sgd is River's default
  optimizer, its fastest.
"""
import argparse
import json
import re
import time

from river import linear_model, multiclass, optim

WORD = re.compile(r"[a-z0-9\x80-\U0010ffff]+")


def features(text, lo=3, hi=4, max_chars=1024):
    t = text[:max_chars]
    lowered = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in t)
    marked = "\x02" + lowered + "\x03"
    x = {}
    for n in range(lo, hi + 1):
        for i in range(len(marked) - n + 1):
            k = "c:" + marked[i:i + n]
            x[k] = x.get(k, 0) + 1
    for w in WORD.findall(lowered):
        k = "w:" + w
        x[k] = x.get(k, 0) + 1
    return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("stream")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--optimizer", choices=["ftrl", "sgd"], default="ftrl")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(args.stream, encoding="utf-8")]
    if args.limit:
        rows = rows[: args.limit]

    opt = optim.FTRLProximal(alpha=0.1, beta=1.0, l1=0.0, l2=0.0) if args.optimizer == "ftrl" else optim.SGD(0.01)
    model = multiclass.OneVsRestClassifier(linear_model.LogisticRegression(optimizer=opt))
    late = late_right = 0
    t0 = time.perf_counter()
    for i, r in enumerate(rows):
        x = features(r["text"])
        y_pred = model.predict_one(x)
        model.learn_one(x, r["label"])
        if i >= len(rows) // 2:
            late += 1
            late_right += y_pred == r["label"]
    update_secs = time.perf_counter() - t0

    t0 = time.perf_counter()
    for r in rows:
        model.predict_one(features(r["text"]))
    predict_secs = time.perf_counter() - t0

    print(f"events={len(rows)}")
    print(f"progressive_accuracy_last_half={late_right / late:.4f}")
    print(f"updates_per_s={len(rows) / update_secs:.0f}")
    print(f"predictions_per_s={len(rows) / predict_secs:.0f}")


if __name__ == "__main__":
    main()
