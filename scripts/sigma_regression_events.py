#!/usr/bin/env python3
"""SigmaHQ's regression events as one JSON-lines file, and the check that each
fires the rule its info.yml names.

    # each regression_data/**/*.json holds one or more pretty-printed JSON documents
    python scripts/sigma_regression_events.py build ../shared/data/sigma/regression/regression_data \
        --out regression.jsonl --expected regression_expected.tsv
    # after sigma_oracle.py (or the operator) wrote matches.tsv for regression.jsonl:
    python scripts/sigma_regression_events.py check regression_expected.tsv matches.tsv \
        [--rule-errors errors.tsv] [--stats stats.json] [--markdown out.md]

build: every document, minified (key order, duplicate keys and number text as
in the file), one a line, files in sorted path order; the expected TSV has one
line per (line, rule id named in info.yml's rule_metadata[].id, source file,
the match_count info.yml gives for that file: how many of its events the rule
must fire on).
check: how many expected (line, rule) pairs the matches hold; for each that is
missing, whether the rule was refused or skipped (from --rule-errors, --stats)
and which other rules fired on that event. Exit 0 (it reports, it does not judge).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml


class Pairs(list):
    pass


class Raw(str):
    pass


DECODER = json.JSONDecoder(object_pairs_hook=Pairs, parse_int=Raw, parse_float=Raw, parse_constant=Raw)


def minify(v) -> str:
    if isinstance(v, Pairs):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + minify(x) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(minify(x) for x in v) + "]"
    if isinstance(v, Raw):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def documents(text: str):
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n\ufeff":
            i += 1
        if i >= n:
            return
        value, i = DECODER.raw_decode(text, i)
        yield value


def build(args) -> int:
    root = Path(args.root)
    out = open(args.out, "w", encoding="utf-8")
    exp = open(args.expected, "w", encoding="utf-8")
    line = 0
    n_files = 0
    for info in sorted(root.rglob("info.yml")):
        meta = yaml.safe_load(info.read_text(encoding="utf-8")) or {}
        ids = [m.get("id") for m in meta.get("rule_metadata") or [] if m.get("id")]
        counts = {Path(t.get("path", "")).stem: t.get("match_count") for t in meta.get("regression_tests_info") or []}
        for f in sorted(info.parent.glob("*.json")):
            n_files += 1
            for doc in documents(f.read_text(encoding="utf-8")):
                out.write(minify(doc) + "\n")
                for rid in ids:
                    mc = counts.get(f.stem, "")
                    exp.write(f"{line}\t{rid}\t{f.relative_to(root)}\t{'' if mc is None else mc}\n")
                line += 1
    out.close()
    exp.close()
    print(f"{line} events from {n_files} files -> {args.out}; expectations -> {args.expected}", file=sys.stderr)
    return 0


def read_tsv(path, ncols=2):
    rows = []
    with open(path, encoding="utf-8") as f:
        for l in f:
            l = l.rstrip("\n")
            if l:
                rows.append(l.split("\t"))
    return rows


def check(args) -> int:
    expected = read_tsv(args.expected)
    matches = defaultdict(set)
    for row in read_tsv(args.matches):
        matches[int(row[0])].add(row[1])
    errors = {}
    if args.stats:
        with open(args.stats, encoding="utf-8") as f:
            for rid, why in (json.load(f).get("skipped_rules") or {}).items():
                errors[rid] = f"skipped: {why}"
    if args.rule_errors:
        for row in read_tsv(args.rule_errors):
            if row and row[0]:
                errors[row[0]] = f"refused: {row[2]}: {row[3] if len(row) > 3 else ''}"
    pairs = defaultdict(list)  # rule -> [(line, file)]
    want = {}
    for row in expected:
        line, rid, src = row[:3]
        pairs[rid].append((int(line), src))
        if len(row) > 3 and row[3]:
            want[rid] = int(row[3])
    hit_rules, miss, count_off = [], [], []
    n_pairs = n_hit = 0
    for rid, occ in sorted(pairs.items()):
        got = [l for l, _ in occ if rid in matches.get(l, ())]
        n_pairs += len(occ)
        n_hit += len(got)
        if got:
            hit_rules.append(rid)
            if rid in want and len(got) != want[rid]:
                count_off.append((rid, occ[0][1], len(got), want[rid], len(occ)))
        else:
            others = sorted({r for l, _ in occ for r in matches.get(l, ())})
            miss.append((rid, occ, errors.get(rid, ""), others))
    lines = [
        f"regression: {len(pairs)} rules named, {len(hit_rules)} fire on at least one of their events; "
        f"{n_hit} of {n_pairs} (event, named rule) pairs match",
    ]
    for rid, occ, err, others in miss:
        lines.append(
            f"  MISS {rid} {occ[0][1]} ({len(occ)} events, lines {','.join(str(l) for l, _ in occ[:5])})"
            + (f" — {err}" if err else "")
            + (f"; other rules fired: {', '.join(others[:5])}" if others else "")
        )
    for rid, src, got, w, n in count_off:
        lines.append(f"  COUNT {rid} {src}: fires on {got} of its {n} events, info.yml's match_count is {w}")
    n_exact = sum(1 for rid in hit_rules if rid not in want or rid not in {c[0] for c in count_off})
    lines.insert(1, f"  {n_exact} rules fire on exactly match_count of their events")
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write("| rule | file | events | why |\n|---|---|---|---|\n")
            for rid, occ, err, others in miss:
                f.write(f"| {rid} | {occ[0][1]} | {len(occ)} | {err or 'no match'} |\n")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("root", help="regression_data directory")
    b.add_argument("--out", required=True)
    b.add_argument("--expected", required=True)
    c = sub.add_parser("check")
    c.add_argument("expected")
    c.add_argument("matches")
    c.add_argument("--rule-errors")
    c.add_argument("--stats", help="sigma_oracle.py --stats output: names the rules it skipped")
    c.add_argument("--markdown")
    args = ap.parse_args(argv)
    return build(args) if args.cmd == "build" else check(args)


if __name__ == "__main__":
    sys.exit(main())
