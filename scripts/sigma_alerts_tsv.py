#!/usr/bin/env python3
"""socstream's Sigma alerts as (event line number, rule id) pairs, sorted and
tab-separated, the form scripts/sigma_oracle.py writes, for sigma_compare.py.

    sigma_alerts_tsv.py alerts.jsonl events.jsonl > ours.tsv

An alert names its event by the byte offset of its line (socstream.source.offset);
this maps offsets back to 0-based line numbers of the events file."""
import json
import sys


def main() -> int:
    alerts_path, events_path = sys.argv[1], sys.argv[2]
    line_of, offset = {}, 0
    with open(events_path, "rb") as f:
        for n, line in enumerate(f):
            line_of[offset] = n
            offset += len(line)
    pairs = set()
    with open(alerts_path, encoding="utf-8") as f:
        for text in f:
            alert = json.loads(text)
            line = line_of[alert["socstream"]["source"]["offset"]]
            for rule in alert["socstream"].get("rules", []):
                pairs.add((line, rule["id"]))
    for line, rule in sorted(pairs):
        print(f"{line}\t{rule}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
