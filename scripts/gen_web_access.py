#!/usr/bin/env python3
"""Generates web-server access events (JSON lines, ECS-style fields) whose query
values are real labelled HTTP parameter values, normal and attacks.

The default sample (config/samples/web-access.jsonl) is made with the defaults:
    scripts/gen_web_access.py
Benchmarks scale it up with --count; the share of each class stays the same.
A second file (--truth) gives each line's class, for measuring detections.
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

# Rows per class in the default 5,000-event sample: every command injection and
# path traversal row, a slice of XSS and SQL injection, the rest normal traffic.
DEFAULT_MIX = {"cmdi": 59, "path-traversal": 193, "xss": 300, "sqli": 1000}
PATHS = {
    "norm": ["/tienda1/publico/anadir.jsp", "/tienda1/publico/registro.jsp", "/tienda1/publico/autenticar.jsp",
             "/tienda1/publico/pagar.jsp", "/tienda1/miembros/editar.jsp", "/search", "/account/profile"],
    "attack": ["/tienda1/publico/anadir.jsp", "/tienda1/publico/autenticar.jsp", "/search", "/index.php",
               "/cgi-bin/view", "/download"],
}
PARAMS = ["id", "q", "nombre", "apellidos", "email", "direccion", "ciudad", "cp", "login", "pwd", "file", "page",
          "cantidad", "precio", "B1", "ntc", "provincia", "dni"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]
ATTACK_AGENTS = AGENTS + ["sqlmap/1.7.2#stable (https://sqlmap.org)", "Mozilla/5.0 (compatible; Nmap Scripting Engine)",
                          "python-requests/2.31.0", "curl/8.5.0"]


def load(csv_path):
    by_class = {}
    if not os.path.exists(csv_path):
        return load_bundled()
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_class.setdefault(row["attack_type"], []).append(row["payload"])
    return by_class


def load_bundled():
    """Without the data set (no ../shared), the payloads of the bundled sample:
    the first query value of each event, with its class from the truth file."""
    sample = os.path.join(ROOT, "config", "samples", "web-access.jsonl")
    truth = os.path.join(ROOT, "config", "samples", "web-access.truth.csv")
    by_class = {}
    with open(sample, encoding="utf-8") as s, open(truth, newline="", encoding="utf-8") as t:
        for line, row in zip(s, csv.DictReader(t)):
            first = json.loads(line)["url"]["query"].split("&")[0]
            by_class.setdefault(row["class"], []).append(urllib.parse.unquote_plus(first.partition("=")[2]))
    return by_class


def plan(by_class, count, rng):
    """Which (class, payload) goes on each line: the default mix scaled to count."""
    base = sum(DEFAULT_MIX.values())
    attacks_total = round(count * base / 5000)
    picks = []
    for cls, n in DEFAULT_MIX.items():
        want = round(n * attacks_total / base)
        pool = by_class[cls]
        # Without replacement while the pool lasts, so the default sample has no repeats.
        picks += [(cls, p) for p in (rng.sample(pool, want) if want <= len(pool) else rng.choices(pool, k=want))]
    normal = count - len(picks)
    pool = by_class["norm"]
    picks += [("norm", p) for p in (rng.sample(pool, normal) if normal <= len(pool) else rng.choices(pool, k=normal))]
    rng.shuffle(picks)
    return picks


def event(i, cls, payload, rng, start):
    attack = cls != "norm"
    param = rng.choice(PARAMS)
    extra = [("lang", rng.choice(["es", "en", "ca"]))] if rng.random() < 0.5 else []
    query = urllib.parse.urlencode([(param, payload)] + extra)
    ts = start + i * 0.0137 + rng.random() * 0.01
    secs = int(ts)
    millis = int((ts - secs) * 1000)
    hh, mm, ss = (secs // 3600) % 24, (secs // 60) % 60, secs % 60
    ip = f"{rng.choice([203, 198, 192])}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    status = rng.choice([200, 200, 200, 302, 404, 500]) if attack else rng.choice([200] * 18 + [302, 404])
    return {
        "@timestamp": f"2026-11-20T{hh:02d}:{mm:02d}:{ss:02d}.{millis:03d}Z",
        "event": {"dataset": "nginx.access", "kind": "event"},
        "source": {"ip": ip},
        "http": {"request": {"method": rng.choice(["GET", "GET", "GET", "POST"])},
                 "response": {"status_code": status, "body": {"bytes": rng.randint(200, 48000)}}},
        "url": {"domain": "shop.example.com", "path": rng.choice(PATHS["attack" if attack else "norm"]),
                "query": query},
        "user_agent": {"original": rng.choice(ATTACK_AGENTS if attack else AGENTS)},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", default=os.path.join(ROOT, "..", "shared", "data", "http_params", "train.csv"))
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--out", default=os.path.join(ROOT, "config", "samples", "web-access.jsonl"))
    ap.add_argument("--truth", default=None, help="default: OUT with .truth.csv instead of .jsonl")
    args = ap.parse_args()
    truth = args.truth or (args.out[:-len(".jsonl")] if args.out.endswith(".jsonl") else args.out) + ".truth.csv"
    rng = random.Random(args.seed)
    picks = plan(load(args.csv), args.count, rng)
    with open(args.out, "w", encoding="utf-8") as out, open(truth, "w", encoding="utf-8", newline="") as t:
        w = csv.writer(t)
        w.writerow(["line", "class"])
        for i, (cls, payload) in enumerate(picks):
            out.write(json.dumps(event(i, cls, payload, rng, 36000.0), ensure_ascii=False, separators=(",", ":")) + "\n")
            w.writerow([i + 1, cls])


if __name__ == "__main__":
    main()
