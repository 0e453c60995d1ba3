#!/usr/bin/env python3
"""Hold socstream's Sigma matches against the oracle's (scripts/sigma_oracle.py).

    python scripts/sigma_compare.py ours.tsv oracle.tsv [--rules PATH...] [--events FILE] \
        [--known known.tsv] [--markdown out.md] [--examples 3]

Both files: one `line<TAB>rule id` a match (more columns are ignored; blank
lines and lines starting with # too). Prints the (event, rule) pairs both
found, only ours and only the oracle found, overall and per rule (with the
title when --rules names the rule files), and up to --examples line numbers
of each kind per disagreeing rule; with --events (the JSON lines both ran on)
the example events' fields the rule names, with Channel and EventID.

`--known known.tsv` is the documented table of explained disagreements: one
`rule id<TAB>cause` a line (# comments allowed; `*` as the id explains every
rule). Exit 1 when a rule disagrees and the table does not explain it, else 0.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path


def read_matches(path: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                raise SystemExit(f"{path}:{n}: expected line<TAB>rule id")
            try:
                out[parts[1]].add(int(parts[0]))
            except ValueError:
                raise SystemExit(f"{path}:{n}: {parts[0]!r} is not a line number")
    return out


def read_known(path: str) -> dict[str, str]:
    known = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith("#"):
                continue
            rid, _, cause = line.partition("\t")
            known[rid.strip()] = cause.strip()
    return known


def load_rules(paths: list[str]) -> dict[str, dict]:
    """id -> {title, path, fields}: the detection's field names (modifiers dropped)."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    files = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += [f for f in path.rglob("*") if f.is_file() and f.suffix in (".yml", ".yaml")]
        elif path.is_file():
            files.append(path)
    rules = {}
    for f in sorted(files):
        try:
            docs = list(yaml.load_all(f.read_text(encoding="utf-8"), Loader=loader))
        except Exception:
            continue
        for d in docs:
            if not isinstance(d, dict) or "title" not in d:
                continue
            rid = str(d.get("id") or d.get("name") or f"{f}:{d.get('title')}")
            fields = set()

            def walk(x):
                if isinstance(x, dict):
                    for k, v in x.items():
                        if isinstance(k, str) and k != "condition":
                            name = k.split("|")[0]
                            if name:
                                fields.add(name)
                        walk(v)
                elif isinstance(x, list):
                    for v in x:
                        walk(v)

            det = d.get("detection") or {}
            if isinstance(det, dict):
                for k, v in det.items():
                    if k not in ("condition", "timeframe"):
                        walk(v if isinstance(v, (dict, list)) else None)
            rules[rid] = {"title": str(d.get("title", "")), "path": str(f), "fields": fields}
    return rules


class Events:
    def __init__(self, path: str):
        with open(path, "rb") as f:
            self.lines = f.read().split(b"\n")

    def fields(self, line: int) -> dict:
        try:
            obj = json.loads(self.lines[line].decode("utf-8"))
        except Exception:
            return {}
        out = {}

        def flat(o, prefix):
            for k, v in o.items():
                name = f"{prefix}.{k}" if prefix else k
                if isinstance(v, dict) and v:
                    flat(v, name)
                else:
                    out[name] = v

        if isinstance(obj, dict):
            flat(obj, "")
        return out


def relevant(fields: dict, names: set[str]) -> dict:
    want = set(names) | {"Channel", "EventID"}
    out = {}
    for k, v in fields.items():
        last = re.split(r"[.]", k)[-1]
        if k in want or last in want or (k.endswith("EventID.#text")):
            s = v if isinstance(v, str) else json.dumps(v)
            out[k] = s if len(s) <= 300 else s[:300] + "…"
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("ours")
    ap.add_argument("oracle")
    ap.add_argument("--rules", nargs="+", default=[], help="rule files or directories, for titles and field names")
    ap.add_argument("--events", help="the JSON lines both ran on: show the example events")
    ap.add_argument("--known", help="rule id<TAB>cause: the explained disagreements")
    ap.add_argument("--markdown", help="write the per-rule table as Markdown")
    ap.add_argument("--examples", type=int, default=3)
    ap.add_argument("--all-rules", action="store_true", help="print agreeing rules too (default: only disagreeing)")
    args = ap.parse_args(argv)

    ours, oracle = read_matches(args.ours), read_matches(args.oracle)
    rules = load_rules(args.rules) if args.rules else {}
    known = read_known(args.known) if args.known else {}
    events = Events(args.events) if args.events else None

    rows = []
    tot_both = tot_ours = tot_oracle = 0
    for rid in sorted(set(ours) | set(oracle)):
        a, b = ours.get(rid, set()), oracle.get(rid, set())
        both, only_a, only_b = a & b, a - b, b - a
        tot_both += len(both)
        tot_ours += len(only_a)
        tot_oracle += len(only_b)
        rows.append((rid, len(both), sorted(only_a), sorted(only_b)))
    disagree = [r for r in rows if r[2] or r[3]]
    unexplained = [r for r in disagree if r[0] not in known and "*" not in known]

    out = []
    out.append(
        f"pairs: both {tot_both}, only ours {tot_ours}, only oracle {tot_oracle}; "
        f"rules: {len(rows)} matched by either, {len(rows) - len(disagree)} agree, {len(disagree)} disagree "
        f"({len(disagree) - len(unexplained)} explained by --known, {len(unexplained)} unexplained)"
    )
    shown = rows if args.all_rules else disagree
    if shown:
        out.append(f"{'rule id':36}  {'both':>6} {'ours':>6} {'oracle':>6}  title")
    for rid, nb, oa, ob in sorted(shown, key=lambda r: (-(len(r[2]) + len(r[3])), -r[1], r[0])):
        title = rules.get(rid, {}).get("title", "")
        out.append(f"{rid:36}  {nb:6} {len(oa):6} {len(ob):6}  {title}")
        if rid in known:
            out.append(f"    known: {known[rid]}")
        for label, lines in (("only ours", oa), ("only oracle", ob)):
            if not lines:
                continue
            ex = lines[: args.examples]
            out.append(f"    {label}: lines {', '.join(map(str, ex))}" + (" …" if len(lines) > len(ex) else ""))
            if events:
                names = rules.get(rid, {}).get("fields", set())
                for l in ex:
                    out.append(f"      {l}: {json.dumps(relevant(events.fields(l), names), ensure_ascii=False)}")
    print("\n".join(out))

    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(f"{out[0]}\n\n")
            f.write("| rule id | title | both | only ours | only oracle | examples (ours / oracle) | known cause |\n")
            f.write("|---|---|---:|---:|---:|---|---|\n")
            for rid, nb, oa, ob in sorted(shown, key=lambda r: (-(len(r[2]) + len(r[3])), -r[1], r[0])):
                title = rules.get(rid, {}).get("title", "").replace("|", "\\|")
                ex = f"{', '.join(map(str, oa[:args.examples])) or '—'} / {', '.join(map(str, ob[:args.examples])) or '—'}"
                cause = known.get(rid, known.get("*", "")).replace("|", "\\|")
                f.write(f"| {rid} | {title} | {nb} | {len(oa)} | {len(ob)} | {ex} | {cause} |\n")
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
