#!/usr/bin/env python3
"""Web detection on the bench/web sets: socstream's rules, model and cascade
modes (run by the engine itself, build/socstream, on topologies in
bench/web/topologies/), and the anchors (bench/web/anchors.py: OWASP CRS at
paranoia 1 and 2, libinjection). Every value enters as `q=<value>` of one
request. Run it inside one cpulock hold (bench/web/detect.sh).

    detect.py tune            choose alone_min_score and fuse_threshold on the tuning sets (protocol, README)
    detect.py run [--json F]  every detector on every set: the tables of bench/RESULTS.md
    options: --socstream BIN (build/socstream), --model DIR, --only NAME,...
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
from weblib import CLASSES, load  # noqa: E402

OUT = os.path.join(ROOT, "bench", "out", "web")
TARGET_FPR = 0.001
# The default rule weights of mode: fuse (operators/transformer.cpp).
WEIGHTS = {"info": 0.1, "low": 0.3, "medium": 0.5, "high": 0.7, "critical": 0.9}


def rows():
    """Every row of every set, in the order of the events file."""
    out = []
    for r in load("attacks.csv"):
        out.append({"set": "heldout", "wire": r["wire"], "cls": r["attack_type"], "family": r["family"], "variant": r["variant"]})
    for r in load("inset.csv"):
        out.append({"set": "inset", "wire": r["wire"], "cls": r["attack_type"]})
    for name in ("normal_tune", "normal_test"):
        for r in load(name + ".csv"):
            out.append({"set": name, "wire": r["wire"], "cls": "norm", "category": r["category"]})
    return out


def events_file(all_rows):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "events.jsonl")
    offsets = {}
    with open(path, "wb") as f:
        for i, r in enumerate(all_rows):
            offsets[f.tell()] = i
            f.write(json.dumps({"url": {"query": "q=" + r["wire"]}}).encode() + b"\n")
    return path, offsets


def engine(args, topology, path, offsets, env=None, keep=False):
    """Runs a topology over the events; returns per row the alert (or None) and the run's seconds."""
    out = os.path.join(OUT, os.path.basename(topology) + ".alerts.jsonl")
    if os.path.exists(out):
        os.remove(out)
    e = dict(os.environ, SOCSTREAM_INPUT=path, SOCSTREAM_OUTPUT=out, SOCSTREAM_DLQ=os.path.join(OUT, "dlq.jsonl"))
    if args.model:
        e["SOCSTREAM_MODEL"] = os.path.abspath(args.model)
    e.update(env or {})
    t0 = time.time()
    subprocess.run([args.socstream, "run", topology, "--log-level", "warn"], env=e, check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.time() - t0
    flags = [None] * len(offsets)
    with open(out, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            flags[offsets[a["socstream"]["source"]["offset"]]] = a if keep else True
    return flags, seconds


def anchor(name, all_rows):
    p = subprocess.run([sys.executable, os.path.join(HERE, "anchors.py"), name],
                       input="".join(r["wire"] + "\n" for r in all_rows), capture_output=True, text=True, check=True)
    return [line == "1" for line in p.stdout.split("\n")[: len(all_rows)]]


def rate(flags, idx):
    return sum(1 for i in idx if flags[i]) / max(len(idx), 1), len(idx)


def tune(args):
    all_rows = rows()
    path, offsets = events_file(all_rows)
    probe, _ = engine(args, os.path.join(HERE, "topologies", "probe.yaml"), path, offsets, keep=True)
    views = []
    for r, a in zip(all_rows, probe):
        m = a["socstream"]["model"]
        views.append({"rules": [x["severity"] for x in a["socstream"]["rules"]], "label": m["label"], "score": m["score"],
                      "suspicion": a["socstream"]["fields"]["model_fused_score"], **r})
    tune_norm = [i for i, v in enumerate(views) if v["set"] == "normal_tune"]
    inset_att = [i for i, v in enumerate(views) if v["set"] == "inset" and v["cls"] != "norm"]
    inset_norm = [i for i, v in enumerate(views) if v["set"] == "inset" and v["cls"] == "norm"]

    def report(name, flag, setting):
        fpr, n = rate(flag, tune_norm)
        rec, _ = rate(flag, inset_att)
        fi, _ = rate(flag, inset_norm)
        return {"setting": setting, "fpr_tune": fpr, "recall_inset": rec, "fpr_inset": fi, "name": name}

    results = {}
    rules_only = [bool(v["rules"]) for v in views]
    results["rules"] = report("rules", rules_only, None)
    grid = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999]
    sweep = []
    for t in grid:
        f = [bool(v["rules"]) or (v["label"] != "norm" and v["score"] >= t) for v in views]
        sweep.append(report("augment", f, t))
    ok = [s for s in sweep if s["fpr_tune"] <= TARGET_FPR]
    results["augment"] = max(ok, key=lambda s: (s["recall_inset"], -s["setting"])) if ok else min(sweep, key=lambda s: s["fpr_tune"])
    results["augment_sweep"] = sweep
    sweep = []
    for t in [0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999]:
        f = []
        for v in views:
            w = max([WEIGHTS[s] for s in v["rules"]], default=0.0)
            f.append(1 - (1 - v["suspicion"]) * (1 - w) >= t)
        sweep.append(report("fuse", f, t))
    ok = [s for s in sweep if s["fpr_tune"] <= TARGET_FPR]
    results["fuse"] = max(ok, key=lambda s: (s["recall_inset"], -s["setting"])) if ok else min(sweep, key=lambda s: s["fpr_tune"])
    results["fuse_sweep"] = sweep
    for k in ("rules", "augment", "fuse"):
        s = results[k]
        print(f"{k:8} setting {s['setting']}: inset recall {s['recall_inset']:.4f}, FPR normal_tune {s['fpr_tune']:.4%}, "
              f"inset normal {s['fpr_inset']:.4%}")
    for k in ("augment_sweep", "fuse_sweep"):
        print(k + ": " + ", ".join(f"{s['setting']}: {s['recall_inset']:.4f}/{s['fpr_tune']:.3%}" for s in results[k]))
    with open(os.path.join(OUT, "tuned.json"), "w") as f:
        json.dump({"augment": results["augment"]["setting"], "fuse": results["fuse"]["setting"], "detail": results}, f, indent=1)
    print("written", os.path.join(OUT, "tuned.json"))


def table(args):
    all_rows = rows()
    path, offsets = events_file(all_rows)
    tuned_path = os.path.join(OUT, "tuned.json")
    tuned = json.load(open(tuned_path)) if os.path.exists(tuned_path) else {"augment": 0.9, "fuse": 0.5}
    topo = lambda n: os.path.join(HERE, "topologies", n + ".yaml")
    detectors = [
        ("socstream rules", lambda: engine(args, topo("rules"), path, offsets)),
        ("socstream model", lambda: engine(args, topo("model"), path, offsets)),
        ("cascade: confirm", lambda: engine(args, topo("confirm"), path, offsets)),
        (f"cascade: augment ({tuned['augment']})", lambda: engine(args, topo("augment"), path, offsets,
                                                                  {"SOCSTREAM_ALONE_MIN_SCORE": str(tuned["augment"])})),
        (f"cascade: fuse ({tuned['fuse']})", lambda: engine(args, topo("fuse"), path, offsets,
                                                            {"SOCSTREAM_FUSE_THRESHOLD": str(tuned["fuse"])})),
        ("config/default.yaml", lambda: engine_default(args, path, offsets)),
        ("OWASP CRS 3.3.4 PL1", lambda: (anchor("crs1", all_rows), None)),
        ("OWASP CRS 3.3.4 PL2", lambda: (anchor("crs2", all_rows), None)),
        ("libinjection (libmodsecurity 3.0.9)", lambda: (anchor("libinjection", all_rows), None)),
    ]
    if args.only:
        detectors = [d for d in detectors if any(o in d[0] for o in args.only.split(","))]
    results = {}
    for name, run in detectors:
        t0 = time.time()
        flags, _ = run()
        results[name] = flags
        print(f"# {name}: {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    held = [i for i, r in enumerate(all_rows) if r["set"] == "heldout"]
    by_cls = {c: [i for i in held if all_rows[i]["cls"] == c] for c in CLASSES}
    test_norm = [i for i, r in enumerate(all_rows) if r["set"] == "normal_test"]
    in_norm = [i for i, r in enumerate(all_rows) if r["set"] == "inset" and r["cls"] == "norm"]
    in_att = [i for i, r in enumerate(all_rows) if r["set"] == "inset" and r["cls"] != "norm"]
    pct = lambda v: f"{100 * v:.1f}%"
    print("\n| detector | " + " | ".join(f"{c} ({len(by_cls[c])})" for c in CLASSES) +
          f" | held-out, all ({len(held)}) | FPR, generated normal ({len(test_norm)}) | FPR, http_params normal ({len(in_norm)}) | recall, http_params attacks ({len(in_att)}) |")
    print("|---|" + "---:|" * (len(CLASSES) + 4))
    summary = {}
    for name, f in results.items():
        cells = [pct(rate(f, by_cls[c])[0]) for c in CLASSES]
        fpr = rate(f, test_norm)[0]
        summary[name] = {"classes": {c: rate(f, by_cls[c])[0] for c in CLASSES}, "heldout": rate(f, held)[0],
                         "fpr_test": fpr, "fpr_inset": rate(f, in_norm)[0], "recall_inset": rate(f, in_att)[0]}
        print(f"| {name} | " + " | ".join(cells) + f" | {pct(rate(f, held)[0])} | {100 * fpr:.2f}% ({sum(1 for i in test_norm if f[i])}) | "
              f"{100 * rate(f, in_norm)[0]:.2f}% | {100 * rate(f, in_att)[0]:.2f}% |")
    families = sorted({(all_rows[i]["family"], all_rows[i]["cls"]) for i in held})
    print("\nRecall per held-out family and class:\n")
    print("| detector | " + " | ".join(f"{fam} {c} ({sum(1 for i in held if (all_rows[i]['family'], all_rows[i]['cls']) == (fam, c))})"
                                       for fam, c in families) + " |")
    print("|---|" + "---:|" * len(families))
    for name, f in results.items():
        print(f"| {name} | " + " | ".join(pct(rate(f, [i for i in held if (all_rows[i]["family"], all_rows[i]["cls"]) == k])[0])
                                         for k in families) + " |")
    variants = ["plain", "double-url", "mixed-case", "whitespace"]
    print("\nRecall per encoding (all held-out families):\n")
    print("| detector | " + " | ".join(f"{v} ({sum(1 for i in held if all_rows[i]['variant'] == v)})" for v in variants) + " |")
    print("|---|" + "---:|" * len(variants))
    for name, f in results.items():
        print(f"| {name} | " + " | ".join(pct(rate(f, [i for i in held if all_rows[i]["variant"] == v])[0]) for v in variants) + " |")
    cats = collections.Counter(all_rows[i]["category"] for i in test_norm)
    print("\nFalse positives on the generated normal values, by category (count):\n")
    print("| detector | " + " | ".join(f"{c} ({n})" for c, n in sorted(cats.items())) + " |")
    print("|---|" + "---:|" * len(cats))
    for name, f in results.items():
        print(f"| {name} | " + " | ".join(str(sum(1 for i in test_norm if f[i] and all_rows[i]["category"] == c))
                                         for c in sorted(cats)) + " |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(summary, fh, indent=1)
        fp = {name: [all_rows[i]["wire"] for i in test_norm if f[i]][:50] for name, f in results.items()}
        with open(args.json + ".fp.json", "w") as fh:
            json.dump(fp, fh, indent=1)


def engine_default(args, path, offsets):
    """config/default.yaml as bundled (alerts on stdout)."""
    out = os.path.join(OUT, "default.alerts.jsonl")
    e = dict(os.environ, SOCSTREAM_INPUT=path, SOCSTREAM_DLQ=os.path.join(OUT, "dlq.jsonl"))
    with open(out, "wb") as f:
        subprocess.run([args.socstream, "run", os.path.join(ROOT, "config", "default.yaml"), "--log-level", "warn"],
                       env=e, check=True, stdout=f)
    flags = [None] * len(offsets)
    with open(out, encoding="utf-8") as f:
        for line in f:
            flags[offsets[json.loads(line)["socstream"]["source"]["offset"]]] = True
    return flags, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["tune", "run"])
    ap.add_argument("--socstream", default=os.path.join(ROOT, "build", "socstream"))
    ap.add_argument("--model")
    ap.add_argument("--only")
    ap.add_argument("--json")
    args = ap.parse_args()
    tune(args) if args.what == "tune" else table(args)


if __name__ == "__main__":
    main()
