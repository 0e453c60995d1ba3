#!/usr/bin/env python3
"""Check scripts/sigma_shapes.py against the Sigma pipelines it inverts.

Independent of the converter's own tables: this reads the pipelines from
config/sigma/pipelines/*.yaml (resolving `base:`), the Windows rules, and the
NXLog datasets, converts sample events with sigma_shapes.convert_event, and
resolves every Sigma field through each YAML pipeline on each shape:

 1. drift: the converter's tables equal the YAML pipelines (fields,
    field_template, timestamp), and the three pipelines share nxlog's log
    sources (the converter relies on that for entry renames);
 2. rules: for every Windows rule, every log-source entry that covers it (entry
    `fields` renames applied, entries whose `unsupported` fields the rule names
    skipped), and sample events of that entry (real NXLog events matching the
    entry's conditions, restricted to the event ids the rule names, plus one
    synthetic event per rule and entry holding every field the rule names), the
    values each Sigma field (and each entry condition field) resolves to in the
    converted event equal those in the NXLog event: MISSING (present in NXLog,
    absent in the shape), SPURIOUS (absent in NXLog, present in the shape: the
    shape's path is filled by another field), DIFFERENT, and the accepted
    differences TEXT (same text, other JSON type: event ids as strings in ECS)
    and ARRAY (one-element array in ECS, as Winlogbeat writes it);
 3. keys: on every real event, every NXLog key is reachable in each shape under
    every Sigma name that reaches it in nxlog, with the same value and type;
 4. timestamps and keyword searches: the shape's timestamp equals nxlog's on
    every event; the keyword rules' keywords (approximate matcher: keywords
    only, * and ? wildcards) hit the same events through each pipeline's
    keyword_fields.

  scripts/sigma_shapes_check.py [--rules DIR ...] [--datasets DIR] [-v]
  scripts/sigma_shapes_check.py --list-fields [N]   # Sigma fields by number of rules, then exit

Takes about 2 minutes on the 64 datasets (one core).

Needs PyYAML (Debian python3-yaml). Exit status 1 when a check fails.
"""

import argparse
import collections
import glob
import io
import json
import os
import re
import sys
import zipfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import sigma_shapes  # noqa: E402

PIPELINE_DIR = os.path.join(ROOT, "config", "sigma", "pipelines")
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
SHAPES = ("evtx_json", "ecs")
HEADER_TEXT_OK = {"ecs": {"winlog.event_id"}}

# --------------------------------------------------------------------------
# Pipelines.


def _canon(x):
    return json.dumps(x, sort_keys=True)


def load_pipeline(name, seen=()):
    path = name if os.path.sep in name or name.endswith(".yaml") else \
        os.path.join(PIPELINE_DIR, name + ".yaml")
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    if doc.get("name") in seen:
        raise SystemExit("base cycle at " + path)
    base = doc.get("base")
    if not base:
        out = dict(doc)
        out["fields"] = dict(doc.get("fields") or {})
        out["logsources"] = list(doc.get("logsources") or [])
        return out
    b = load_pipeline(base, seen + (doc.get("name"),))
    out = dict(b)
    out["fields"] = dict(b["fields"])
    out["fields"].update(doc.get("fields") or {})
    for k in ("name", "description", "field_template", "timestamp", "keyword_fields", "unmapped",
              "strip_spaces"):
        if k in doc:
            out[k] = doc[k]
    # As operators/sigma/pipeline.cpp: an entry restated in the derived pipeline
    # replaces every base entry for the same log source (product, category,
    # service); the derived pipeline's entries come after the base's.
    own = list(doc.get("logsources") or [])
    mine = {_ls_key(e) for e in own}
    out["logsources"] = [e for e in b["logsources"] if _ls_key(e) not in mine] + own
    out.pop("base", None)
    return out


def _ls_key(entry):
    ls = entry.get("logsource") or {}
    return (ls.get("product"), ls.get("category"), ls.get("service"))


def _entry_key(entry):
    return (_canon(entry.get("logsource")), _canon(entry.get("conditions")))


