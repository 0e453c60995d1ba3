#!/usr/bin/env python3
"""Builds the bundled sample of real Windows events for the Sigma topology,
config/samples/windows-events.jsonl, from the OTRF Security-Datasets zips:

    scripts/gen_windows_sample.py [--datasets DIR] [--out FILE] [--budget BYTES]

Each zip in DIR (default ../shared/data/windows-events/datasets) is one
recorded attack simulation, `<tactic>__<name>.zip`, holding one JSON-lines file
of NXLog-flattened events (the zips' network captures, *.cap/*.pcapng, and
macOS `__MACOSX/` entries are not events and are skipped). Lines are taken in
this order of priority, until --budget bytes:

  1. ATTACK: for the datasets in ATTACK_DATASETS (one or two per tactic), every
     Sysmon event with EventID 1, 3, 7, 10, 11, 12, 13 or 22, every Security
     event, and PowerShell/Operational 4103 and 4104: the attack with the
     telemetry Sigma rules look at.
  2. COMMANDS: for every other dataset, its process creations (Sysmon 1) and
     PowerShell script blocks (4104), so the sample holds the commands of
     every simulation (their Security 4688 twins only as background).
  3. MALFORMED: up to MAX_MALFORMED lines the datasets really contain that are
     not a JSON object (not UTF-8, not JSON, or not an object), for the dead-
     letter path.
  4. BACKGROUND: any other line, round-robin over the (Channel, EventID) kinds
     (rare kinds first get one each, then two...) and, within a kind, over the
     datasets, each taken if it still fits.

Channel names are compared case-insensitively (some datasets write
"security"). Output: the chosen lines, datasets in sorted order, each
dataset's lines in their original order, every line byte-for-byte as in the
dataset (never re-serialised) with its line end ("\\n" or "\\r\\n") replaced by
"\\n". Deterministic: sorted inputs, no randomness. Standard library only.
"""
import argparse
import collections
import json
import os
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_DATASETS = os.path.join(ROOT, "..", "shared", "data", "windows-events", "datasets")
DEFAULT_OUT = os.path.join(ROOT, "config", "samples", "windows-events.jsonl")
DEFAULT_BUDGET = 4_800_000

ATTACK_DATASETS = [
    "credential_access__psh_lsass_memory_dump_comsvcs",   # T1003.001 rundll32 comsvcs.dll MiniDump of lsass
    "credential_access__cmd_sam_copy_esentutl",           # T1003.002 esentutl /vss copy of the SAM hive
    "defense_evasion__psh_mavinject_dll_notepad",         # T1055 mavinject DLL injection into notepad
    "discovery__cmd_discover_iexplorer_version_registry",  # T1518 reg query of the IE version
    "execution__psh_powershell_httplistener",             # T1059.001 PowerShell HTTP listener
    "lateral_movement__covenant_copy_smb_CreateRequest",  # T1021.002 remote file copy over SMB
    "persistence__cmd_userinitmprlogonscript_batch",      # T1037.001 UserInitMprLogonScript logon script
]
MAX_MALFORMED = 5

SYSMON = "microsoft-windows-sysmon/operational"
SECURITY = "security"
POWERSHELL = "microsoft-windows-powershell/operational"
ATTACK_SYSMON_IDS = {1, 3, 7, 10, 11, 12, 13, 22}

ATTACK, COMMANDS, MALFORMED, BACKGROUND = "attack", "commands", "malformed", "background"


def members(datasets_dir):
    """(dataset name, zip path, member name) of every JSON-lines file, sorted."""
    out = []
    for zname in sorted(os.listdir(datasets_dir)):
        if not zname.endswith(".zip"):
            continue
        path = os.path.join(datasets_dir, zname)
        with zipfile.ZipFile(path) as zf:
            for m in sorted(zf.namelist()):
                if m.endswith(".json") and not m.startswith("__MACOSX/") and "/._" not in m:
                    out.append((zname[:-4], path, m))
    return out


