#!/usr/bin/env python3
"""Convert NXLog-flat Windows events (one JSON object per line) into the other
two event shapes the Sigma pipelines in config/sigma/pipelines/ read, line by
line, so that the same events give the same Sigma matches in every shape:

  --to evtx_json  EVTX rendered as JSON (evtx_json.yaml): header under
                  Event.System (XML attributes under "#attributes"), payload
                  under Event.EventData.
  --to ecs        Elastic Winlogbeat 8.x with its modules (ecs.yaml): header
                  under winlog.*, payload under winlog.event_data, and the
                  values the Winlogbeat modules move out of the payload in ECS
                  fields (process.executable, file.path, registry.path, ...).
  --to nxlog      the input, re-serialised (for symmetric test harnesses).

  scripts/sigma_shapes.py --to ecs < in.jsonl > out.jsonl
  scripts/sigma_shapes.py --check            # self-test; prints three events in each shape

The conversion is the inverse of the pipelines. Every key of the NXLog event is
reached by some Sigma field names through nxlog.yaml (SourceName by
Provider_Name and by SourceName, Hostname by Computer and by Hostname, any
other key K by K); its value is written where the target pipeline looks for
each of those names: the pipeline's `fields` entry or, failing that, its
`field_template` (Event.EventData.K, winlog.event_data.K). So header fields
land in Event.System / winlog.* and everything else, mapped by a rule or not,
stays reachable under the same Sigma name. Log-source entries' renames (Security
4688 calls Image NewProcessName) are nxlog's in all three pipelines, so
NewProcessName goes where each pipeline maps NewProcessName; ecs.yaml restates
one entry (image_load: Sysmon 7's OriginalFileName is file.pe.*), mirrored in
ECS["entry_fields"]. Where ecs.yaml lists several places for a field
([source.ip, winlog.event_data.IpAddress]) the value goes to the one Winlogbeat
would use for that channel, event id and value (module routing, Security's
common auth fields, "-" values that stay).

Values are carried verbatim, in the form the Sigma rules test: numbers stay
numbers (with their original text), strings stay strings. Winlogbeat's own
value transformations (User split into domain and name, Details "DWORD (0x1)"
-> "1", Initiated -> egress/ingress, pids as numbers, hashes lower-cased and
split) are not reproduced: ecs.yaml's header lists them, and a rule relying on
them cannot match real Winlogbeat data whatever the engine does. Two
exceptions follow Winlogbeat: winlog.event_id (and event.code) are strings
(values compare as text), and registry.data.strings, winlog.keywords and
related.ip are one-element arrays (--scalar writes plain values instead).
Keys with spaces ("Client Network Address:") stay literal under the template,
where the pipelines' strip_spaces finds them as nxlog's does.

The shape's timestamp field (Event.System.TimeCreated.#attributes.SystemTime,
@timestamp) gets the first present of nxlog.yaml's timestamp fields, verbatim.

Lines that are not valid UTF-8, not JSON (NaN and Infinity included), not a
JSON object, or holding an object with a duplicate key (json_parse refuses
those) are written unchanged, so line numbers stay aligned and the engine
dead-letters them in every shape. Python 3, standard library only.

The tables below mirror the YAML pipelines; scripts/sigma_shapes_check.py
compares them with the YAML and fails on any drift.
"""

import argparse
import json
import sys

# ----------------------------------------------------------------------------
# Pipeline tables (mirrors of config/sigma/pipelines/*.yaml, base resolved).

NXLOG = {
    "template": "{}",
    "fields": {"Provider_Name": "SourceName", "Computer": "Hostname"},
    "timestamp": ["@timestamp", "EventTime", "TimeCreated"],
    # Event field names are also compared without their spaces; evtx_json and
    # ecs inherit this.
    "strip_spaces": True,
}

EVTX = {
    "template": "Event.EventData.{}",
    "fields": {
        "EventID": ["Event.System.EventID", "Event.System.EventID.#text"],
        "Channel": "Event.System.Channel",
        "Computer": "Event.System.Computer",
        "Provider_Name": "Event.System.Provider.#attributes.Name",
        "Provider_Guid": "Event.System.Provider.#attributes.Guid",
        "EventRecordID": "Event.System.EventRecordID",
        "Level": "Event.System.Level",
        "Task": "Event.System.Task",
        "Opcode": "Event.System.Opcode",
        "Keywords": "Event.System.Keywords",
        "Version": "Event.System.Version",
        "Security_UserID": "Event.System.Security.#attributes.UserID",
        "Execution_ProcessID": "Event.System.Execution.#attributes.ProcessID",
        "Execution_ThreadID": "Event.System.Execution.#attributes.ThreadID",
    },
    "timestamp": ["Event.System.TimeCreated.#attributes.SystemTime"],
}


def _ed(name, *ecs):
    """[ECS field(s) a module moves `name` to ..., winlog.event_data.<name>]"""
    return list(ecs) + ["winlog.event_data." + name]


