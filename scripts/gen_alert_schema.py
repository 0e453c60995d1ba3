#!/usr/bin/env python3
"""Writes docs/alert.schema.json, the JSON Schema (2020-12) every socstream alert
satisfies: the alert's own fields (event.kind .. event.reason, rule.*, threat.*,
tags, socstream.*) as written below, and every other field at an ECS path with
its ECS type, from config/ecs/fields.tsv. Anything else is refused
(additionalProperties: false), so the schema is a contract a consumer can
check alerts against.
  scripts/gen_alert_schema.py            # (re)writes the file
  scripts/gen_alert_schema.py --check    # exit 1 if the file is not what this writes
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ROOT / "config/ecs/fields.tsv"
OUT = ROOT / "docs/alert.schema.json"

TIME = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$"}
STRING = {"type": "string"}
STRINGS = {"type": "array", "items": STRING}
SEVERITY = {"enum": ["info", "low", "medium", "high", "critical"]}
ATTACK = {"type": "array", "items": {"type": "object", "required": ["id", "name"], "additionalProperties": False,
                                     "properties": {"id": STRING, "name": STRING}}}


# The ECS types, once each; fields refer to them.
DEFS = {
    "keyword": STRING,
    "keywords": {"anyOf": [STRING, STRINGS]},
    "long": {"type": "integer"},
    "float": {"type": "number"},
    "boolean": {"type": "boolean"},
    "ip": {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
    "date": TIME,
    "object": {"anyOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]},
}


def leaf(ecs_type, array):
    if ecs_type in ("long", "integer", "short", "byte", "unsigned_long"):
        name = "long"
    elif ecs_type in ("float", "double", "scaled_float", "half_float"):
        name = "float"
    elif ecs_type == "boolean":
        name = "boolean"
    elif ecs_type == "ip":
        name = "ip"
    elif ecs_type in ("date", "date_nanos"):
        name = "date"
    elif ecs_type in ("object", "nested", "flattened", "geo_point"):
        name = "object"
    else:
        name = "keywords" if array else "keyword"
    return {"$ref": "#/$defs/" + name}


def ecs_tree():
    """Nested properties for every ECS field: {"source": {"ip": leaf}} as schema objects."""
    root = {}
    version = ""
    for line in FIELDS.read_text().splitlines():
        if line.startswith("# ecs "):
            version = line[6:]
        if not line or line.startswith("#"):
            continue
        name, ecs_type, array = line.split("\t")
        node = root
        parts = name.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if "__leaf__" in node and not node["__object__"]:
                raise SystemExit(f"{name}: a field under a leaf")
        node = node.setdefault(parts[-1], {})
        node["__leaf__"] = leaf(ecs_type, array == "1")
        node["__object__"] = ecs_type in ("object", "nested", "flattened")
    return root, version


def to_schema(node):
    children = {k: to_schema(v) for k, v in sorted(node.items()) if not k.startswith("__")}
    if "__leaf__" not in node:
        return {"type": "object", "additionalProperties": False, "properties": children}
    if not node["__object__"]:
        return node["__leaf__"]
    # An object field (labels, dll.pe.sections): the event's object as it was,
    # or its keys placed one by one (labels.team, a string; ECS's own sub-fields typed).
    keys = {"type": "object", "additionalProperties": {"type": "string"}}
    if children:
        keys = {"type": "object", "properties": children}
    return {"anyOf": [keys, node["__leaf__"]]}


def rule_entry():
    # A Sigma rule (the entries that name a kind) is there in full: what an
    # analyst triages by, and the author DRL 1.1 requires, are never left out
    # (empty when the rule has none), so a consumer need not guess.
    sigma_required = ["kind", "title", "level", "status", "description", "author", "references", "falsepositives",
                      "logsource", "threat"]
    return {
        "type": "object", "required": ["id", "severity", "tags"], "additionalProperties": False,
        "if": {"required": ["kind"]}, "then": {"required": sigma_required},
        "properties": {
            "id": STRING, "severity": SEVERITY, "tags": STRINGS,
            "kind": {"enum": ["sigma", "sigma_correlation"]}, "title": STRING, "level": STRING, "status": STRING,
            "description": STRING, "author": STRING, "references": STRINGS, "falsepositives": STRINGS,
            "logsource": {"type": "object", "additionalProperties": False, "required": ["product", "category", "service"],
                          "properties": {"product": STRING, "category": STRING, "service": STRING}},
            "threat": {"type": "object", "additionalProperties": False,
                       "properties": {"tactics": ATTACK, "techniques": ATTACK}},
            "matched": {"type": "object"},
        },
    }


def attack_list(pattern):
    return {"type": "object", "required": ["id", "name", "reference"], "additionalProperties": False,
            "properties": {"id": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": pattern}},
                           "name": STRINGS, "reference": STRINGS}}


def schema():
    tree, version = ecs_tree()
    s = to_schema(tree)
    props = s["properties"]
    props["@timestamp"] = TIME
    props["ecs"] = {"type": "object", "required": ["version"], "additionalProperties": False,
                    "properties": {"version": {"const": version}}}
    props["message"] = STRING
    props["tags"] = STRINGS
    event = props["event"]
    event["required"] = ["kind", "id", "created", "severity", "risk_score", "reason"]
    event["properties"].update({
        "kind": {"const": "alert"},
        "id": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "created": TIME,
        "severity": {"type": "integer", "minimum": 1, "maximum": 5},
        "risk_score": {"enum": [0, 21, 47, 73, 99]},
        "reason": {"type": "string", "minLength": 1},
        "original": STRING,
    })
    props["rule"] = {
        "type": "object", "required": ["id", "name"], "additionalProperties": False,
        "properties": {"id": STRING, "name": STRING, "description": STRING, "reference": STRING,
                       "author": STRINGS, "ruleset": STRING, "category": STRING, "uuid": STRING, "version": STRING},
    }
    technique = attack_list(r"^T\d{4}$")
    technique["properties"]["subtechnique"] = attack_list(r"^T\d{4}\.\d{3}$")
    technique["required"] = []
    props["threat"] = {
        "type": "object", "required": ["framework"], "additionalProperties": False,
        "properties": {"framework": {"const": "MITRE ATT&CK"}, "tactic": attack_list(r"^TA\d{4}$"),
                       "technique": technique},
    }
    props["socstream"] = {
        "type": "object", "required": ["detector", "severity", "source", "rules", "fields"],
        "additionalProperties": False,
        "properties": {
            "detector": STRING,
            "severity": SEVERITY,
            "source": {"type": "object", "required": ["name", "stream", "partition", "offset"],
                       "additionalProperties": False,
                       "properties": {"name": STRING, "stream": STRING, "partition": {"type": "integer"},
                                      "offset": {"type": "integer"}}},
            "rules": {"type": "array", "items": rule_entry()},
            "model": {"type": "object", "required": ["name", "version", "label", "score"], "additionalProperties": False,
                      "properties": {"name": {}, "version": {}, "label": {}, "score": {"type": ["number", "null"]},
                                     "explanation": {"type": "array"},
                                     "unscored": {"type": "integer", "minimum": 1}}},
            "fields": {"type": "object"},
        },
    }
    s["required"] = ["@timestamp", "ecs", "event", "message", "rule", "socstream"]
    s["properties"] = dict(sorted(props.items()))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "socstream alert",
        "description": ("An alert from socstream's alert operator: an Elastic Common Schema " + version +
                        " document of event.kind alert (docs/alerts.md). Generated by scripts/gen_alert_schema.py "
                        "from config/ecs/fields.tsv; do not edit."),
        **s,
        "$defs": DEFS,
    }


def main():
    text = json.dumps(schema(), indent=1, ensure_ascii=False) + "\n"
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is not what scripts/gen_alert_schema.py writes: run it", file=sys.stderr)
            return 1
        print(f"{OUT.relative_to(ROOT)} is current")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