def paths_for(pipe, sigma):
    target = pipe["fields"].get(sigma)
    if target is None:
        return [pipe.get("field_template", "{}").replace("{}", sigma)]
    return list(target) if isinstance(target, list) else [target]


def get_path(ev, path):
    node = ev
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return KeyError
        node = node[part]
    return node


class Flat:
    """An event as the engine sees it: dotted field names in document order
    (arrays are values), the first field of a name wins; with strip_spaces a
    name with spaces also answers for the name without them."""

    def __init__(self, ev):
        self.exact = {}
        self.stripped = {}
        self._n = 0
        self._walk(ev, "")

    def _walk(self, node, prefix):
        for k, v in node.items():
            name = prefix + k
            if isinstance(v, dict) and v:
                self._walk(v, name + ".")
                continue
            self._n += 1
            self.exact.setdefault(name, (self._n, v))
            if " " in name:
                self.stripped.setdefault(name.replace(" ", ""), (self._n, v))

    def get(self, path, strip):
        a = self.exact.get(path)
        b = self.stripped.get(path) if strip else None
        if a is None and b is None:
            return KeyError
        if a is None or (b is not None and b[0] < a[0]):
            return b[1]
        return a[1]


def resolve(pipe, entry, sigma, flat):
    """[(path, value)] present in the event for Sigma field `sigma` under `entry`."""
    names = (entry or {}).get("fields", {}).get(sigma, sigma)
    names = names if isinstance(names, list) else [names]
    strip = bool(pipe.get("strip_spaces"))
    out = []
    for name in names:
        for p in paths_for(pipe, name):
            v = flat.get(p, strip)
            if v is not KeyError:
                out.append((p, v))
    return out


def norm(v):
    """Text form of a value, as the engine compares values."""
    if isinstance(v, list):
        return tuple(norm(x) for x in v)
    if isinstance(v, dict):
        return _canon(v)
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (sigma_shapes.RawInt, sigma_shapes.RawFloat)):
        return v.raw
    return str(v)


def jtype(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def compare(nx, sh, text_ok=()):
    """Kind of difference between resolved value lists nx and sh."""
    if not nx and not sh:
        return "OK"
    if nx and not sh:
        return "MISSING"
    if sh and not nx:
        return "SPURIOUS"
    # Several places holding the same value (Security 4688 keeps CommandLine in
    # winlog.event_data and copies it to process.command_line) match the same.
    a = sorted(set(norm(v) for _, v in nx), key=str)
    b = sorted(set(norm(v) for _, v in sh), key=str)
    if a == b:
        ta = sorted(set(jtype(v) for _, v in nx))
        tb = sorted(set(jtype(v) for _, v in sh))
        if ta == tb:
            return "OK"
        return "TEXT"
    unwrapped = sorted(set(x[0] if isinstance(x, tuple) and len(x) == 1 else x for x in b), key=str)
    if unwrapped == a:
        return "ARRAY"
    return "DIFFERENT"


# --------------------------------------------------------------------------
# Rules.

class Rule:
    def __init__(self, path, doc):
        self.path = path
        self.title = doc.get("title", "?")
        self.id = doc.get("id", "?")
        self.logsource = doc.get("logsource") or {}
        self.fields = set()
        self.keywords = False
        self.eventids = set()
        self.keyword_groups = []  # [(all?, [strings])]
        for name, sel in (doc.get("detection") or {}).items():
            if name in ("condition", "timeframe"):
                continue
            self._walk(sel)

    def _walk(self, sel):
        if isinstance(sel, dict):
            for key, value in sel.items():
                field = str(key).split("|")[0]
                if field == "":
                    self.keywords = True
                    vals = value if isinstance(value, list) else [value]
                    self.keyword_groups.append(("|all" in str(key), [str(v) for v in vals]))
                    continue
                self.fields.add(field)
                if field == "EventID":
                    for v in value if isinstance(value, list) else [value]:
                        try:
                            self.eventids.add(int(v))
                        except (TypeError, ValueError):
                            pass
        elif isinstance(sel, list):
            plain = [str(x) for x in sel if not isinstance(x, dict)]
            for x in sel:
                if isinstance(x, dict):
                    self._walk(x)
            if plain:
                self.keywords = True
                self.keyword_groups.append((False, plain))
        else:
            self.keywords = True
            self.keyword_groups.append((False, [str(sel)]))

    def keyword_hit(self, texts):
        """Approximate: does any keyword group match (case-insensitive, * and ? wildcards)?"""
        joined = "\x00".join(t.lower() for t in texts if isinstance(t, str))
        for all_of, words in self.keyword_groups:
            hits = [_contains(joined, w) for w in words]
            if (all(hits) if all_of else any(hits)):
                return True
        return False


_PATTERNS = {}


def _contains(joined, word):
    w = word.lower().strip("*")
    if "*" not in w and "?" not in w:
        return w in joined
    rx = _PATTERNS.get(w)
    if rx is None:
        rx = _PATTERNS[w] = re.compile("".join(
            "[^\x00]*" if ch == "*" else "[^\x00]" if ch == "?" else re.escape(ch) for ch in w))
    return rx.search(joined) is not None


def load_rules(dirs):
    rules = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "**", "*.yml"), recursive=True)):
            with open(path) as f:
                try:
                    docs = list(yaml.safe_load_all(f))
                except yaml.YAMLError:
                    continue
            for doc in docs:
                if isinstance(doc, dict) and "detection" in doc and \
                        (doc.get("logsource") or {}).get("product") == "windows":
                    rules.append(Rule(path, doc))
    return rules


