#!/usr/bin/env bash
# Kafka -> json_parse -> regex_prefilter -> transformer -> alert -> Kafka + Redis, on a real
# broker and redis-server (started here, stopped on exit):
#   1. the raw consume ceiling: librdkafka alone reads the topic (kafka_bench_tool consume);
#   2. socstream (config/kafka-redis.yaml) on the same topic: events/s, from the first
#      alert in Redis until every offset is committed, and from the first to the last alert;
#   3. latency at half of that rate: a paced producer, produce time (the message's
#      CreateTime) to the alert's entry in the Redis stream, p50 and p99.
#   bench/run_kafka.sh [--rules-only] [N]        N events (default 1,000,000)
# --rules-only: the same topology without the transformer stage (the rules'
# matches are the alerts), the path whose bound is the sinks rather than the model.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
topology=config/kafka-redis.yaml
if [ "${1:-}" = "--rules-only" ]; then
  shift
  mkdir -p bench/out
  topology=bench/out/kafka-redis-rules.yaml
  # The classify operator dropped, the alerts fed by the rules; paths made absolute for the new place.
  python3 - "$root" > "$topology" <<'PY'
import re, sys
root = sys.argv[1]
t = open(f"{root}/config/kafka-redis.yaml").read()
t = re.sub(r"\n  classify:\n(    .*\n)+", "\n", t)
t = t.replace("inputs: [classify]", "inputs: [suspect.match]").replace("classify.dlq, ", "")
t = t.replace("rules: rules/web.yaml", f"rules: {root}/config/rules/web.yaml")
print(t, end="")
PY
fi
N="${1:-1000000}"
source bench/cluster.sh
data="bench/data/web-access-$N.jsonl"
[ -s "$data" ] || python3 scripts/gen_web_access.py --count "$N" --out "$data" --truth "bench/data/web-access-$N.truth.csv"
run_engine() {  # topic group stream -> starts socstream in the background
  engine_cmd "$topology" "$1" "$2" "$3" >/dev/null 2>"bench/out/$2.log" &
  bg_pid=$!
}
stop_engine() { kill -TERM "$bg_pid"; wait "$bg_pid" || true; bg_pid=""; }

echo "topology: $topology"
echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $N events, $(($(stat -c %s "$data") / N)) bytes each on average"
id=$(date +%s)
topic="bench-access-$id"
$tool create-topic "$topic" 4
$tool produce "$topic" "$data" | sed 's/^/producer: /'

# 1. The ceiling.
ceiling=$($tool consume "$topic" "$N" | sed -n 's/.*: \([0-9]*\) events\/s/\1/p')
echo "raw librdkafka consume:  $ceiling events/s"

# 2. socstream, from the first alert in Redis until every offset is committed.
stream="bench-alerts-$id"
run_engine "$topic" "bench-$id" "$stream"
while [ "$(xlen "$stream")" -eq 0 ]; do alive; sleep 0.02; done
t0=$(now_ms)
procs="socstream=$bg_pid redis-server=$(cat ".cache/redis/$REDIS_PORT/redis.pid") broker=$(cat "${KAFKA_RUN_DIR:-.cache/kafka/run}/kafka.pid")"
python3 bench/cpu_split.py snap bench/out/cpu-$id.json $procs
while [ "$(committed "$topic" "bench-$id")" -lt "$N" ]; do alive; sleep 0.2; done
t1=$(now_ms)
python3 bench/cpu_split.py diff bench/out/cpu-$id.json $procs --events "$N"
stop_engine
rate=$(( N * 1000 / (t1 - t0) ))
echo "socstream end to end:    $rate events/s ($(xlen "$stream") alerts in Redis)"
awk -v a="$rate" -v b="$ceiling" 'BEGIN {printf "ratio to the raw consume ceiling: %.2f\n", a / b}'
# The same run timed by Redis's clock, first to last alert (a stream entry's id
# is its arrival in ms): the figure above also holds the wait for the last
# offset commit (commit_interval_ms, 1 s, plus the polling), ~1.5 s of a ~7 s run.
first=$(redis-cli -p "$REDIS_PORT" --raw XRANGE "$stream" - + COUNT 1 | head -1 | cut -d- -f1)
last=$(redis-cli -p "$REDIS_PORT" --raw XREVRANGE "$stream" + - COUNT 1 | head -1 | cut -d- -f1)
redis_rate=$(( N * 1000 / (last - first) ))
echo "first to last alert in Redis: $redis_rate events/s ($((last - first)) ms)"
awk -v a="$redis_rate" -v b="$ceiling" 'BEGIN {printf "ratio of that to the ceiling: %.2f\n", a / b}'

# 3. Latency at half that rate, over about 30 s of traffic.
half=$(( rate / 2 ))
M=$(( half * 30 )); [ "$M" -gt "$N" ] && M=$N
head -n "$M" "$data" > "bench/out/latency-input.jsonl"
ltopic="bench-latency-$id"
lstream="bench-latency-alerts-$id"
$tool create-topic "$ltopic" 4
run_engine "$ltopic" "bench-latency-$id" "$lstream"
sleep 5  # joined the group and assigned, so the first events do not wait for that
$tool produce "$ltopic" bench/out/latency-input.jsonl "$half" | sed 's/^/paced producer: /'
while [ "$(committed "$ltopic" "bench-latency-$id")" -lt "$M" ]; do alive; sleep 0.2; done
stop_engine
echo "at $half events/s (half of the measured rate):"
$tool latency "$ltopic" "$lstream" "$REDIS_PORT"