ECS = {
    "template": "winlog.event_data.{}",
    "fields": {
        "EventID": "winlog.event_id",
        "Channel": "winlog.channel",
        "Provider_Name": "winlog.provider_name",
        "Provider_Guid": "winlog.provider_guid",
        "Computer": "winlog.computer_name",
        "EventRecordID": "winlog.record_id",
        "Level": "log.level",
        "Task": "winlog.task",
        "Opcode": "winlog.opcode",
        "Keywords": "winlog.keywords",
        "Version": "winlog.version",
        "Security_UserID": "winlog.user.identifier",
        "Execution_ProcessID": "winlog.process.pid",
        "Execution_ThreadID": "winlog.process.thread.id",
        "Message": "message",
        "Image": "process.executable",
        "SourceImage": "process.executable",
        "Destination": "process.executable",
        "CommandLine": "process.command_line",
        "CurrentDirectory": "process.working_directory",
        "ParentImage": "process.parent.executable",
        "ParentCommandLine": "process.parent.command_line",
        "ProcessGuid": "process.entity_id",
        "SourceProcessGuid": "process.entity_id",
        "SourceProcessGUID": "process.entity_id",
        "ParentProcessGuid": "process.parent.entity_id",
        "ProcessId": _ed("ProcessId", "process.pid"),
        "SourceProcessId": "process.pid",
        "SourceThreadId": "process.thread.id",
        "ParentProcessId": "process.parent.pid",
        "OriginalFileName": "process.pe.original_file_name",
        "file.pe.original_file_name": "file.pe.original_file_name",
        "TargetFilename": "file.path",
        "ImageLoaded": "file.path",
        "Device": "file.path",
        "PipeName": "file.name",
        "TargetObject": "registry.path",
        "Details": "registry.data.strings",
        "Protocol": _ed("Protocol", "network.transport"),
        "Initiated": "network.direction",
        "DestinationPortName": "network.protocol",
        "SourceIp": "source.ip",
        "SourceHostname": "source.domain",
        "SourcePort": _ed("SourcePort", "source.port"),
        "DestinationIp": "destination.ip",
        "DestinationHostname": "destination.domain",
        "DestinationPort": "destination.port",
        "QueryName": _ed("QueryName", "dns.question.name"),
        "QueryStatus": _ed("QueryStatus", "sysmon.dns.status"),
        "Archived": "sysmon.file.archived",
        "IsExecutable": "sysmon.file.is_executable",
        "RuleName": _ed("RuleName", "rule.name"),
        "User": "user.name",
        "NewProcessName": "process.executable",
        "NewProcessId": "process.pid",
        "ParentProcessName": "process.parent.executable",
        "ProcessName": _ed("ProcessName", "process.executable"),
        "IpAddress": _ed("IpAddress", "source.ip"),
        "IpPort": _ed("IpPort", "source.port"),
        "WorkstationName": _ed("WorkstationName", "source.domain"),
        "ClientAddress": _ed("ClientAddress", "related.ip"),
        "ScriptBlockText": _ed("ScriptBlockText", "powershell.file.script_block_text"),
        "ScriptBlockId": _ed("ScriptBlockId", "powershell.file.script_block_id"),
        "Path": _ed("Path", "file.path"),
        "MessageNumber": _ed("MessageNumber", "powershell.sequence"),
        "MessageTotal": _ed("MessageTotal", "powershell.total"),
        "HostApplication": _ed("HostApplication", "process.command_line"),
        "HostName": _ed("HostName", "process.title"),
        "HostId": _ed("HostId", "process.entity_id"),
        "HostVersion": _ed("HostVersion", "powershell.process.executable_version"),
        "EngineVersion": _ed("EngineVersion", "powershell.engine.version"),
        "RunspaceId": _ed("RunspaceId", "powershell.runspace_id"),
        "PipelineId": _ed("PipelineId", "powershell.pipeline_id"),
        "CommandName": _ed("CommandName", "powershell.command.name"),
        "CommandPath": _ed("CommandPath", "powershell.command.path"),
        "CommandType": _ed("CommandType", "powershell.command.type"),
        "NewEngineState": _ed("NewEngineState", "powershell.engine.new_state"),
        "PreviousEngineState": _ed("PreviousEngineState", "powershell.engine.previous_state"),
        "NewProviderState": _ed("NewProviderState", "powershell.provider.new_state"),
        "ProviderName": _ed("ProviderName", "powershell.provider.name"),
        "SequenceNumber": _ed("SequenceNumber", "event.sequence"),
    },
    "timestamp": ["@timestamp"],
    # Log-source entries ecs.yaml restates with renames of its own, by
    # (category, service): Sysmon 7 keeps OriginalFileName in file.pe.*.
    "entry_fields": {("image_load", None): {"OriginalFileName": "file.pe.original_file_name"}},
}