def covers(entry, ls):
    els = entry.get("logsource") or {}
    for k in ("category", "service"):
        if els.get(k) != ls.get(k):
            return False
    if "product" in els and els["product"] != ls.get("product"):
        return False
    return True


# --------------------------------------------------------------------------
# Sample events.

def _eq(a, b):
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return norm(a) == norm(b)


def condition_matches(pipe, entry, flat):
    for field, want in (entry.get("conditions") or {}).items():
        wants = want if isinstance(want, list) else [want]
        got = [v for _, v in resolve(pipe, None, field, flat)]
        if not any(_eq(g, w) for g in got for w in wants):
            return False
    return True


def iter_dataset_events(datasets):
    for z in sorted(glob.glob(os.path.join(datasets, "*.zip"))):
        with zipfile.ZipFile(z) as zf:
            for member in zf.namelist():
                if not member.endswith(".json") or member.startswith("__MACOSX"):
                    continue
                with zf.open(member) as fh:
                    for n, line in enumerate(io.BufferedReader(fh)):
                        line = line.rstrip(b"\r\n")
                        try:
                            ev = sigma_shapes.parse_line(line.decode("utf-8"))
                        except UnicodeDecodeError:
                            ev = None
                        if ev is not None:
                            yield "%s:%d" % (os.path.basename(z), n + 1), ev


SPECIAL_VALUES = ("IpAddress", "IpPort", "ClientAddress", "RuleName", "Path", "HostApplication")


def signature(ev):
    return (norm(ev.get("EventID")), ev.get("Channel"), ev.get("SourceName"), tuple(sorted(ev)),
            tuple(ev.get(k) in ("-", "", None) for k in SPECIAL_VALUES))


HEADER = {
    "Security": "Microsoft-Windows-Security-Auditing",
    "Microsoft-Windows-Sysmon/Operational": "Microsoft-Windows-Sysmon",
    "Windows PowerShell": "PowerShell",
    "Microsoft-Windows-PowerShell/Operational": "Microsoft-Windows-PowerShell",
}


