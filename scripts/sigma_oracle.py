#!/usr/bin/env python3
"""The independent oracle for socstream's `sigma` operator: pySigma (the reference
Sigma parser) and its SQLite backend convert the rules to SQL, the events are
loaded into one wide SQLite table, and every (event line, rule id) match is
written out for scripts/sigma_compare.py to hold against the operator's.

    python="$(scripts/sigma_oracle_env.sh)"
    nice -n 19 "$python" scripts/sigma_oracle.py --rules ../shared/data/sigma/rules \
        --pipeline nxlog --events events.jsonl --out oracle.tsv \
        [--stats stats.json] [--rule-errors errors.tsv] [--sql rules.sql]

How socstream's pipelines (config/sigma/pipelines/*.yaml, format in nxlog.yaml's
header) become pySigma: every log-source entry that covers a rule is one
alternative. For each, a ProcessingPipeline adds the entry's `conditions`
(AddConditionTransformation, in Sigma names), renames by the entry's `fields`
(FieldMappingTransformation), then maps every field by the pipeline's `fields`
and `field_template` (FieldFunctionTransformation, which also points keyword
searches at `keyword_fields`). The rule is converted once per entry and the
entries' matches are united. A field in an entry's `unsupported` list maps to
no column (NULL, a missing field); a rule no entry covers is skipped (`unmapped: skip`)
or run without log-source condition (`unmapped: any`).

Events are read as socstream's file source and json_parse read them: one
event per physical line (0-based line number = the event's id), a line that is
empty, not UTF-8, not JSON, not an object, deeper than 128, over 1 MiB, or
names a field twice (after flattening) is rejected and counted by reason.
Objects flatten to dotted names, an empty object is the text `{}`, arrays are
their minified JSON, numbers are the text C++ std::to_chars writes for the
parsed int64/uint64/double, booleans `true`/`false`, JSON null is SQL NULL.

Matching is the SQLite backend's: columns are TEXT COLLATE NOCASE (so `=` is
case-insensitive, as Zircolite builds its table), wildcards become LIKE (ASCII
case-insensitive), `|cased` GLOB, `|re` a Python REGEXP function (re.search;
with --regex-diff also RE2, and every disagreement is counted per rule).
Field names are case-sensitive: each flattened name gets its own column even
where SQLite, whose identifiers are case-insensitive, would merge two.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import os
import re
import sqlite3
import sys
import time
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import yaml

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND
from sigma.correlations import SigmaCorrelationRule
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    AddConditionTransformation,
    FieldFunctionTransformation,
    FieldMappingTransformation,
)
from sigma.processing.transformations.base import DetectionItemTransformation
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaFieldReference,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaString,
)

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_DIR = ROOT / "config" / "sigma" / "pipelines"

MAX_EVENT_BYTES = 1 << 20  # json_parse max_bytes default
MAX_LINE_BYTES = 64 << 20  # file source max_line_bytes default
MAX_DEPTH = 128  # json_parse max_depth default
TABLE = "logs"
LINE_COLUMN = "__line"
ABSENT_COLUMN = "__socstream_oracle_absent"  # a column that is NULL in every row
UNSUPPORTED_PREFIX = "__socstream_unsupported__."  # no event column has this name: it reads ABSENT_COLUMN


# --------------------------------------------------------------------------- pipelines


def resolve_pipeline_path(spec: str, relative_to: Path | None = None) -> Path:
    if re.fullmatch(r"[A-Za-z0-9_.-]+", spec) and not spec.endswith((".yaml", ".yml")):
        return PIPELINE_DIR / f"{spec}.yaml"
    path = Path(spec)
    if not path.is_absolute() and relative_to is not None and not path.exists():
        path = relative_to / path
    return path


def load_pipeline(spec: str, relative_to: Path | None = None, seen: tuple = ()) -> dict:
    """The pipeline's settings with its `base` chain applied, as socstream
    applies it: a setting the pipeline names replaces the base's, except
    `fields` (merged key by key) and `logsources` (an entry replaces the base's
    entries for the same log source)."""
    path = resolve_pipeline_path(spec, relative_to).resolve()
    if path in seen:
        raise SystemExit(f"pipeline base cycle: {' -> '.join(map(str, seen + (path,)))}")
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: a pipeline is a YAML map")
    merged: dict = {}
    if data.get("base"):
        merged = load_pipeline(str(data["base"]), path.parent, seen + (path,))
    for key, value in data.items():
        if key == "base":
            continue
        if key == "fields" and isinstance(merged.get("fields"), dict) and isinstance(value, dict):
            merged["fields"] = {**merged["fields"], **value}  # as socstream: key by key
        elif key == "logsources" and isinstance(merged.get("logsources"), list) and isinstance(value, list):
            # An entry restated here replaces the base's entries for the same log source.
            mine = {tuple(sorted((e.get("logsource") or {}).items())) for e in value}
            kept = [e for e in merged["logsources"] if tuple(sorted((e.get("logsource") or {}).items())) not in mine]
            merged["logsources"] = kept + list(value)
        else:
            merged[key] = value
    merged.setdefault("_files", [])
    merged["_files"] = merged["_files"] + [str(path)]
    return merged


@dataclasses.dataclass
class Entry:
    index: int
    logsource: dict
    conditions: dict
    fields: dict
    unsupported: frozenset

    def covers(self, ls) -> bool:
        return (
            self.logsource.get("category") == ls.category
            and self.logsource.get("service") == ls.service
            and ("product" not in self.logsource or self.logsource["product"] == ls.product)
        )

    def label(self) -> str:
        ls = ",".join(f"{k}={v}" for k, v in sorted(self.logsource.items()))
        cond = ",".join(f"{k}={v}" for k, v in self.conditions.items())
        return f"#{self.index} {ls}" + (f" [{cond}]" if cond else "")


class Pipeline:
    def __init__(self, settings: dict):
        self.settings = settings
        self.name = settings.get("name", "?")
        self.fields: dict = dict(settings.get("fields") or {})
        self.template: str = settings.get("field_template") or "{}"
        kw = settings.get("keyword_fields")
        self.keyword_fields: list = list(kw) if kw else []  # empty: every field
        self.unmapped: str = settings.get("unmapped", "skip")
        if self.unmapped not in ("skip", "any"):
            raise SystemExit(f"pipeline {self.name}: unmapped must be skip or any")
        self.entries = []
        for i, e in enumerate(settings.get("logsources") or []):
            self.entries.append(
                Entry(
                    index=i,
                    logsource=dict(e.get("logsource") or {}),
                    conditions=dict(e.get("conditions") or {}),
                    fields=dict(e.get("fields") or {}),
                    unsupported=frozenset(e.get("unsupported") or ()),
                )
            )

    def map_field(self, name: str) -> list[str]:
        """A Sigma field's event fields after the pipeline's mapping (not an entry's rename)."""
        if name in self.fields:
            m = self.fields[name]
            return list(m) if isinstance(m, list) else [m]
        return [self.template.replace("{}", name)]

    def condition_fields(self) -> list[list[str]]:
        """For each entry with conditions, the event fields of each condition, in order."""
        out = []
        for e in self.entries:
            cols = []
            for sigma_name in e.conditions:
                renamed = e.fields.get(sigma_name, sigma_name)
                renamed = renamed if isinstance(renamed, list) else [renamed]
                cols.append([f for r in renamed for f in self.map_field(r)])
            if cols:
                out.append(cols)
        return out


# --------------------------------------------------------------------------- pySigma side


@dataclasses.dataclass
class SplitAllKeywords(DetectionItemTransformation):
    """Keyword (field-less) searches before they are pointed at keyword fields:
    `'|all': [a, b]` becomes the AND of two separate searches, so each keyword
    may sit in a different field ("searching for keywords across an entire
    event"), where pySigma's keyword mapping would want all of them in one field;
    and a number keyword becomes the string of its digits, searched as text."""

    def apply_detection_item(self, detection_item: SigmaDetectionItem):
        if detection_item.field is not None:
            return None
        values = [
            SigmaString(str(v)) if isinstance(v, SigmaNumber) else v for v in detection_item.value
        ]
        changed = any(a is not b for a, b in zip(values, detection_item.value))
        if detection_item.value_linking is ConditionAND and len(values) > 1:
            return SigmaDetection(
                [SigmaDetectionItem(None, [], [v], auto_modifiers=False) for v in values],
                item_linking=ConditionAND,
            )
        if changed:
            detection_item.value = values
            return detection_item
        return None


def entry_pipeline(p: Pipeline, entry: Entry | None, keyword_columns: list[str]) -> ProcessingPipeline:
    items = [ProcessingItem(SplitAllKeywords(), identifier="socstream_keywords")]
    if entry is not None and entry.conditions:
        items.append(
            ProcessingItem(
                AddConditionTransformation(conditions=entry.conditions, name="_socstream_logsource"),
                identifier="socstream_logsource_conditions",
            )
        )
    renames = dict(entry.fields) if entry is not None else {}
    # A field the entry's events never carry maps to no column (SQL NULL), as a
    # missing field: socstream compiles it to a field no event has.
    for f in (entry.unsupported if entry is not None else ()):
        renames[f] = UNSUPPORTED_PREFIX + f
    if renames:
        items.append(
            ProcessingItem(FieldMappingTransformation(renames), identifier="socstream_entry_fields")
        )
    mapping = dict(p.fields)
    mapping[None] = list(keyword_columns)
    template = p.template
    items.append(
        ProcessingItem(
            FieldFunctionTransformation(
                mapping=mapping,
                transform_func=lambda name: template.replace("{}", name),
                apply_keyword=True,
            ),
            identifier="socstream_pipeline_fields",
        )
    )
    return ProcessingPipeline(items=items, name=f"socstream {p.name} {entry.label() if entry else 'unmapped'}")


class OracleBackend(sqliteBackend):
    """The SQLite backend with event field names resolved to the table's columns
    (exact case; a field no event has reads the always-NULL column)."""

    def __init__(self, pipeline: ProcessingPipeline, columns: dict[str, str]):
        super().__init__(processing_pipeline=pipeline)
        self._columns = columns

    def escape_and_quote_field(self, field):
        return self._columns.get(field) or quote_ident(ABSENT_COLUMN)

    def resolve_table(self, state=None):
        return TABLE


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def detection_fields(rule: SigmaRule) -> set[str]:
    """Sigma field names a rule's detection names (fieldref targets included)."""
    out: set[str] = set()

    def walk(d):
        for item in d.detection_items:
            if isinstance(item, SigmaDetection):
                walk(item)
            else:
                if item.field is not None:
                    out.add(item.field)
                for v in item.value:
                    if isinstance(v, SigmaFieldReference):
                        out.add(v.field)

    for det in rule.detection.detections.values():
        walk(det)
    return out


def detection_values(rule: SigmaRule):
    def walk(d):
        for item in d.detection_items:
            if isinstance(item, SigmaDetection):
                yield from walk(item)
            else:
                for v in item.value:
                    yield item, v

    for det in rule.detection.detections.values():
        yield from walk(det)


def rule_key(rule, path: str) -> str:
    if rule.id:
        return str(rule.id)
    if getattr(rule, "name", None):
        return str(rule.name)
    return f"{path}:{rule.title}"


def find_rule_files(paths: list[str]) -> list[Path]:
    files: set[Path] = set()
    for p in paths:
        path = Path(p)
        if path.is_dir():
            for f in path.rglob("*"):
                if f.is_file() and f.suffix in (".yml", ".yaml"):
                    files.add(f)
        elif path.is_file():
            files.add(path)
        else:
            raise SystemExit(f"--rules: {p} does not exist")
    return sorted(files)


def regex_features(pattern: str, flags) -> set[str]:
    """Constructs whose meaning differs between Python's re (str patterns) and RE2:
    unicode_classes: \\d \\w \\s \\b are Unicode-aware in re, ASCII in RE2 (and RE2's \\s
    lacks \\v); dollar: without m, re's $ also matches before a final newline, RE2's only
    at the end; ignorecase_nonascii: case folding of non-ASCII letters under (?i)."""
    tags = set()
    in_class = False
    i = 0
    multiline = any(getattr(f, "name", "") == "MULTILINE" for f in flags) or bool(
        re.match(r"\(\?[a-zA-Z]*m[a-zA-Z]*\)", pattern))
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            if n in "dDwWsS" or (n in "bB" and not in_class):
                tags.add("unicode_classes")
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "^":
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                i += 1
        elif c == "$" and not multiline:
            tags.add("dollar")
        i += 1
    ignorecase = any(getattr(f, "name", "") == "IGNORECASE" for f in flags) or re.match(r"\(\?[a-z]*i", pattern)
    if ignorecase and any(ord(ch) > 127 and ch.lower() != ch.upper() for ch in pattern):
        tags.add("ignorecase_nonascii")
    return tags


# --------------------------------------------------------------------------- events


class Obj(list):
    """A JSON object as its (key, value) pairs, duplicates kept."""


class Num(str):
    """A JSON number as its source text."""


class Reject(Exception):
    def __init__(self, reason, detail=""):
        super().__init__(detail)
        self.reason = reason


def _raise_constant(name):
    raise ValueError(f"{name} is not JSON")


DECODER = json.JSONDecoder(
    object_pairs_hook=Obj,
    parse_int=Num,
    parse_float=Num,
    parse_constant=_raise_constant,
)


def fmt_double(x: float) -> str:
    """std::to_chars(double) shortest form: fixed or scientific, whichever is
    shorter, fixed on a tie; scientific as printf's %e (exponent of 2+ digits)."""
    if x == 0:
        return "-0" if str(x).startswith("-") else "0"
    d = Decimal(repr(x)).normalize()
    sign, digits, exp = d.as_tuple()
    neg = "-" if sign else ""
    ds = "".join(map(str, digits))
    fixed = neg + format(d.copy_abs(), "f")
    sexp = len(ds) - 1 + exp
    mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
    sci = f"{neg}{mant}e{'+' if sexp >= 0 else '-'}{abs(sexp):02d}"
    return sci if len(sci) < len(fixed) else fixed


def fmt_number(text: str) -> str:
    if re.fullmatch(r"-?\d+", text):
        n = int(text)
        if -(2**63) <= n < 2**64:
            return str(n)
    return fmt_double(float(text))


def minify(v) -> str:
    if isinstance(v, Obj):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + minify(x) for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(minify(x) for x in v) + "]"
    if isinstance(v, Num):
        return str(v)
    return json.dumps(v, ensure_ascii=False)


def depth_of(v, d=1) -> int:
    if isinstance(v, Obj):
        return max([d] + [depth_of(x, d + 1) for _, x in v])
    if isinstance(v, list):
        return max([d] + [depth_of(x, d + 1) for x in v])
    return d - 1 if d > 1 else d


def scalar_text(v):
    if isinstance(v, Num):
        return fmt_number(v)
    if isinstance(v, str):
        return v
    if v is True:
        return "true"
    if v is False:
        return "false"
    if v is None:
        return None
    if isinstance(v, Obj) and not v:
        return "{}"
    return minify(v)


def flatten(obj: Obj, prefix: str, out: list):
    for k, v in obj:
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, Obj) and len(v):
            flatten(v, name, out)
        else:
            out.append((name, scalar_text(v)))