SHAPES = {"nxlog": NXLOG, "evtx_json": EVTX, "ecs": ECS}

# ECS fields Winlogbeat writes as arrays.
ECS_ARRAYS = {"registry.data.strings", "winlog.keywords", "related.ip"}

# ----------------------------------------------------------------------------
# Where Winlogbeat's modules put a field, per event (for fields ecs.yaml maps
# to several places). A value is a path or a function (event id, value) ->
# path or None; None (or no entry) means the field stays in winlog.event_data.

SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SECURITY_PROVIDERS = ("Microsoft-Windows-Security-Auditing", "Microsoft-Windows-Eventlog")

# security.yml, "Rename Common Auth Fields".
COMMON_AUTH_EVENTS = {
    1100, 1102, 1104, 1105, 1108, 4624, 4648, 4625, 4670, 4673, 4674, 4689, 4697,
    4719, 4720, 4722, 4723, 4724, 4725, 4726, 4727, 4728, 4729, 4730, 4731, 4732,
    4733, 4734, 4735, 4737, 4738, 4740, 4741, 4742, 4743, 4744, 4745, 4746, 4747,
    4748, 4749, 4750, 4751, 4752, 4753, 4754, 4755, 4756, 4757, 4758, 4759, 4760,
    4761, 4762, 4763, 4764, 4767, 4768, 4769, 4770, 4771, 4798, 4799, 4817, 4904,
    4905, 4907, 4912,
}
def _nonempty(path):
    return lambda eid, v: None if v in ("", "-", None) else path


MOVES = {
    "sysmon": {
        "Image": "process.executable",
        "SourceImage": "process.executable",
        "Destination": "process.executable",
        "CommandLine": "process.command_line",
        "CurrentDirectory": "process.working_directory",
        "ParentImage": "process.parent.executable",
        "ParentCommandLine": "process.parent.command_line",
        "ProcessGuid": "process.entity_id",
        "SourceProcessGuid": "process.entity_id",
        "SourceProcessGUID": "process.entity_id",
        "ParentProcessGuid": "process.parent.entity_id",
        "ProcessId": "process.pid",
        "SourceProcessId": "process.pid",
        "SourceThreadId": "process.thread.id",
        "ParentProcessId": "process.parent.pid",
        "OriginalFileName": lambda eid, v: ("file.pe.original_file_name" if eid == 7
                                            else "process.pe.original_file_name"),
        "TargetFilename": "file.path",
        "ImageLoaded": "file.path",
        "Device": "file.path",
        "PipeName": "file.name",
        "TargetObject": lambda eid, v: "registry.path" if eid in (12, 13, 14) else None,
        "Details": lambda eid, v: "registry.data.strings" if eid in (12, 13, 14) else None,
        "Protocol": "network.transport",
        "Initiated": "network.direction",
        "DestinationPortName": lambda eid, v: None if eid == 22 else "network.protocol",
        "SourceIp": "source.ip",
        "SourceHostname": "source.domain",
        "SourcePort": "source.port",
        "DestinationIp": "destination.ip",
        "DestinationHostname": "destination.domain",
        "DestinationPort": "destination.port",
        "QueryName": "dns.question.name",
        "QueryStatus": "sysmon.dns.status",
        "Archived": "sysmon.file.archived",
        "IsExecutable": "sysmon.file.is_executable",
        "RuleName": _nonempty("rule.name"),
        "User": "user.name",
    },
    "security": {
        "NewProcessName": lambda eid, v: "process.executable" if eid == 4688 else None,
        "NewProcessId": lambda eid, v: "process.pid" if eid == 4688 else None,
        "ParentProcessName": lambda eid, v: "process.parent.executable" if eid == 4688 else None,
        "CommandLine": lambda eid, v: "process.command_line" if eid == 4688 else None,
        "ProcessId": lambda eid, v: "process.pid" if eid in COMMON_AUTH_EVENTS else None,
        "ProcessName": lambda eid, v: "process.executable" if eid in COMMON_AUTH_EVENTS else None,
        "IpAddress": lambda eid, v: ("source.ip" if eid in COMMON_AUTH_EVENTS and v != "-"
                                     else None),
        "IpPort": lambda eid, v: ("source.port" if eid in COMMON_AUTH_EVENTS and v != "-"
                                  else None),
        "WorkstationName": lambda eid, v: ("source.domain" if eid in COMMON_AUTH_EVENTS
                                           else None),
        "ClientAddress": lambda eid, v: ("related.ip" if eid in COMMON_AUTH_EVENTS and v != "-"
                                         else None),
    },
    "powershell": {
        "HostApplication": _nonempty("process.command_line"),
        "HostName": _nonempty("process.title"),
        "HostId": _nonempty("process.entity_id"),
        "HostVersion": _nonempty("powershell.process.executable_version"),
        "EngineVersion": _nonempty("powershell.engine.version"),
        "RunspaceId": _nonempty("powershell.runspace_id"),
        "PipelineId": _nonempty("powershell.pipeline_id"),
        "CommandName": _nonempty("powershell.command.name"),
        "CommandPath": _nonempty("powershell.command.path"),
        "CommandType": _nonempty("powershell.command.type"),
        "NewEngineState": _nonempty("powershell.engine.new_state"),
        "PreviousEngineState": _nonempty("powershell.engine.previous_state"),
        "NewProviderState": _nonempty("powershell.provider.new_state"),
        "ProviderName": _nonempty("powershell.provider.name"),
        "SequenceNumber": "event.sequence",
    },
    "powershell_operational": {
        "HostApplication": _nonempty("process.command_line"),
        "HostName": _nonempty("process.title"),
        "HostVersion": _nonempty("powershell.process.executable_version"),
        "EngineVersion": _nonempty("powershell.engine.version"),
        "RunspaceId": _nonempty("powershell.runspace_id"),
        "CommandName": _nonempty("powershell.command.name"),
        "CommandPath": _nonempty("powershell.command.path"),
        "CommandType": _nonempty("powershell.command.type"),
        "ScriptBlockText": _nonempty("powershell.file.script_block_text"),
        "ScriptBlockId": _nonempty("powershell.file.script_block_id"),
        "MessageNumber": "powershell.sequence",
        "MessageTotal": "powershell.total",
        "Path": lambda eid, v: None if v == "" else "file.path",
        "User": "user.name",
        "SequenceNumber": "event.sequence",
    },
}

