#!/usr/bin/env python3
"""Measures a rules file against the labelled HTTP parameter values.

Python's `re` stands in for RE2 here (the rules keep to the syntax both share),
so the figures are an estimate; the engine's own counts are checked by
tests/e2e. Usage: scripts/eval_rules.py [RULES] [CSV]
"""
import collections
import csv
import re
import sys

import yaml  # PyYAML

rules_path = sys.argv[1] if len(sys.argv) > 1 else "config/rules/web.yaml"
csv_path = sys.argv[2] if len(sys.argv) > 2 else "../shared/data/http_params/train.csv"
rules = yaml.safe_load(open(rules_path))["rules"]
compiled = []
for r in rules:
    p = r["pattern"]
    flags = 0
    if p.startswith("(?i)"):
        p, flags = p[4:], re.I
    compiled.append((r["id"], re.compile(p, flags)))

rows = list(csv.DictReader(open(csv_path, newline="")))
per_class = collections.Counter()
hit_class = collections.Counter()
rule_hits = collections.defaultdict(collections.Counter)
misses = collections.defaultdict(list)
for row in rows:
    text, cls = row["payload"], row["attack_type"]
    per_class[cls] += 1
    hit = False
    for rid, rx in compiled:
        if rx.search(text):
            rule_hits[rid][cls] += 1
            hit = True
    if hit:
        hit_class[cls] += 1
    elif cls != "norm":
        misses[cls].append(text)

attacks = sum(v for k, v in per_class.items() if k != "norm")
caught = sum(v for k, v in hit_class.items() if k != "norm")
print(f"{'class':16} {'rows':>6} {'flagged':>8} {'rate':>7}")
for cls in sorted(per_class):
    print(f"{cls:16} {per_class[cls]:6} {hit_class[cls]:8} {hit_class[cls] / per_class[cls]:7.2%}")
print(f"attack recall {caught / attacks:.2%}  false-positive rate {hit_class['norm'] / per_class['norm']:.2%}")
print("\nrule hits by class:")
for rid, c in rule_hits.items():
    print(f"  {rid:26} " + " ".join(f"{k}={v}" for k, v in sorted(c.items())))
if "-v" in sys.argv:
    for cls, xs in misses.items():
        print(f"\nmissed {cls} ({len(xs)}):")
        for x in xs[:15]:
            print("   ", repr(x)[:140])