def _check_strings(v):
    """Lone surrogates (\\ud800 escapes) are not Unicode text: simdjson refuses them."""
    if isinstance(v, Obj):
        for k, x in v:
            k.encode("utf-8")
            _check_strings(x)
    elif isinstance(v, list):
        for x in v:
            _check_strings(x)
    elif isinstance(v, str):
        v.encode("utf-8")


SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def parse_event(raw: bytes) -> list:
    if len(raw) > MAX_LINE_BYTES:
        raise Reject("line_too_long")
    if not raw.strip(b" \t\r\n"):
        raise Reject("empty")
    if len(raw) > MAX_EVENT_BYTES:
        raise Reject("too_large")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Reject("invalid_utf8")
    try:
        value = DECODER.decode(text.strip(" \t\r\n"))
    except RecursionError:
        raise Reject("too_deep")
    except ValueError as e:
        raise Reject("invalid_json", str(e))
    if not isinstance(value, Obj):
        raise Reject("not_object")
    if SURROGATE_ESCAPE.search(text):
        try:
            _check_strings(value)
        except UnicodeEncodeError:
            raise Reject("invalid_json", "lone surrogate")
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and depth_of(value) > MAX_DEPTH:
        raise Reject("too_deep")
    fields: list = []
    flatten(value, "", fields)
    names = [n for n, _ in fields]
    if len(set(names)) != len(names):
        raise Reject("duplicate_key")
    return fields