def synthetic(nx, entry, rule):
    """An NXLog event of `entry`'s kind holding every field `rule` names."""
    ev = {}
    conds = entry.get("conditions") or {}
    for field, want in conds.items():
        v = want[0] if isinstance(want, list) else want
        for p in paths_for(nx, field):
            ev[p] = v
            break
    if "EventID" not in conds and rule.eventids:
        ev[paths_for(nx, "EventID")[0]] = min(rule.eventids)
    channel = ev.get(paths_for(nx, "Channel")[0])
    ev.setdefault("SourceName", HEADER.get(channel, "Synthetic-Provider"))
    ev.setdefault("Hostname", "SYNTHETIC-HOST")
    ev.setdefault("@timestamp", "2024-01-02T03:04:05.678Z")
    renames = entry.get("fields") or {}
    for field in sorted(rule.fields):
        name = renames.get(field, field)
        for p in paths_for(nx, name if not isinstance(name, list) else name[0])[:1]:
            if p not in ev:
                ev[p] = "v:" + field
    return ev


# --------------------------------------------------------------------------

def leaf_values(ev):
    out = []
    if isinstance(ev, dict):
        for v in ev.values():
            out.extend(leaf_values(v))
    elif isinstance(ev, list):
        for v in ev:
            out.extend(leaf_values(v))
    else:
        out.append(norm(ev))
    return out


