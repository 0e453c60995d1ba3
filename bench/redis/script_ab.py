#!/usr/bin/env python3
"""The idempotent Redis sink's write path, old against new, on the same
redis-server in the same run: each writes CALLS x CHUNK fresh alerts (1.3 KB
each, as config/kafka-redis.yaml's are) to a stream, all of it sent with
`redis-cli --pipe` so that the server's time is what is measured (the sink's
bound: Redis runs commands on one thread). Rounds alternate.

    bench/redis/script_ab.py OLD_COMMIT [--port 16379] [--calls 300] [--rounds 3]

old: the Lua script read from connectors/redis_sink.cpp at OLD_COMMIT (one
EVALSHA per chunk of 256 carrying ids and payloads, ten bucket hashes).
new: the working tree's transaction, as the sink sends it for fresh ids: WATCH
the ten buckets, HMGET the ids in each, MULTI, one XADD per alert, EVAL of the
record script (kRecord), EXEC, per chunk of --new-chunk (the sink's default
transaction_events, 1024). With fresh ids the sink's second round trip is
known in advance, so pipelining both round trips gives Redis the same work.

Per round: alerts/s (wall clock of the pipe), and Redis's CPU per alert from
INFO cpu (user + sys of the whole server: parsing, commands, replies) and from
INFO commandstats (the commands' own time, top-level ones only: EVALSHA and
EXEC include the commands they run, which commandstats also lists), reset
before each round."""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = b"x" * 1300
NESTED = {"old": {"xadd", "hset", "hmget", "expire"}, "new": {"xadd", "eval", "hset", "expire", "type"}}
BUCKETS = 10  # the sink reads ten for a week's TTL
TTL = 86400 * 9


def lua_of(text):
    return re.search(r'R"lua\((.*?)\)lua"', text, re.S).group(1)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def cli(port, *args, data=None):
    return subprocess.run(["redis-cli", "-p", str(port), *args], input=data, capture_output=True, check=True).stdout


def info(port, section):
    out = {}
    for line in cli(port, "INFO", section).decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def ids_of(name, r, c, n):
    return [f"{name}{r:02d}{c:06d}{i:04d}".ljust(32, "0") for i in range(n)]  # 32 characters, as alert ids


def old_pipe(sha, name, r, calls, chunk):
    target, keys = f"bench:ab:{name}:{r}", [f"bench:seen:{name}:{r}:{b}" for b in range(BUCKETS)]
    parts = []
    for c in range(calls):
        ids = ids_of(name, r, c, chunk)
        parts.append(resp("EVALSHA", sha, 1 + len(keys), target, *keys, TTL, "xadd", 1000000, "alert", chunk, *ids,
                          *([PAYLOAD] * chunk)))
    return target, b"".join(parts)


def new_pipe(record, name, r, calls, chunk):
    target, keys = f"bench:ab:{name}:{r}", [f"bench:seen:{name}:{r}:{b}" for b in range(BUCKETS)]
    parts = []
    for c in range(calls):
        ids = ids_of(name, r, c, chunk)
        parts.append(resp("WATCH", *keys))
        parts.extend(resp("HMGET", k, *ids) for k in keys)
        parts.append(resp("MULTI"))
        parts.extend(resp("XADD", target, "MAXLEN", "~", 1000000, "*", "alert", PAYLOAD) for _ in ids)
        parts.append(resp("EVAL", record, 2, target, keys[0], TTL, "stream", *[x for i in ids for x in (i, "1")]))
        parts.append(resp("EXEC"))
    return target, b"".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old_commit")
    ap.add_argument("--port", type=int, default=16379)
    ap.add_argument("--calls", type=int, default=300, help="old: EVALSHA calls of 256 alerts per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--new-chunk", type=int, default=1024, help="new: alerts per transaction")
    a = ap.parse_args()
    old = lua_of(subprocess.run(["git", "-C", str(ROOT), "show", f"{a.old_commit}:connectors/redis_sink.cpp"],
                                capture_output=True, check=True, text=True).stdout)
    if "HMGET" not in old:
        sys.exit("the old commit's script does not use bucket hashes; compare against a later commit")
    record = lua_of((ROOT / "connectors/redis_sink.cpp").read_text())
    sha = cli(a.port, "SCRIPT", "LOAD", old).strip().decode()
    alerts = a.calls * 256
    new_calls = max(1, alerts // a.new_chunk)
    results = {"old": [], "new": []}
    for r in range(a.rounds):
        for name in ("old", "new"):
            if name == "old":
                target, data = old_pipe(sha, name, r, a.calls, 256)
                n = alerts
            else:
                target, data = new_pipe(record, name, r, new_calls, a.new_chunk)
                n = new_calls * a.new_chunk
            cli(a.port, "CONFIG", "RESETSTAT")
            cpu0 = info(a.port, "cpu")
            t0 = time.perf_counter()
            out = cli(a.port, "--pipe", data=data)
            secs = time.perf_counter() - t0
            cpu1 = info(a.port, "cpu")
            if b"errors: 0" not in out:
                sys.exit(f"{name}: {out.decode()}")
            cpu_us = sum(float(cpu1[k]) - float(cpu0[k]) for k in ("used_cpu_user", "used_cpu_sys")) * 1e6
            stats = info(a.port, "commandstats")
            per_cmd = {k[len("cmdstat_"):]: int(re.search(r"usec=(\d+)", v).group(1)) / n for k, v in stats.items()}
            cmd_us = sum(v for k, v in per_cmd.items() if k not in NESTED[name] and not k.startswith("config")) * n
            results[name].append((n / secs, cpu_us / n, cmd_us / n, per_cmd))
            written = int(cli(a.port, "XLEN", target))
            assert written == n, (name, written)
            keys = cli(a.port, "--scan", "--pattern", f"bench:seen:{name}:{r}:*").split()
            assert sum(int(cli(a.port, "HLEN", k.decode())) for k in keys) == written, name
            cli(a.port, "DEL", target, *[k.decode() for k in keys])
    med = {}
    for name in ("old", "new"):
        rows = results[name]
        rates = [x[0] for x in rows]
        cpu = sorted(x[1] for x in rows)[len(rows) // 2]
        cmd = sorted(x[2] for x in rows)[len(rows) // 2]
        med[name] = (sorted(rates)[len(rates) // 2], cpu, cmd)
        print(f"{name}: " + ", ".join(f"{x:,.0f}" for x in rates) + f" alerts/s (median {med[name][0]:,.0f}); "
              f"Redis CPU {cpu:.2f} us/alert (INFO cpu, median), top-level commands {cmd:.2f} us/alert (commandstats)")
        last = rows[-1][3]
        print("   by command, last round (us/alert): " +
              ", ".join(f"{k} {v:.2f}" for k, v in sorted(last.items(), key=lambda kv: -kv[1]) if v >= 0.01))
    print(f"new/old: alerts/s {med['new'][0] / med['old'][0]:.2f}, Redis CPU per alert {med['new'][1] / med['old'][1]:.2f}")


if __name__ == "__main__":
    main()