# Security 4688 copies CommandLine to process.command_line and keeps it in
# winlog.event_data (where ecs.yaml does not look: an unread copy).
KEEP_COPY = {("security", "CommandLine")}


def winlogbeat_module(ev):
    """The module routing.yml sends the event to (None: raw winlog.event_data)."""
    channel = ev.get("Channel")
    if channel == "Security" and ev.get("SourceName") in SECURITY_PROVIDERS:
        return "security"
    if channel == SYSMON_CHANNEL:
        return "sysmon"
    if channel == "Windows PowerShell":
        return "powershell"
    if channel == "Microsoft-Windows-PowerShell/Operational":
        return "powershell_operational"
    return None


# ----------------------------------------------------------------------------
# JSON that keeps numbers' text.

class RawInt(int):
    def __new__(cls, text):
        obj = int.__new__(cls, text)
        obj.raw = text
        return obj


class RawFloat(float):
    def __new__(cls, text):
        obj = float.__new__(cls, text)
        obj.raw = text
        return obj


class _Invalid(ValueError):
    pass


def _reject_constant(name):
    raise _Invalid("non-JSON constant " + name)


class _Duplicate(ValueError):
    pass


class Stats:
    def __init__(self):
        self.converted = 0
        self.passed = 0
        self.duplicate_keys = 0
        self.conflicts = {}

    def conflict(self, what):
        self.conflicts[what] = self.conflicts.get(what, 0) + 1


STATS = Stats()


def _no_duplicates(pairs):
    out = dict(pairs)
    if len(out) != len(pairs):
        STATS.duplicate_keys += 1
        raise _Duplicate("duplicate key")
    return out


_DECODER = json.JSONDecoder(parse_int=RawInt, parse_float=RawFloat,
                            parse_constant=_reject_constant, object_pairs_hook=_no_duplicates)


def parse_line(text):
    """The JSON object on a line, or None when the line must pass through."""
    try:
        obj = _DECODER.decode(text)
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _dump(v, out, ascii_only, indent=None, level=0):
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, (RawInt, RawFloat)):
        out.append(v.raw)
    elif isinstance(v, (int, float)):
        out.append(json.dumps(v))
    elif isinstance(v, str):
        out.append(json.dumps(v, ensure_ascii=ascii_only))
    elif isinstance(v, (list, dict)):
        items = list(v.items()) if isinstance(v, dict) else list(enumerate(v))
        out.append("{" if isinstance(v, dict) else "[")
        inner = "\n" + " " * (indent * (level + 1)) if indent and items else ""
        for i, (k, x) in enumerate(items):
            if i:
                out.append(",")
            out.append(inner)
            if isinstance(v, dict):
                out.append(json.dumps(k, ensure_ascii=ascii_only))
                out.append(": " if indent else ":")
            _dump(x, out, ascii_only, indent, level + 1)
        if inner:
            out.append("\n" + " " * (indent * level))
        out.append("}" if isinstance(v, dict) else "]")
    else:
        raise TypeError("cannot serialise %r" % (v,))


def dumps(obj, indent=None):
    """JSON as UTF-8 bytes (compact unless indent); lone surrogates are escaped."""
    out = []
    _dump(obj, out, False, indent)
    try:
        return "".join(out).encode("utf-8")
    except UnicodeEncodeError:
        out = []
        _dump(obj, out, True, indent)
        return "".join(out).encode("utf-8")


