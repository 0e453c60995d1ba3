#!/usr/bin/env python3
"""Trim the MITRE ATT&CK tables to what an alert needs.

    scripts/gen_attack_tables.py [SOURCE_DIR]   (default: ../shared/data/attack)

Reads SOURCE_DIR/tactics.csv (id, name, shortname, description) and
SOURCE_DIR/techniques.csv (id, name, tactics, platforms, url, description),
which already leave out revoked and deprecated objects, and writes
config/attack/tactics.csv (id, shortname, name) and
config/attack/techniques.csv (id, name, tactics). A sub-technique's name is
written as "Parent name: Sub name". Short names are kept as ATT&CK spells them
(x_mitre_shortname, with hyphens: credential-access), which is how Sigma rules
tag tactics (attack.credential-access). Rows keep the source's order. Output:
UTF-8, "\\n" line ends, quoted where needed. Python 3 standard library only.
"""
import csv
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "shared", "data", "attack")
    out = os.path.join(ROOT, "config", "attack")
    os.makedirs(out, exist_ok=True)

    tactics = read(os.path.join(src, "tactics.csv"))
    techniques = read(os.path.join(src, "techniques.csv"))
    for row in tactics + techniques:  # in case a later export carries these columns
        if row.get("revoked", "").lower() == "true" or row.get("deprecated", "").lower() == "true":
            raise SystemExit(f"{row['id']}: revoked/deprecated rows must be filtered first")

    shortnames = set()
    trows = []
    for t in tactics:
        if not re.fullmatch(r"TA\d{4}", t["id"]) or not re.fullmatch(r"[a-z]+(-[a-z]+)*", t["shortname"]):
            raise SystemExit(f"unexpected tactic row: {t}")
        shortnames.add(t["shortname"])
        trows.append([t["id"], t["shortname"], t["name"].strip()])

    names = {t["id"]: t["name"].strip() for t in techniques}
    if len(names) != len(techniques):
        raise SystemExit("duplicate technique ids")
    rows = []
    for t in techniques:
        tid = t["id"]
        if not re.fullmatch(r"T\d{4}(\.\d{3})?", tid):
            raise SystemExit(f"unexpected technique id {tid!r}")
        name = names[tid]
        if "." in tid:
            parent = tid.split(".")[0]
            if parent not in names:
                raise SystemExit(f"{tid}: parent {parent} missing")
            name = f"{names[parent]}: {name}"
        tacts = [x.strip() for x in t["tactics"].split(";") if x.strip()]
        unknown = [x for x in tacts if x not in shortnames]
        if unknown or not tacts:
            raise SystemExit(f"{tid}: tactics {t['tactics']!r} not in tactics.csv")
        rows.append([tid, name, ";".join(tacts)])

    write(os.path.join(out, "tactics.csv"), ["id", "shortname", "name"], trows)
    write(os.path.join(out, "techniques.csv"), ["id", "name", "tactics"], rows)
    print(f"{len(trows)} tactics, {len(rows)} techniques "
          f"({sum('.' in r[0] for r in rows)} sub-techniques) -> {out}")


if __name__ == "__main__":
    main()
