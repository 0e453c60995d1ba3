#!/usr/bin/env bash
# Kafka -> json_parse -> regex_prefilter -> alert -> Kafka + Redis, on a real
# broker and redis-server (started here, stopped on exit):
#   1. the raw consume ceiling: librdkafka alone reads the topic (kafka_bench_tool consume);
#   2. socstream (config/kafka-redis.yaml) on the same topic: events/s;
#   3. latency at half of that rate: a paced producer, produce time (the message's
#      CreateTime) to the alert's entry in the Redis stream, p50 and p99.
#   bench/run_kafka.sh [N]        N events (default 1,000,000)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
N="${1:-1000000}"
source bench/cluster.sh
data="bench/data/web-access-$N.jsonl"
[ -s "$data" ] || python3 scripts/gen_web_access.py --count "$N" --out "$data" --truth "bench/data/web-access-$N.truth.csv"
expected_alerts() {  # alerts the file pipeline raises on a file
  SOCSTREAM_INPUT="$PWD/$1" SOCSTREAM_DLQ=/dev/null build/socstream run config/default.yaml --log-level warn 2>/dev/null | wc -l
}
now_ms() { date +%s%3N; }
xlen() { redis-cli -p "$REDIS_PORT" XLEN "$1"; }
run_engine() {  # topic group stream -> starts socstream in the background
  KAFKA_BROKERS="$KAFKA_BROKERS" REDIS_PORT="$REDIS_PORT" SOCSTREAM_TOPIC="$1" SOCSTREAM_GROUP="$2" \
    SOCSTREAM_STREAM="$3" SOCSTREAM_ALERTS_TOPIC="$3" SOCSTREAM_DLQ_TOPIC="$3-dlq" \
    build/socstream run config/kafka-redis.yaml --log-level warn >/dev/null 2>"bench/out/$2.log" &
  bg_pid=$!
}
stop_engine() { kill -TERM "$bg_pid"; wait "$bg_pid" || true; bg_pid=""; }

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $N events, $(($(stat -c %s "$data") / N)) bytes each on average"
id=$(date +%s)
topic="bench-access-$id"
$tool create-topic "$topic" 4
$tool produce "$topic" "$data" | sed 's/^/producer: /'
want=$(expected_alerts "$data")

# 1. The ceiling.
ceiling=$($tool consume "$topic" "$N" | sed -n 's/.*: \([0-9]*\) events\/s/\1/p')
echo "raw librdkafka consume:  $ceiling events/s"

# 2. socstream, from the first alert in Redis to the last.
stream="bench-alerts-$id"
run_engine "$topic" "bench-$id" "$stream"
while [ "$(xlen "$stream")" -eq 0 ]; do sleep 0.02; done
t0=$(now_ms)
while [ "$(xlen "$stream")" -lt "$want" ]; do sleep 0.02; done
t1=$(now_ms)
stop_engine
rate=$(( N * 1000 / (t1 - t0) ))
echo "socstream end to end:    $rate events/s ($want alerts in Redis and Kafka)"
awk -v a="$rate" -v b="$ceiling" 'BEGIN {printf "ratio to the raw consume ceiling: %.2f\n", a / b}'

# 3. Latency at half that rate, over about 30 s of traffic.
half=$(( rate / 2 ))
M=$(( half * 30 )); [ "$M" -gt "$N" ] && M=$N
head -n "$M" "$data" > "bench/out/latency-input.jsonl"
want=$(expected_alerts bench/out/latency-input.jsonl)
ltopic="bench-latency-$id"
lstream="bench-latency-alerts-$id"
$tool create-topic "$ltopic" 4
run_engine "$ltopic" "bench-latency-$id" "$lstream"
sleep 5  # joined the group and assigned, so the first events do not wait for that
$tool produce "$ltopic" bench/out/latency-input.jsonl "$half" | sed 's/^/paced producer: /'
while [ "$(xlen "$lstream")" -lt "$want" ]; do sleep 0.1; done
stop_engine
echo "at $half events/s (half of the measured rate):"
$tool latency "$ltopic" "$lstream" "$REDIS_PORT"