# ----------------------------------------------------------------------------
# Conversion.

def _as_int(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v.strip())
        except ValueError:
            return None
    return None


def _text(v):
    if isinstance(v, (RawInt, RawFloat)):
        return v.raw
    if isinstance(v, str):
        return v
    return dumps(v).decode("utf-8")


def sigma_names_reaching(key):
    """Sigma field names that nxlog.yaml resolves to the NXLog key `key`.

    With strip_spaces the key's name without spaces reaches it too; that name
    is returned second (only where it differs)."""
    names = []
    for sigma, target in NXLOG["fields"].items():
        targets = target if isinstance(target, list) else [target]
        if key in targets:
            names.append(sigma)
    if key not in NXLOG["fields"]:  # else the name `key` itself is mapped elsewhere
        names.append(key)
    if NXLOG.get("strip_spaces") and " " in key:
        stripped = key.replace(" ", "")
        if stripped not in NXLOG["fields"] and stripped not in names:
            names.append(stripped)
    return names


def _set(doc, path, value):
    """Set a dotted path; False if something is already there."""
    parts = path.split(".")
    node = doc
    for p in parts[:-1]:
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        elif not isinstance(nxt, dict):
            return False
        node = nxt
    if parts[-1] in node:
        return node[parts[-1]] == value
    node[parts[-1]] = value
    return True


def _targets(shape, sigma):
    target = shape["fields"].get(sigma)
    if target is None:
        return [shape["template"].replace("{}", sigma)]
    return target if isinstance(target, list) else [target]


def _allowed(shape, sigma):
    """Every place the shape's pipeline reads `sigma` from, entry renames included."""
    out = list(_targets(shape, sigma))
    for renames in shape.get("entry_fields", {}).values():
        if sigma in renames:
            out += [p for p in _targets(shape, renames[sigma]) if p not in out]
    return out


def _ecs_choice(sigma, alternatives, allowed, module, eid, value):
    """Pick the place Winlogbeat would use among those ecs.yaml reads."""
    move = MOVES.get(module, {}).get(sigma) if module else None
    if callable(move):
        move = move(eid, value)
    if move is not None and move in allowed:
        return move
    if len(alternatives) == 1:
        return alternatives[0]
    raw = [a for a in alternatives if a.startswith("winlog.event_data.")]
    return raw[-1] if raw else alternatives[0]


def convert_event(ev, to, scalar=False):
    """Convert one NXLog event (a dict from parse_line) to shape `to`."""
    if to == "nxlog":
        return ev
    shape = SHAPES[to]
    doc = {}
    eid = _as_int(ev.get("EventID"))
    module = winlogbeat_module(ev) if to == "ecs" else None

    def place(path, value, sigma, fallbacks):
        if to == "ecs" and path == "winlog.event_id" and value is not None:
            value = _text(value)
        if to == "ecs" and path in ECS_ARRAYS and not scalar and not isinstance(value, list):
            value = [value]
        if _set(doc, path, value):
            return
        for alt in fallbacks:
            if alt != path and _set(doc, alt, value):
                STATS.conflict("%s: %s taken, used %s" % (sigma, path, alt))
                return
        STATS.conflict("%s: %s taken, value dropped" % (sigma, path))

    for key, value in ev.items():
        for n, sigma in enumerate(sigma_names_reaching(key)):
            if n and " " in key and key.replace(" ", "") == sigma and sigma not in shape["fields"]:
                continue  # the literal key under the template is found without its spaces
            alts = _targets(shape, sigma)
            if to == "ecs":
                path = _ecs_choice(sigma, alts, _allowed(shape, sigma), module, eid, value)
            else:
                path = alts[0]
            place(path, value, sigma, [a for a in alts if a != path])
            if to == "ecs" and (module, sigma) in KEEP_COPY:
                _set(doc, shape["template"].replace("{}", sigma), value)

    # The shape's own timestamp field: the first present nxlog timestamp.
    for field in NXLOG["timestamp"]:
        if field in ev:
            _set(doc, shape["timestamp"][0], ev[field])
            break

    if to == "ecs" and "EventID" in ev and ev["EventID"] is not None:
        _set(doc, "event.code", _text(ev["EventID"]))
    if to == "evtx_json":
        doc = _order_evtx(doc)
    elif to == "ecs":
        doc = _order_ecs(doc)
    return doc


_SYSTEM_ORDER = ["Provider", "EventID", "Version", "Level", "Task", "Opcode", "Keywords",
                 "TimeCreated", "EventRecordID", "Correlation", "Execution", "Channel",
                 "Computer", "Security"]


