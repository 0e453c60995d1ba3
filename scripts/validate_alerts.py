#!/usr/bin/env python3
"""Checks alerts against docs/alert.schema.json with the jsonschema package (the
reference implementation of JSON Schema in Python), formats included.
  validate_alerts.py alerts.jsonl [more.jsonl ...]     (- reads standard input)
Exit 0 when every line is a valid alert and there is at least one; else 1,
with the first errors (file:line: path: message)."""
import json
import sys
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent.parent / "docs/alert.schema.json"


def no_duplicates(pairs):
    # json.loads keeps the last of a repeated key; consumers differ, so an alert must have none.
    keys = [k for k, _ in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"a key appears more than once in an object: {', '.join(repeated)}")
    return dict(pairs)


def main(paths):
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    total = bad = 0
    for path in paths:
        stream = sys.stdin.buffer if path == "-" else open(path, "rb")
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            total += 1
            try:
                doc = json.loads(line.decode("utf-8"), object_pairs_hook=no_duplicates)
            except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ones
                bad += 1
                print(f"{path}:{number}: not JSON: {e}", file=sys.stderr)
                continue
            for error in validator.iter_errors(doc):
                bad += 1
                if bad <= 20:
                    where = "/".join(str(p) for p in error.absolute_path) or "(the document)"
                    print(f"{path}:{number}: {where}: {error.message[:300]}", file=sys.stderr)
    if total == 0:
        print("no alerts to check", file=sys.stderr)
        return 1
    print(f"{total} alerts, {bad} schema errors")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["-"]))
