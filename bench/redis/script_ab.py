#!/usr/bin/env python3
"""The idempotent Redis sink's Lua script, old against new, on the same
redis-server in the same run: each writes CALLS x 256 fresh alerts (1.2 KB
each, as config/kafka-redis.yaml's are) to a stream through EVALSHA, sent
with `redis-cli --pipe` so that the server's time is what is measured (the
sink's bound: Redis runs scripts on one thread). Rounds alternate.

    bench/redis/script_ab.py OLD_COMMIT [--port 16379] [--calls 400] [--rounds 3]

The old script is read from connectors/redis_sink.cpp at OLD_COMMIT, the new
one from the working tree. Each is called as the sink of its day calls it: a
dedupe key per alert (before the time-bucket hashes), or ten bucket hashes (the
sink reads nine for a week's TTL) and the ids as arguments."""
import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def script_of(text):
    return re.search(r'R"lua\((.*?)\)lua"', text, re.S).group(1)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def cli(port, *args, data=None):
    return subprocess.run(["redis-cli", "-p", str(port), *args], input=data, capture_output=True, check=True).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old_commit")
    ap.add_argument("--port", type=int, default=16379)
    ap.add_argument("--calls", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    old = script_of(subprocess.run(["git", "-C", str(ROOT), "show", f"{a.old_commit}:connectors/redis_sink.cpp"],
                                   capture_output=True, check=True, text=True).stdout)
    new = script_of((ROOT / "connectors/redis_sink.cpp").read_text())
    payload = b"x" * 1200
    rates = {"old": [], "new": []}
    for r in range(a.rounds):
        for name, body in (("old", old), ("new", new)):
            sha = cli(a.port, "SCRIPT", "LOAD", body).strip().decode()
            target = f"bench:ab:{name}:{r}"
            parts = []
            for c in range(a.calls):
                ids = [f"{name}:{r}:{c}:{i}" for i in range(256)]
                if "HMGET" in body:
                    keys = [f"bench:seen:{name}:{r}:{b}" for b in range(10)]
                    parts.append(resp("EVALSHA", sha, 1 + len(keys), target, *keys, 86400 * 9, "xadd", 1000000,
                                      "alert", 256, *ids, *([payload] * 256)))
                else:
                    keys = [f"bench:seen:{i}" for i in ids]
                    parts.append(resp("EVALSHA", sha, 1 + len(keys), target, *keys, 86400, "xadd", 1000000, "alert",
                                      *([payload] * 256)))
            data = b"".join(parts)
            t0 = time.perf_counter()
            out = cli(a.port, "--pipe", data=data)
            secs = time.perf_counter() - t0
            if b"errors: 0" not in out:
                sys.exit(f"{name}: {out.decode()}")
            rates[name].append(a.calls * 256 / secs)
            written = int(cli(a.port, "XLEN", target))
            assert written == a.calls * 256, (name, written)
            cli(a.port, "DEL", target)
            keys = cli(a.port, "--scan", "--pattern", f"bench:seen:{name}:{r}:*").split()
            if "HMGET" in body:
                assert sum(int(cli(a.port, "HLEN", k.decode())) for k in keys) == written, name
            for i in range(0, len(keys), 1000):
                cli(a.port, "DEL", *[k.decode() for k in keys[i:i + 1000]])
    med = {k: sorted(v)[len(v) // 2] for k, v in rates.items()}
    for k in ("old", "new"):
        print(f"{k}: " + ", ".join(f"{x:,.0f}" for x in rates[k]) + f" alerts/s (median {med[k]:,.0f})")
    print(f"new/old: {med['new'] / med['old']:.2f}")


if __name__ == "__main__":
    main()