def _order_evtx(doc):
    event = doc.get("Event", {})
    system = event.get("System", {})
    ordered = {k: system[k] for k in _SYSTEM_ORDER if k in system}
    ordered.update((k, v) for k, v in system.items() if k not in ordered)
    new_event = {"System": ordered, "EventData": event.get("EventData", {})}
    new_event.update((k, v) for k, v in event.items() if k not in new_event)
    out = {"Event": new_event}
    out.update((k, v) for k, v in doc.items() if k != "Event")
    return out


_ECS_ORDER = ["@timestamp", "message", "event", "log", "winlog"]
_WINLOG_ORDER = ["channel", "event_id", "provider_name", "provider_guid", "computer_name",
                 "record_id", "task", "opcode", "keywords", "version", "process", "user"]


def _order_ecs(doc):
    winlog = doc.get("winlog")
    if isinstance(winlog, dict):
        ordered = {k: winlog[k] for k in _WINLOG_ORDER if k in winlog}
        ordered.update((k, v) for k, v in winlog.items() if k not in ordered and k != "event_data")
        if "event_data" in winlog:
            ordered["event_data"] = winlog["event_data"]
        doc["winlog"] = ordered
    out = {k: doc[k] for k in _ECS_ORDER if k in doc}
    out.update((k, v) for k, v in doc.items() if k not in out)
    return out


def convert_line(raw, to, scalar=False):
    """One input line (bytes, without its newline) -> output bytes."""
    body = raw[:-1] if raw.endswith(b"\r") else raw
    tail = raw[len(body):]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        STATS.passed += 1
        return raw
    ev = parse_line(text)
    if ev is None:
        STATS.passed += 1
        return raw
    STATS.converted += 1
    return dumps(convert_event(ev, to, scalar)) + tail


def convert_stream(inp, out, to, scalar=False):
    for line in inp:
        if line.endswith(b"\n"):
            out.write(convert_line(line[:-1], to, scalar) + b"\n")
        else:
            out.write(convert_line(line, to, scalar))


# ----------------------------------------------------------------------------
# Self-test.

SAMPLES = [
    # Sysmon 1 (aptsimulator_cobaltstrike, trimmed).
    '{"SourceName":"Microsoft-Windows-Sysmon","ProviderGuid":"{5770385f-c22a-43e0-bf4c-06f5698ffbd9}",'
    '"Level":"4","Keywords":"0x8000000000000000","Channel":"Microsoft-Windows-Sysmon/Operational",'
    '"Hostname":"WORKSTATION5","TimeCreated":"2021-06-11T09:07:15.635Z","@timestamp":"2021-06-11T09:07:15.635Z",'
    '"EventID":1,"Message":"Process Create:\\r\\nRuleName: -","Task":"1","RuleName":"-",'
    '"UtcTime":"2021-06-12 01:07:15.633","ProcessGuid":"{e2c04bb9-08c3-60c4-1c17-400100000000}",'
    '"ProcessId":"2164","Image":"C:\\\\Windows\\\\System32\\\\PING.EXE","OriginalFileName":"ping.exe",'
    '"CommandLine":"ping  -n 3 127.0.0.1 ","User":"WORKSTATION5\\\\APT-Simulator","IntegrityLevel":"High",'
    '"Hashes":"SHA1=565505D129A019780E351E615A29722AEF479380","ParentImage":"C:\\\\Windows\\\\System32\\\\cmd.exe",'
    '"ParentCommandLine":"\\"C:\\\\Windows\\\\system32\\\\cmd.exe\\" "}',
    # Sysmon 13 (NXLog through Logstash, trimmed).
    '{"@timestamp":"2020-09-21T07:17:17.549Z","Channel":"Microsoft-Windows-Sysmon/Operational",'
    '"Hostname":"WORKSTATION6.theshire.local","EventID":13,"SourceName":"Microsoft-Windows-Sysmon",'
    '"RecordNumber":1461,"ExecutionProcessID":3984,"ThreadID":4308,"UserID":"S-1-5-18",'
    '"EventTime":"2020-09-21 03:17:15","Keywords":-9223372036854775808,"SeverityValue":2,"Ratio":1.50,'
    '"EventType":"SetValue","Image":"C:\\\\Windows\\\\system32\\\\reg.exe",'
    '"TargetObject":"HKLM\\\\System\\\\CurrentControlSet\\\\Services\\\\EventLog\\\\Start",'
    '"Details":"DWORD (0x00000004)","User":"THESHIRE\\\\pgustavo","tags":["mordorDataset"]}',
    # Security 4688 (aptsimulator_cobaltstrike, trimmed).
    '{"SourceName":"Microsoft-Windows-Security-Auditing","Level":"0","Keywords":"0x8020000000000000",'
    '"Channel":"Security","Hostname":"WORKSTATION5","TimeCreated":"2021-06-11T09:07:17.666Z",'
    '"@timestamp":"2021-06-11T09:07:17.666Z","EventID":4688,"Task":"13312",'
    '"SubjectUserName":"APT-Simulator","SubjectLogonId":"0x3719fb","NewProcessId":"0x1948",'
    '"NewProcessName":"C:\\\\Windows\\\\System32\\\\cmd.exe","ProcessId":"0x1600",'
    '"CommandLine":"cmd.exe /c whoami","ParentProcessName":"C:\\\\Windows\\\\explorer.exe"}',
]


