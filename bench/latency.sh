#!/usr/bin/env bash
# socstream's latency alone, in steady state, as bench/compare.sh measures it:
# a warm-up of W events (the end of the data file, not measured), then RATE
# events/s for 20 s; produce time (CreateTime) to the alert's Redis entry.
#   bench/latency.sh RATE [W] [CONFIG]   defaults: W = 200000, CONFIG = config/kafka-redis.yaml
# The repeat runs in bench/RESULTS.md ("Repeat runs") were made this way.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
RATE="${1:?usage: bench/latency.sh RATE [WARMUP] [CONFIG]}"
W="${2:-200000}"
CFG="${3:-config/kafka-redis.yaml}"
N=1000000
source bench/cluster.sh
data="bench/data/web-access-$N.jsonl"
[ -s "$data" ] || python3 scripts/gen_web_access.py --count "$N" --out "$data" --truth "bench/data/web-access-$N.truth.csv"
n=$(( RATE * 20 )); [ "$n" -gt $(( N - W )) ] && n=$(( N - W ))
id=$(date +%s%N | cut -c1-13)
topic="lat-$id" group="lat-g-$id" stream="lat-alerts-$id"
head -n "$n" "$data" > bench/out/latency-only.jsonl
tail -n "$W" "$data" > bench/out/latency-only-warmup.jsonl
$tool create-topic "$topic" 4 >/dev/null
engine_cmd "$CFG" "$topic" "$group" "$stream" >/dev/null 2>"bench/out/$stream.log" &
bg_pid=$!
$tool produce "$topic" bench/out/latency-only-warmup.jsonl | sed 's/^/warm-up: /'
while [ "$(committed "$topic" "$group")" -lt "$W" ]; do alive; sleep 0.2; done
since=$(now_ms)
$tool produce "$topic" bench/out/latency-only.jsonl "$RATE" | sed 's/^/paced producer: /'
while [ "$(committed "$topic" "$group")" -lt $(( W + n )) ]; do alive; sleep 0.2; done
kill -TERM "$bg_pid"; wait "$bg_pid" || true; bg_pid=""
$tool latency "$topic" "$stream" "$REDIS_PORT" "$since"