def keyword_text(pipe, ev):
    kf = pipe.get("keyword_fields")
    if not kf:
        return sorted(x for x in leaf_values(ev) if x is not None)
    vals = []
    for p in kf:
        v = get_path(ev, p)
        if v is not KeyError:
            vals.extend(leaf_values(v))
    return sorted(x for x in vals if x is not None)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", action="append",
                    help="rule directory (repeatable; default shared/data/sigma/rules)")
    ap.add_argument("--datasets", default=os.path.join(DATA, "windows-events", "datasets"))
    ap.add_argument("--per-signature", type=int, default=3,
                    help="events per signature (keys, event id, channel, provider, '-' values) checked"
                         " key by key and kept as rule samples")
    ap.add_argument("--signatures", type=int, default=150, help="per log-source entry")
    ap.add_argument("-v", "--verbose", action="store_true", help="list examples")
    ap.add_argument("--list-fields", type=int, nargs="?", const=0, metavar="N",
                    help="print the N (default all) Sigma fields most used by the rules, with the"
                         " log sources using them and where each pipeline looks, then exit")
    args = ap.parse_args(argv)
    rule_dirs = args.rules or [os.path.join(DATA, "sigma", "rules")]

    pipes = {n: load_pipeline(n) for n in ("nxlog", "evtx_json", "ecs")}
    nx = pipes["nxlog"]
    failed = False

    if args.list_fields is not None:
        rules = load_rules(rule_dirs)
        use = collections.Counter()
        where = collections.defaultdict(collections.Counter)
        for r in rules:
            for f in r.fields:
                use[f] += 1
                where[f][r.logsource.get("category") or r.logsource.get("service")] += 1
        print("%d Windows rules; fields by number of rules using them" % len(rules))
        for f, n in use.most_common(args.list_fields or None):
            print("%5d %-22s %-60s evtx_json: %s | ecs: %s" % (
                n, f, ", ".join("%s %d" % kv for kv in where[f].most_common(4)),
                " ".join(paths_for(pipes["evtx_json"], f)), " ".join(paths_for(pipes["ecs"], f))))
        return 0

    # 1. Drift between the converter's tables and the YAML.
    print("== 1. converter tables vs YAML pipelines")
    drift = []
    tables = {"nxlog": sigma_shapes.NXLOG, "evtx_json": sigma_shapes.EVTX, "ecs": sigma_shapes.ECS}
    for name, table in tables.items():
        p = pipes[name]
        if table["template"] != p.get("field_template", "{}"):
            drift.append("%s field_template: script %r, yaml %r" % (name, table["template"], p.get("field_template")))
        if list(table["timestamp"]) != list(p.get("timestamp") or []):
            drift.append("%s timestamp: script %r, yaml %r" % (name, table["timestamp"], p.get("timestamp")))
        for k in sorted(set(table["fields"]) | set(p["fields"])):
            a, b = table["fields"].get(k), p["fields"].get(k)
            if a != b:
                drift.append("%s fields[%s]: script %r, yaml %r" % (name, k, a, b))
        if bool(table.get("strip_spaces", sigma_shapes.NXLOG.get("strip_spaces"))) != bool(p.get("strip_spaces")):
            drift.append("%s strip_spaces: yaml %r" % (name, p.get("strip_spaces")))
    # Every nxlog entry has its counterpart (same log source and conditions) in
    # each shape; renames that differ from nxlog's are the converter's entry_fields.
    counterpart = {shape: {_entry_key(e): e for e in pipes[shape]["logsources"]} for shape in SHAPES}
    for shape in SHAPES:
        keys = {_entry_key(e) for e in nx["logsources"]}
        for e in nx["logsources"]:
            c = counterpart[shape].get(_entry_key(e))
            if c is None:
                drift.append("%s has no entry for %s %s" % (shape, _canon(e.get("logsource")),
                                                          _canon(e.get("conditions"))))
                continue
            if (c.get("fields") or {}) != (e.get("fields") or {}) or \
                    sorted(c.get("unsupported") or []) != sorted(e.get("unsupported") or []):
                ls = c.get("logsource") or {}
                want = tables[shape].get("entry_fields", {}).get((ls.get("category"), ls.get("service")))
                if want != (c.get("fields") or {}):
                    drift.append("%s entry %s renames %r, script entry_fields %r"
                                 % (shape, _canon(ls), c.get("fields"), want))
        for e in pipes[shape]["logsources"]:
            if _entry_key(e) not in keys:
                drift.append("%s entry %s %s has no nxlog counterpart" % (
                    shape, _canon(e.get("logsource")), _canon(e.get("conditions"))))
    for d in drift:
        print("  DRIFT " + d)
    print("  %s" % ("no drift" if not drift else "%d differences" % len(drift)))
    failed |= bool(drift)

    # Rules and the entries covering them.
    rules = load_rules(rule_dirs)
    entries = nx["logsources"]
    covering = {}
    skipped_unmapped = collections.Counter()
    for r in rules:
        cov = [i for i, e in enumerate(entries) if covers(e, r.logsource)]
        if not cov:
            skipped_unmapped[(r.logsource.get("category"), r.logsource.get("service"))] += 1
        covering[id(r)] = cov

    kw_rules = [r for r in rules if r.keywords and covering[id(r)]]
    kw_diff = collections.Counter()
    kw_hits = collections.Counter()

    # Real samples per entry.
    samples = collections.defaultdict(lambda: collections.OrderedDict())
    n_events = 0
    key_fail = collections.Counter()
    key_examples = {}
    key_checks = 0
    ts_fail = collections.Counter()
    used = set()  # (entry index, Sigma field) some covered rule names
    for r in rules:
        for i in covering[id(r)]:
            if not set(entries[i].get("unsupported") or []) & r.fields:
                used.update((i, f) for f in r.fields)

    def twin(shape, e):
        return counterpart[shape].get(_entry_key(e), e)

    sig_seen = collections.Counter()
    n_key_events = 0
    for origin, ev in iter_dataset_events(args.datasets):
        n_events += 1
        sig = signature(ev)
        sig_seen[sig] += 1
        conv = {s: sigma_shapes.convert_event(ev, s) for s in SHAPES}
        nflat = Flat(ev)
        matched = [i for i, e in enumerate(entries) if condition_matches(nx, e, nflat)]
        # 3. every key reachable under every name that reaches it, under every
        # entry the event belongs to (a few events per signature: same keys,
        # event id, channel, provider and "-" values).
        keys_to_check = ev.items() if sig_seen[sig] <= args.per_signature else ()
        if keys_to_check:
            n_key_events += 1
            sflat = {s: Flat(conv[s]) for s in SHAPES}
        for key, value in keys_to_check:
            names = sigma_shapes.sigma_names_reaching(key)
            for name in names:
                for i in matched:
                    e = entries[i]
                    if not any(v is value for _, v in resolve(nx, e, name, nflat)):
                        continue  # renamed away under this entry, or another key answers first
                    for shape in SHAPES:
                        key_checks += 1
                        found = resolve(pipes[shape], twin(shape, e), name, sflat[shape])
                        ok = False
                        for p, v in found:
                            if norm(v) == norm(value) and jtype(v) == jtype(value):
                                ok = True
                            elif norm(v) == norm(value) and p in HEADER_TEXT_OK.get(shape, ()):
                                ok = True
                            elif isinstance(v, list) and len(v) == 1 and norm(v[0]) == norm(value) \
                                    and jtype(v[0]) == jtype(value):
                                ok = True
                        if not ok:
                            what = (shape, name, "missing" if not found else "value/type differs",
                                    _canon(e.get("logsource")), (i, name) in used)
                            key_fail[what] += 1
                            key_examples.setdefault(what, origin)
        # 4. timestamps.
        tn = next((nflat.get(f, False) for f in nx.get("timestamp") or []
                   if nflat.get(f, False) is not KeyError), KeyError)
        for shape in SHAPES:
            ts = next((get_path(conv[shape], f) for f in pipes[shape].get("timestamp") or []
                       if get_path(conv[shape], f) is not KeyError), KeyError)
            if (tn is KeyError) != (ts is KeyError) or (tn is not KeyError and norm(tn) != norm(ts)):
                ts_fail[shape] += 1
        # 4c. keyword rules: same hits on the keyword fields of each shape?
        for r in kw_rules:
            if not any(i in matched for i in covering[id(r)]):
                continue
            hit = r.keyword_hit([x for x in keyword_text(nx, ev) if isinstance(x, str)])
            kw_hits[(r.title, "nxlog")] += hit
            for shape in SHAPES:
                h = r.keyword_hit([x for x in keyword_text(pipes[shape], conv[shape]) if isinstance(x, str)])
                kw_hits[(r.title, shape)] += h
                if h != hit:
                    kw_diff[(r.title, shape)] += 1
        for i in matched:
            e = entries[i]
            if e.get("conditions"):
                bucket = samples[i]
                if sig in bucket:
                    if len(bucket[sig]) < args.per_signature:
                        bucket[sig].append((origin, ev))
                elif len(bucket) < args.signatures:
                    bucket[sig] = [(origin, ev)]

    print("\n== 3. every NXLog key reachable under its Sigma names and entries (%d events: up to %d"
          " per signature of %d, %d lookups)" % (n_key_events, args.per_signature, len(sig_seen), key_checks))
    for (shape, name, why, entry, ruled), n in sorted(key_fail.items(), key=str):
        print("  %s %-9s %-24s %-18s under %s x%d  e.g. %s" % (
            "FAIL" if ruled else "note", shape, name, why, entry, n,
            key_examples[(shape, name, why, entry, ruled)]))
    print("  %s" % ("all reachable, same values and types" if not key_fail else
                    "%d misses (FAIL: a rule covered by that entry names the field; note: none does)"
                    % sum(key_fail.values())))
    failed |= any(k[4] for k in key_fail)

    print("\n== 4a. timestamps")
    for shape in SHAPES:
        print("  %-9s %s" % (shape, "equal on every event" if not ts_fail[shape]
                             else "%d events differ" % ts_fail[shape]))
    failed |= bool(sum(ts_fail.values()))

    # 2. Rules.
    results = collections.Counter()
    by_field = collections.defaultdict(collections.Counter)
    examples = {}
    checked_rules = 0
    pairs = 0
    no_real = collections.Counter()
    for r in rules:
        cov = covering[id(r)]
        if not cov:
            continue
        checked_rules += 1
        for i in cov:
            e = entries[i]
            if set(e.get("unsupported") or []) & r.fields:
                continue
            real = [s for sigs in samples.get(i, {}).values() for s in sigs]
            if r.eventids:
                real = [(o, ev) for o, ev in real
                        if sigma_shapes._as_int(get_path(ev, paths_for(nx, "EventID")[0])) in r.eventids]
            if not real:
                no_real[_canon(e.get("logsource"))] += 1
            cases = real + [("synthetic", synthetic(nx, e, r))]
            label = "%s %s" % (_canon(e.get("logsource")), _canon(e.get("conditions")) if e.get("conditions") else "")
            for origin, ev in cases:
                nflat = Flat(ev)
                sflat = {s: Flat(sigma_shapes.convert_event(ev, s)) for s in SHAPES}
                for field in sorted(r.fields | set(e.get("conditions") or {})):
                    nxv = resolve(nx, e, field, nflat)
                    for shape in SHAPES:
                        pairs += 1
                        kind = compare(nxv, resolve(pipes[shape], twin(shape, e), field, sflat[shape]))
                        results[(shape, kind)] += 1
                        if kind != "OK":
                            by_field[(shape, kind)][field] += 1
                            examples.setdefault((shape, kind, field),
                                                (r.title, r.path, label, origin))

    print("\n== 2. rule fields per covering log-source entry (%d Windows rules, %d covered, "
          "%d field/sample/shape comparisons)" % (len(rules), checked_rules, pairs))
    if skipped_unmapped:
        print("  rules no entry covers (unmapped: skip): %s"
              % ", ".join("%s/%s x%d" % (c, s, n) for (c, s), n in sorted(skipped_unmapped.items(), key=str)))
    for shape in SHAPES:
        line = ", ".join("%s %d" % (k, results[(shape, k)])
                         for k in ("OK", "TEXT", "ARRAY", "MISSING", "SPURIOUS", "DIFFERENT"))
        print("  %-9s %s" % (shape, line))
    for (shape, kind), fields in sorted(by_field.items()):
        tag = "note" if kind in ("TEXT", "ARRAY") else "FAIL"
        print("  %s %-9s %-9s %s" % (tag, shape, kind,
                                     ", ".join("%s x%d" % (f, n) for f, n in fields.most_common())))
        if args.verbose or tag == "FAIL":
            for f in fields:
                t, p, label, origin = examples[(shape, kind, f)]
                print("      %s: rule %r (%s), entry %s, sample %s"
                      % (f, t, os.path.relpath(p, DATA), label, origin))
        if tag == "FAIL":
            failed = True
    if args.verbose and no_real:
        print("  entries with no real sample for some rule (synthetic only): %d" % sum(no_real.values()))

    # 4b. keyword rules.
    kw = [r for r in rules if r.keywords]
    print("\n== 4b. keyword (field-less) searches: %d rules" % len(kw))
    for n, p in pipes.items():
        print("  %-9s keyword_fields %s" % (n, p.get("keyword_fields") or "[] (every field)"))
    wider = collections.Counter()
    for i, bucket in samples.items():
        for sigs in bucket.values():
            for origin, ev in sigs:
                base_kw = collections.Counter(keyword_text(nx, ev))
                for shape in SHAPES:
                    got = collections.Counter(keyword_text(pipes[shape], sigma_shapes.convert_event(ev, shape)))
                    if got != base_kw:
                        wider[shape] += 1
    for shape in SHAPES:
        print("  %-9s keyword text differs from nxlog's on %d sampled events%s"
              % (shape, wider[shape], "" if not wider[shape] else
                 " (it searches other fields than nxlog's Message)"))
    print("  keyword hits on all %d events (approximate matcher: keywords only, rest of the"
          " rule ignored), nxlog / evtx_json / ecs:" % n_events)
    for r in kw_rules:
        print("      %-55s %5d / %5d / %5d%s" % (r.title[:55], kw_hits[(r.title, "nxlog")],
                                               kw_hits[(r.title, "evtx_json")], kw_hits[(r.title, "ecs")],
                                               "   <- differs" if kw_diff[(r.title, "evtx_json")]
                                               or kw_diff[(r.title, "ecs")] else ""))
        if kw_diff[(r.title, "evtx_json")] or kw_diff[(r.title, "ecs")]:
            failed = True

    print("\nresult: %s" % ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