def _get(doc, path):
    node = doc
    for p in path.split("."):
        if not isinstance(node, dict) or p not in node:
            return KeyError
        node = node[p]
    return node


def self_test(verbose=True):
    failures = []

    def kind(v):
        return "number" if isinstance(v, (int, float)) and not isinstance(v, bool) else type(v)

    def expect(what, got, want):
        if got != want or kind(got) != kind(want):
            failures.append("%s: got %r, want %r" % (what, got, want))

    # The tables agree with themselves: every module destination is one of
    # the places ecs.yaml lists for that field.
    for module, moves in MOVES.items():
        for sigma, move in moves.items():
            alts = _allowed(ECS, sigma)
            dests = [move] if not callable(move) else sorted(
                {move(e, v) for e in list(range(0, 30)) + [255, 4624, 4688, 4689]
                 for v in ("x", "-", "")} - {None})
            for d in dests:
                if d not in alts:
                    failures.append("MOVES[%s][%s] -> %s is not where ecs.yaml reads it: %s"
                                    % (module, sigma, d, alts))

    events = [parse_line(s) for s in SAMPLES]
    for s, ev in zip(SAMPLES, events):
        if verbose:
            print("== nxlog\n" + s)
        for to in ("evtx_json", "ecs"):
            doc = convert_event(ev, to)
            if verbose:
                print("== " + to)
                print(dumps(doc, indent=1).decode("utf-8"))
        if verbose:
            print()

    sysmon1, sysmon13, sec4688 = events
    e = convert_event(sysmon1, "evtx_json")
    expect("evtx 1 EventID", _get(e, "Event.System.EventID"), 1)
    expect("evtx 1 Channel", _get(e, "Event.System.Channel"), SYSMON_CHANNEL)
    expect("evtx 1 Computer", _get(e, "Event.System.Computer"), "WORKSTATION5")
    expect("evtx 1 provider", _get(e, "Event.System.Provider.#attributes.Name"), "Microsoft-Windows-Sysmon")
    expect("evtx 1 time", _get(e, "Event.System.TimeCreated.#attributes.SystemTime"), "2021-06-11T09:07:15.635Z")
    expect("evtx 1 Level", _get(e, "Event.System.Level"), "4")
    expect("evtx 1 Image", _get(e, "Event.EventData.Image"), "C:\\Windows\\System32\\PING.EXE")
    expect("evtx 1 ProviderGuid kept", _get(e, "Event.EventData.ProviderGuid"), "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}")
    c = convert_event(sysmon1, "ecs")
    expect("ecs 1 event_id", _get(c, "winlog.event_id"), "1")
    expect("ecs 1 event.code", _get(c, "event.code"), "1")
    expect("ecs 1 channel", _get(c, "winlog.channel"), SYSMON_CHANNEL)
    expect("ecs 1 computer", _get(c, "winlog.computer_name"), "WORKSTATION5")
    expect("ecs 1 provider", _get(c, "winlog.provider_name"), "Microsoft-Windows-Sysmon")
    expect("ecs 1 @timestamp", _get(c, "@timestamp"), "2021-06-11T09:07:15.635Z")
    expect("ecs 1 Image", _get(c, "process.executable"), "C:\\Windows\\System32\\PING.EXE")
    expect("ecs 1 Image not raw", _get(c, "winlog.event_data.Image"), KeyError)
    expect("ecs 1 OriginalFileName", _get(c, "process.pe.original_file_name"), "ping.exe")
    expect("ecs 1 ParentImage", _get(c, "process.parent.executable"), "C:\\Windows\\System32\\cmd.exe")
    expect("ecs 1 User", _get(c, "user.name"), "WORKSTATION5\\APT-Simulator")
    expect("ecs 1 pid keeps its type", _get(c, "process.pid"), "2164")
    expect("ecs 1 RuleName '-' stays", _get(c, "winlog.event_data.RuleName"), "-")
    expect("ecs 1 Hashes stays", _get(c, "winlog.event_data.Hashes"), "SHA1=565505D129A019780E351E615A29722AEF479380")
    expect("ecs 1 Message", _get(c, "message"), "Process Create:\r\nRuleName: -")
    expect("ecs 1 Hostname alias", _get(c, "winlog.event_data.Hostname"), "WORKSTATION5")

    e = convert_event(sysmon13, "evtx_json")
    expect("evtx 13 Keywords", _get(e, "Event.System.Keywords"), -9223372036854775808)
    expect("evtx 13 time (EventTime absent: @timestamp first)",
           _get(e, "Event.System.TimeCreated.#attributes.SystemTime"), "2020-09-21T07:17:17.549Z")
    expect("evtx 13 TargetObject", _get(e, "Event.EventData.TargetObject"),
           "HKLM\\System\\CurrentControlSet\\Services\\EventLog\\Start")
    c = convert_event(sysmon13, "ecs")
    expect("ecs 13 registry.path", _get(c, "registry.path"),
           "HKLM\\System\\CurrentControlSet\\Services\\EventLog\\Start")
    expect("ecs 13 Details", _get(c, "registry.data.strings"), ["DWORD (0x00000004)"])
    expect("ecs 13 Details scalar", _get(convert_event(sysmon13, "ecs", scalar=True),
                                        "registry.data.strings"), "DWORD (0x00000004)")
    expect("ecs 13 keywords", _get(c, "winlog.keywords"), [-9223372036854775808])
    expect("ecs 13 EventType", _get(c, "winlog.event_data.EventType"), "SetValue")
    expect("ecs 13 unmapped kept", _get(c, "winlog.event_data.RecordNumber"), 1461)
    expect("ecs 13 list kept", _get(c, "winlog.event_data.tags"), ["mordorDataset"])
    raw = dumps(c).decode()
    if '"Ratio":1.50' not in raw or "-9223372036854775808" not in raw:
        failures.append("numbers lost their text: " + raw)

    e = convert_event(sec4688, "evtx_json")
    expect("evtx 4688 NewProcessName", _get(e, "Event.EventData.NewProcessName"), "C:\\Windows\\System32\\cmd.exe")
    expect("evtx 4688 EventID", _get(e, "Event.System.EventID"), 4688)
    c = convert_event(sec4688, "ecs")
    expect("ecs 4688 NewProcessName", _get(c, "process.executable"), "C:\\Windows\\System32\\cmd.exe")
    expect("ecs 4688 NewProcessName moved", _get(c, "winlog.event_data.NewProcessName"), KeyError)
    expect("ecs 4688 ParentProcessName", _get(c, "process.parent.executable"), "C:\\Windows\\explorer.exe")
    expect("ecs 4688 NewProcessId", _get(c, "process.pid"), "0x1948")
    expect("ecs 4688 creator ProcessId stays", _get(c, "winlog.event_data.ProcessId"), "0x1600")
    expect("ecs 4688 CommandLine", _get(c, "process.command_line"), "cmd.exe /c whoami")
    expect("ecs 4688 CommandLine copy", _get(c, "winlog.event_data.CommandLine"), "cmd.exe /c whoami")
    expect("ecs 4688 Subject stays", _get(c, "winlog.event_data.SubjectLogonId"), "0x3719fb")
    expect("ecs 4688 event_id", _get(c, "winlog.event_id"), "4688")

    # Lines that must pass through unchanged.
    for bad in [b"\xff\xfe{}", b"not json", b"[1,2]", b"42", b'"s"', b"", b"   ",
                b'{"a":NaN}', b'{"a":1', b"\xef\xbb\xbf{}", b'{"a":1,"a":2}', b'{"b":{"a":1,"a":2}}']:
        for to in ("evtx_json", "ecs"):
            got = convert_line(bad, to)
            if got != bad:
                failures.append("line %r changed to %r" % (bad, got))
    got = convert_line(b'{"EventID":1,"Channel":"X"}\r', "evtx_json")
    if not got.endswith(b"\r"):
        failures.append("CR lost: %r" % got)
    got = convert_line('{"EventID":1,"Image":"\\ud800é"}'.encode(), "ecs")
    try:
        got.decode("utf-8")
    except UnicodeDecodeError:
        failures.append("lone surrogate produced invalid UTF-8: %r" % got)

    if failures:
        print("FAILED:", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    print("self-test passed (%d conversions checked)" % 3, file=sys.stderr)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].rstrip(":") + ".",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--to", choices=sorted(SHAPES), help="target shape")
    ap.add_argument("--scalar", action="store_true",
                    help="ecs: write single values where Winlogbeat writes one-element arrays")
    ap.add_argument("--check", action="store_true", help="run the self-test and print samples")
    ap.add_argument("--stats", action="store_true", help="print counts to stderr at the end")
    args = ap.parse_args(argv)
    if args.check:
        return self_test()
    if not args.to:
        ap.error("--to is required")
    convert_stream(sys.stdin.buffer, sys.stdout.buffer, args.to, args.scalar)
    sys.stdout.buffer.flush()
    if args.stats or STATS.conflicts or STATS.duplicate_keys:
        print("sigma_shapes: %d converted, %d passed through (%d for duplicate keys)"
              % (STATS.converted, STATS.passed, STATS.duplicate_keys), file=sys.stderr)
        for what, n in sorted(STATS.conflicts.items()):
            print("  conflict x%d: %s" % (n, what), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