def lines_of(path, member):
    """The member's lines without their line ends ("\\n", "\\r\\n"), as bytes."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read(member)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [l[:-1] if l.endswith(b"\r") else l for l in lines]


def kind_of(line):
    """(channel as written, EventID) for a JSON object line, None if malformed."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(obj, dict):
        return None
    return (str(obj.get("Channel", "")), obj.get("EventID"))


def tier(dataset, kind, attack_set):
    channel, eid = kind[0].lower(), kind[1]
    if dataset in attack_set:
        if (channel == SYSMON and eid in ATTACK_SYSMON_IDS) or channel == SECURITY \
                or (channel == POWERSHELL and eid in (4103, 4104)):
            return ATTACK
    elif (channel == SYSMON and eid == 1) or (channel == POWERSHELL and eid == 4104):
        return COMMANDS
    return BACKGROUND


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=DEFAULT_DATASETS)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="bytes (default %(default)s)")
    args = ap.parse_args()

    files = members(args.datasets)
    names = [f[0] for f in files]
    missing = [d for d in ATTACK_DATASETS if d not in names]
    if missing:
        sys.exit(f"missing datasets: {missing}")
    attack_set = set(ATTACK_DATASETS)

    # Pass 1: classify every line. chosen[(file index, line index)] = tier.
    chosen = {}
    total = 0
    malformed = []
    background = collections.defaultdict(lambda: collections.defaultdict(list))  # kind -> file -> [(file, line, size)]
    for fi, (name, path, member) in enumerate(files):
        for li, line in enumerate(lines_of(path, member)):
            size = len(line) + 1
            kind = kind_of(line)
            if kind is None:
                malformed.append((fi, li, size))
                continue
            t = tier(name, kind, attack_set)
            if t == BACKGROUND:
                background[(kind[0], str(kind[1]))][fi].append((fi, li, size))
            else:
                chosen[(fi, li)] = t
                total += size
    for fi, li, size in malformed[:MAX_MALFORMED]:
        chosen[(fi, li)] = MALFORMED
        total += size
    if total > args.budget:
        sys.exit(f"the attack and command events alone take {total} bytes, over the budget of {args.budget}")

    # Background: round-robin over kinds, and within a kind over datasets.
    queues = []
    for kind in sorted(background):
        per_file = [background[kind][fi] for fi in sorted(background[kind])]
        queue = []
        depth = max(len(p) for p in per_file)
        for r in range(depth):
            for p in per_file:
                if r < len(p):
                    queue.append(p[r])
        queues.append((kind, queue))
    smallest = min((s for _, q in queues for _, _, s in q), default=0)
    r = 0
    while args.budget - total >= smallest and any(r < len(q) for _, q in queues):
        for kind, q in queues:
            if r < len(q):
                fi, li, size = q[r]
                if total + size <= args.budget:
                    chosen[(fi, li)] = BACKGROUND
                    total += size
        r += 1

    # Pass 2: write the chosen lines in dataset order, original order within.
    counts = collections.Counter()
    tiers = collections.Counter()
    per_dataset = collections.Counter()
    n = 0
    tmp = args.out + ".tmp"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(tmp, "wb") as out:
        for fi, (name, path, member) in enumerate(files):
            for li, line in enumerate(lines_of(path, member)):
                t = chosen.get((fi, li))
                if t is None:
                    continue
                out.write(line + b"\n")
                n += 1
                tiers[t] += 1
                per_dataset[name] += 1
                kind = kind_of(line)
                counts[kind if kind else ("(malformed)", repr(line[:20]))] += 1
    os.replace(tmp, args.out)

    size = os.path.getsize(args.out)
    print(f"{args.out}: {size} bytes, {n} lines from {len(per_dataset)} datasets "
          f"({', '.join(f'{k} {v}' for k, v in sorted(tiers.items()))})")
    print("top (Channel, EventID):")
    for (ch, eid), c in counts.most_common(20):
        print(f"  {c:6d}  {ch}  {eid}")


if __name__ == "__main__":
    main()
