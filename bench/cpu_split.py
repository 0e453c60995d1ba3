#!/usr/bin/env python3
"""Where the CPU went during a benchmark phase, per process and thread, from
/proc (user + system ticks), as microseconds per event: on a machine whose
cores the engine shares with the broker and Redis, the figure that says which
of them a faster run needs cheaper.

    bench/cpu_split.py snap FILE NAME=PID ...   # at the start of the phase
    bench/cpu_split.py diff FILE NAME=PID ... --events N   # at its end

Threads are grouped by name (librdkafka's rdk:broker1 of every client in one
line); the machine's busy time, from /proc/stat, includes everything else
running (the harness's own polling, other users)."""
import json
import os
import sys


def snapshot(procs):
    out = {"stat": [int(x) for x in open("/proc/stat").readline().split()[1:9]], "threads": {}}
    for name, pid in procs:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                s = open(f"/proc/{pid}/task/{tid}/stat").read()
                comm = s[s.index("(") + 1:s.rindex(")")]
                f = s[s.rindex(")") + 2:].split()
                out["threads"][f"{name}\t{comm}\t{tid}"] = int(f[11]) + int(f[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def main():
    args = sys.argv[1:]
    events = 0
    if "--events" in args:
        i = args.index("--events")
        events = int(args[i + 1])
        del args[i:i + 2]
    mode, path, procs = args[0], args[1], [a.split("=", 1) for a in args[2:]]
    now = snapshot(procs)
    if mode == "snap":
        json.dump(now, open(path, "w"))
        return
    before = json.load(open(path))
    hz = os.sysconf("SC_CLK_TCK")
    per = 1e6 / hz / events
    stat = [b - a for a, b in zip(before["stat"], now["stat"])]
    busy = sum(stat) - stat[3] - stat[4]
    by_thread, by_proc = {}, {}
    for key, ticks in now["threads"].items():
        d = ticks - before["threads"].get(key, 0)
        name, comm, _ = key.split("\t")
        by_thread[(name, comm)] = by_thread.get((name, comm), 0) + d
        by_proc[name] = by_proc.get(name, 0) + d
    print(f"CPU per event ({events} events): " +
          ", ".join(f"{n} {t * per:.2f} us" for n, t in sorted(by_proc.items(), key=lambda kv: -kv[1])) +
          f"; together {sum(by_proc.values()) * per:.2f} us, the machine busy {busy * per:.2f} us")
    top = sorted(by_thread.items(), key=lambda kv: -kv[1])
    print("  threads: " + ", ".join(f"{n}/{c} {t * per:.2f}" for (n, c), t in top if t * per >= 0.05))


if __name__ == "__main__":
    main()