def read_events(path: str):
    """(line number, fields) for each accepted line, and Counter of rejections."""
    with open(path, "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the newline ending the last line starts no line of its own
    events, rejected = [], Counter()
    for i, raw in enumerate(lines):
        try:
            events.append((i, parse_event(raw)))
        except Reject as r:
            rejected[r.reason] += 1
    return len(lines), events, rejected


# --------------------------------------------------------------------------- regex


class RegexState:
    def __init__(self, diff: bool):
        self.diff = diff
        self.rule = None
        self.py_cache: dict = {}
        self.re2_cache: dict = {}
        self.fallback: dict = defaultdict(set)  # rule -> patterns Python re refused (RE2 used)
        self.disagree: dict = defaultdict(Counter)  # rule -> (pattern, python, re2) -> count
        self.examples: dict = {}
        self.calls = 0

    def _re2(self, pattern):
        c = self.re2_cache.get(pattern)
        if c is None:
            import re2

            c = self.re2_cache[pattern] = re2.compile(pattern)
        return c

    def regexp(self, pattern, value):
        if pattern is None or value is None:
            return None
        self.calls += 1
        c = self.py_cache.get(pattern)
        if c is None:
            try:
                c = self.py_cache[pattern] = re.compile(pattern)
            except re.error:
                c = self.py_cache[pattern] = False
        if c is False:
            self.fallback[self.rule].add(pattern)
            return 1 if self._re2(pattern).search(value) else 0
        got = 1 if c.search(value) else 0
        if self.diff:
            other = 1 if self._re2(pattern).search(value) else 0
            if other != got:
                key = (pattern, got, other)
                self.disagree[self.rule][key] += 1
                self.examples.setdefault((self.rule, key), value[:300])
        return got


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", nargs="+", required=True, help="rule files or directories (*.yml, *.yaml)")
    ap.add_argument("--pipeline", required=True, help="nxlog | evtx_json | ecs | FILE.yaml")
    ap.add_argument("--events", required=True, help="JSON lines")
    ap.add_argument("--out", required=True, help="matches: line<TAB>rule id, sorted")
    ap.add_argument("--stats", help="counts and timings (JSON)")
    ap.add_argument("--rule-errors", help="refused rules: id, path, error class, message (TSV)")
    ap.add_argument("--sql", help="write each rule's SQL per log-source entry (for debugging)")
    ap.add_argument("--db", help="keep the SQLite table in this file (default: in memory)")
    ap.add_argument("--regex-diff", action="store_true",
                    help="also run RE2 on every REGEXP call and count where it and Python's re disagree")
    args = ap.parse_args(argv)

    t_start = time.perf_counter()
    c_start = time.process_time()
    pipeline = Pipeline(load_pipeline(args.pipeline))

    # ---- events -> one wide table
    t0, c0 = time.perf_counter(), time.process_time()
    n_lines, events, rejected = read_events(args.events)
    if pipeline.settings.get("strip_spaces"):
        # Field names compared without spaces ("Threat Name" is ThreatName); the first wins.
        stripped = []
        for line, fields in events:
            seen_names, out = set(), []
            for n, v in fields:
                n = n.replace(" ", "")
                if n not in seen_names:
                    seen_names.add(n)
                    out.append((n, v))
            stripped.append((line, out))
        events = stripped
    names: dict[str, None] = {}
    for _, fields in events:
        for n, _ in fields:
            names.setdefault(n, None)
    columns: dict[str, str] = {}
    used_lower: set[str] = {LINE_COLUMN.lower(), ABSENT_COLUMN.lower()}
    physical = []
    for n in names:
        phys, k = n, 1
        while phys.lower() in used_lower:
            k += 1
            phys = f"{n}~{k}"
        used_lower.add(phys.lower())
        columns[n] = quote_ident(phys)
        physical.append(phys)
    if len(physical) + 2 > 2000:
        raise SystemExit(f"{len(physical)} distinct fields: over SQLite's 2000 columns")
    if args.db and os.path.exists(args.db):
        os.unlink(args.db)
    db = sqlite3.connect(args.db or ":memory:")
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    db.execute("PRAGMA case_sensitive_like=OFF")
    cols_sql = ", ".join(f"{quote_ident(p)} TEXT COLLATE NOCASE" for p in [ABSENT_COLUMN] + physical)
    db.execute(f"CREATE TABLE {TABLE} ({LINE_COLUMN} INTEGER PRIMARY KEY, {cols_sql})")
    # One INSERT per distinct field set (events of one kind share theirs): only the
    # values present are bound, the other columns default to NULL.
    groups: dict[tuple, list] = defaultdict(list)
    for line, fields in events:
        groups[tuple(n for n, _ in fields)].append([line] + [v for _, v in fields])
    for key, rows in groups.items():
        cols = ", ".join([LINE_COLUMN] + [columns[n] for n in key])
        db.executemany(f"INSERT INTO {TABLE} ({cols}) VALUES ({','.join('?' * (len(key) + 1))})", rows)
    del groups
    index_cols = []
    for cond_cols in pipeline.condition_fields():
        present = [[columns[f] for f in alts if f in columns] for alts in cond_cols]
        present = [alts for alts in present if alts]
        if not present:
            continue
        # every combination of the alternatives of each condition field (Channel x EventID, ...)
        combos = [[]]
        for alts in present:
            combos = [c + [a] for c in combos for a in alts]
        for c in combos:
            if c not in index_cols:
                index_cols.append(c)
    for i, c in enumerate(index_cols):
        db.execute(f"CREATE INDEX logsource_{i} ON {TABLE} ({', '.join(c)})")
    db.execute("ANALYZE")
    db.commit()
    t_ingest, c_ingest = time.perf_counter() - t0, time.process_time() - c0

    regex = RegexState(args.regex_diff)
    db.create_function("regexp", 2, regex.regexp, deterministic=True)

    # ---- rules -> SQL per covering log-source entry
    t0, c0 = time.perf_counter(), time.process_time()
    keyword_columns = pipeline.keyword_fields if pipeline.keyword_fields else list(names)
    backends: dict = {}

    def backend_for(entry):
        key = entry.index if entry is not None else None
        if key not in backends:
            backends[key] = OracleBackend(entry_pipeline(pipeline, entry, keyword_columns), columns)
        return backends[key]

    errors = []  # (id, path, class, message)
    plans = []  # (key, title, path, [(entry label, sql)])
    counts = Counter()
    skipped_logsource = Counter()
    skipped_rules: dict[str, str] = {}
    seen_ids: dict[str, str] = {}
    semantics = defaultdict(list)
    files = find_rule_files(args.rules)
    counts["files"] = len(files)
    for path in files:
        spath = str(path)
        try:
            text = path.read_text(encoding="utf-8")
            collection = SigmaCollection.from_yaml(text, collect_errors=True)
        except Exception as e:  # YAML syntax, a file that is no rule at all
            counts["refused"] += 1
            errors.append(("", spath, type(e).__name__, str(e)))
            continue
        for err in collection.errors:
            if not any(err in getattr(r, "errors", []) for r in collection.rules):
                counts["refused"] += 1
                errors.append(("", spath, type(err).__name__, str(err)))
        for rule in collection.rules:
            counts["loaded"] += 1
            key = rule_key(rule, spath)
            title = getattr(rule, "title", "")
            if rule.errors:
                counts["refused"] += 1
                e = rule.errors[0]
                errors.append((key, spath, type(e).__name__, str(e)))
                continue
            if not isinstance(rule, SigmaRule):
                counts["refused"] += 1
                errors.append((key, spath, type(rule).__name__, "not a detection rule (correlation/filter): no per-event match"))
                continue
            if key in seen_ids:
                semantics["duplicate_rule_id"].append(f"{key} {seen_ids[key]} {spath}")
            seen_ids[key] = spath
            fields = detection_fields(rule)
            covering = [e for e in pipeline.entries if e.covers(rule.logsource)]
            usable = list(covering)
            if not covering:
                if pipeline.unmapped == "skip":
                    counts["skipped_logsource"] += 1
                    ls = rule.logsource
                    skipped_logsource[f"{ls.product}/{ls.category}/{ls.service}"] += 1
                    skipped_rules[key] = f"no log-source entry covers {ls.product}/{ls.category}/{ls.service}"
                    continue
                usable = [None]
            # Static notes on values whose meaning may differ between engines.
            for item, v in detection_values(rule):
                if isinstance(v, SigmaString) and not isinstance(v, SigmaCasedString):
                    s = str(v)
                    if any(ord(ch) > 127 and ch.lower() != ch.upper() for ch in s):
                        semantics["non_ascii_case_letters"].append(key)
                if isinstance(v, SigmaRegularExpression):
                    r = str(v.regexp)
                    try:
                        re.compile(r)
                    except re.error as ex:
                        semantics["regex_python_refuses"].append(f"{key}\t{r}\t{ex}")
                    for tag in regex_features(r, v.flags):
                        semantics[f"regex_{tag}"].append(key)
                if item.field is None:
                    semantics["keyword_search"].append(key)
                if type(v).__name__ == "SigmaBool":
                    semantics["boolean_value"].append(key)
                if type(v).__name__ == "SigmaCIDRExpression":
                    semantics["cidr"].append(key)
                if isinstance(v, SigmaNumber):
                    semantics["number_value"].append(key)
                if type(v).__name__ == "SigmaNull":
                    semantics["null_value"].append(key)
                if isinstance(v, SigmaFieldReference):
                    semantics["fieldref"].append(key)
            sqls = []
            try:
                for entry in usable:
                    queries = backend_for(entry).convert_rule(copy.deepcopy(rule))
                    prefix = f"SELECT * FROM {TABLE} WHERE "
                    where = " OR ".join(
                        "(" + (q[len(prefix):] if q.startswith(prefix) else q) + ")" for q in queries
                    )
                    sqls.append((entry.label() if entry else "unmapped", where))
            except Exception as e:
                counts["refused"] += 1
                errors.append((key, spath, type(e).__name__, str(e).replace("\n", " ")))
                continue
            counts["converted"] += 1
            plans.append((key, title, spath, sqls))
    t_convert, c_convert = time.perf_counter() - t0, time.process_time() - c0

    # ---- queries
    t0, c0 = time.perf_counter(), time.process_time()
    matches: set = set()
    per_rule = Counter()
    rule_time = Counter()
    sql_out = open(args.sql, "w", encoding="utf-8") if args.sql else None
    for key, title, spath, sqls in plans:
        regex.rule = key
        hit: set = set()
        tq = time.perf_counter()
        try:
            for label, where in sqls:
                sql = f"SELECT {LINE_COLUMN} FROM {TABLE} WHERE {where}"
                if sql_out:
                    sql_out.write(f"-- {key} {title} [{label}]\n{sql};\n")
                hit.update(r[0] for r in db.execute(sql))
        except sqlite3.Error as e:
            counts["converted"] -= 1
            counts["refused"] += 1
            errors.append((key, spath, type(e).__name__, f"SQLite: {e}"))
            continue
        per_rule[key] = len(hit)
        rule_time[key] = time.perf_counter() - tq
        matches.update((line, key) for line in hit)
    if sql_out:
        sql_out.close()
    t_query, c_query = time.perf_counter() - t0, time.process_time() - c0

    out = sorted(matches)
    with open(args.out, "w", encoding="utf-8") as f:
        for line, key in out:
            f.write(f"{line}\t{key}\n")
    if args.rule_errors:
        with open(args.rule_errors, "w", encoding="utf-8") as f:
            for row in errors:
                f.write("\t".join(str(x).replace("\t", " ").replace("\n", " ") for x in row) + "\n")
    t_total, c_total = time.perf_counter() - t_start, time.process_time() - c_start

    titles = {k: t for k, t, _, _ in plans}
    n_events = len(events)
    stats = {
        "pipeline": pipeline.name,
        "pipeline_files": pipeline.settings.get("_files"),
        "events_file": args.events,
        "rules_paths": args.rules,
        "versions": versions(),
        "rules": {
            "files": counts["files"],
            "loaded": counts["loaded"],
            "converted": counts["converted"],
            "refused": counts["refused"],
            "skipped_logsource": counts["skipped_logsource"],
            "skipped_unsupported_fields": counts["skipped_unsupported_fields"],
            "entries_dropped_unsupported": counts["entries_dropped_unsupported"],
            "with_matches": sum(1 for v in per_rule.values() if v),
        },
        "refused_by_class": dict(Counter(e[2] for e in errors).most_common()),
        "skipped_logsource_by_source": dict(skipped_logsource.most_common()),
        "events": {
            "lines": n_lines,
            "loaded": n_events,
            "rejected": sum(rejected.values()),
            "rejected_by_reason": dict(rejected.most_common()),
            "fields": len(names),
            "index_columns": index_cols,
        },
        "matches": len(out),
        "events_matched": len({l for l, _ in out}),
        "timing": {
            "load_convert_s": round(t_convert, 3),
            "ingest_s": round(t_ingest, 3),
            "query_s": round(t_query, 3),
            "total_s": round(t_total, 3),
            "query_events_per_s": round(n_events / t_query, 1) if t_query else None,
            "end_to_end_events_per_s": round(n_events / t_total, 1) if t_total else None,
            "query_events_per_cpu_s": round(n_events / c_query, 1) if c_query else None,
            "end_to_end_events_per_cpu_s": round(n_events / c_total, 1) if c_total else None,
            "regexp_calls": regex.calls,
            "cpu_s": {
                "load_convert": round(c_convert, 3),
                "ingest": round(c_ingest, 3),
                "query": round(c_query, 3),
                "total": round(c_total, 3),
            },
            "note": "wall-clock seconds (the *_s keys and events/s) and the process's CPU seconds (cpu_s); "
            "on a shared machine compare cpu_s",
        },
        "top_rules": [
            {"id": k, "title": titles.get(k, ""), "matches": v} for k, v in per_rule.most_common(25) if v
        ],
        "slowest_rules": [
            {"id": k, "title": titles.get(k, ""), "seconds": round(v, 3)} for k, v in rule_time.most_common(10)
        ],
        "regex": {
            "python_re_refused_rules": {r: sorted(p) for r, p in regex.fallback.items()},
            "re2_disagreements": (
                {
                    r: [
                        {"pattern": p, "python": a, "re2": b, "values": n,
                         "example": regex.examples.get((r, (p, a, b)))}
                        for (p, a, b), n in c.items()
                    ]
                    for r, c in regex.disagree.items()
                }
                if args.regex_diff
                else "not checked (--regex-diff)"
            ),
        },
        "semantics": {k: sorted(set(v)) for k, v in semantics.items()},
        "skipped_rules": skipped_rules,
    }
    if args.stats:
        with open(args.stats, "w", encoding="utf-8") as f:
            json.dump(stats, f, indent=1, ensure_ascii=False)
            f.write("\n")
    r = stats["rules"]
    tm = stats["timing"]
    print(
        f"sigma_oracle: {r['loaded']} rules loaded, {r['converted']} converted, {r['refused']} refused, "
        f"{r['skipped_logsource']} skipped by log source, {r['skipped_unsupported_fields']} by unsupported fields; "
        f"{n_events} events ({stats['events']['rejected']} rejected); {len(out)} matches of "
        f"{r['with_matches']} rules; convert {tm['load_convert_s']}s, ingest {tm['ingest_s']}s, "
        f"query {tm['query_s']}s ({tm['query_events_per_s']} ev/s), total {tm['total_s']}s "
        f"({tm['end_to_end_events_per_s']} ev/s)",
        file=sys.stderr,
    )
    return 0


def versions() -> dict:
    from importlib.metadata import version

    out = {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for pkg in ("pysigma", "pysigma-backend-sqlite", "google-re2"):
        try:
            out[pkg] = version(pkg)
        except Exception:
            out[pkg] = None
    return out


if __name__ == "__main__":
    sys.exit(main())
