#!/usr/bin/env bash
# socstream against what teams build today, side by side, on a real Kafka
# broker and redis-server (started here, stopped on exit), on one machine:
#   1. ceilings: librdkafka consume-only, simdjson parse-only, the bundled
#      model's forward pass alone at its best batch size;
#   2. socstream on config/kafka-redis.yaml (rules -> transformer -> alerts);
#   3. the Python baseline (bench/baselines/python/consumer.py) doing the same work.
# Then again with the model on every event (no prefilter), on fewer events.
# Prints one table per run and writes them into bench/RESULTS.md. Fails if the
# two systems' alert counts per label differ.
#   bench/compare.sh [--events N] [--everything-events M] [--quick]
#   defaults: N = 1,000,000, M = 100,000; --quick: N = 100,000, M = 20,000
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
N=1000000
M=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --events) N="$2"; shift 2 ;;
    --everything-events) M="$2"; shift 2 ;;
    --quick) N=100000; M=20000; shift ;;
    *) echo "usage: bench/compare.sh [--events N] [--everything-events M] [--quick]" >&2; exit 64 ;;
  esac
done
[ "$M" -le "$N" ] || M=$N

source bench/cluster.sh
PY="$(scripts/python_env.sh)"
"$PY" -m pip install -q --disable-pip-version-check -r bench/baselines/python/requirements.txt >&2
started=$(date +%s)

data="bench/data/web-access-$N.jsonl"
[ -s "$data" ] || python3 scripts/gen_web_access.py --count "$N" --out "$data" --truth "bench/data/web-access-$N.truth.csv"
id=$(date +%s)
proc_cpu() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; }   # user+system seconds (USER_HZ = 100)
proc_hwm_mb() { awk '/^VmHWM/ {print int($2 / 1024)}' "/proc/$1/status"; }
per_million() { awk -v c="$1" -v n="$2" 'BEGIN {printf "%.1f", c * 1000000 / n}'; }
labels_of() { $tool labels "$1" "$REDIS_PORT" | sort | tr '\n' ' ' | sed 's/ $//'; }

new_topic() {  # name file [rate]
  $tool create-topic "$1" 4 >/dev/null
  $tool produce "$1" "$2" ${3:-} | sed 's/^/  producer: /' >&2
}

# socstream on a topology until its group has committed every offset.
# Prints "events/s cpu_s peak_mb"; the alerts are in Redis stream $4.
run_socstream() {  # config topic n stream
  local group="socstream-$4"
  engine_cmd "$1" "$2" "$group" "$4" >/dev/null 2>"bench/out/$4.log" &
  bg_pid=$!
  while [ "$(xlen "$4")" -eq 0 ]; do alive; sleep 0.02; done
  local t0 t1 cpu hwm
  t0=$(now_ms)
  while [ "$(committed "$2" "$group")" -lt "$3" ]; do alive; sleep 0.2; done
  t1=$(now_ms)
  cpu=$(proc_cpu "$bg_pid"); hwm=$(proc_hwm_mb "$bg_pid")
  kill -TERM "$bg_pid"; wait "$bg_pid" || true; bg_pid=""
  echo "$(( $3 * 1000 / (t1 - t0) )) $cpu $hwm"
}

# The baseline on a topic: prints "events/s cpu_s peak_mb".
run_baseline() {  # topic n stream [--no-prefilter]
  local out
  out=$(baseline_cmd "$2" "${4:-}" "$1" "baseline-$3" "$3" 2>"bench/out/$3.log")
  "$PY" -c 'import json, sys; d = json.loads(sys.argv[1]); print(int(d["events"] / d["seconds"]), d["cpu_seconds"], d["peak_rss_mb"])' "$out"
}

# Latency from produce (CreateTime) to the alert's Redis entry, in steady
# state: the system first reads a warm-up of W events (the end of the data
# file, unpaced: JIT, caches and connections warm), then the measured events
# (the start of the file) arrive at `rate` events/s for about 20 s. Only
# messages produced after the warm-up count. Prints "p50 p99" in ms.
# The command runs with the latency topic, group and stream appended.
latency_run() {  # tag rate warmup command...
  local tag=$1 rate=$2 warm=$3; shift 3
  local n=$(( rate * 20 )); [ "$n" -gt "$N" ] && n=$N
  head -n "$n" "$data" > "bench/out/latency-$tag.jsonl"
  tail -n "$warm" "$data" > "bench/out/warmup-$tag.jsonl"
  local topic="cmp-lat-$tag-$id" stream="cmp-lat-alerts-$tag-$id" group="lat-$tag-$id"
  $tool create-topic "$topic" 4 >/dev/null
  "$@" "$topic" "$group" "$stream" >/dev/null 2>"bench/out/$stream.log" &
  bg_pid=$!
  $tool produce "$topic" "bench/out/warmup-$tag.jsonl" | sed 's/^/  warm-up: /' >&2
  while [ "$(committed "$topic" "$group")" -lt "$warm" ]; do alive; sleep 0.2; done
  local since; since=$(now_ms)
  $tool produce "$topic" "bench/out/latency-$tag.jsonl" "$rate" | sed 's/^/  paced producer: /' >&2
  while [ "$(committed "$topic" "$group")" -lt $(( warm + n )) ]; do alive; sleep 0.2; done
  kill -TERM "$bg_pid" 2>/dev/null; wait "$bg_pid" || true; bg_pid=""
  $tool latency "$topic" "$stream" "$REDIS_PORT" "$since" | sed -n 's/.*p50 \([0-9]*\) ms, p99 \([0-9]*\) ms.*/\1 \2/p'
}
# The baseline; execs, as engine_cmd (bench/cluster.sh).
baseline_cmd() {  # events flags topic group stream
  exec "$PY" bench/baselines/python/consumer.py --events "$1" $2 --topic "$3" --group "$4" --stream "$5" \
    --alerts-topic "$5" --rules config/rules/web.yaml --model models/web-attack-classifier
}

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); commit $(git rev-parse --short HEAD)"
echo "== $N events, rules -> model -> alerts"
topic="cmp-access-$id"
new_topic "$topic" "$data"

echo "ceilings"
consume=$($tool consume "$topic" "$N" | sed -n 's/.*: \([0-9]*\) events\/s/\1/p')
parse=$($tool parse "$data" | sed -n 's/.*: \([0-9]*\) events\/s/\1/p')
forward=$(build/bench/transformer_bench --raw | sed -n 's/raw forward: \([0-9]*\) seq\/s at batch \([0-9]*\)/\1 \2/p')

echo "socstream"
read -r s_rate s_cpu s_mb <<<"$(run_socstream config/kafka-redis.yaml "$topic" "$N" "cmp-socstream-$id")"
s_labels=$(labels_of "cmp-socstream-$id")
echo "  $s_rate events/s; alerts: $s_labels"
echo "baseline"
read -r b_rate b_cpu b_mb <<<"$(run_baseline "$topic" "$N" "cmp-baseline-$id")"
b_labels=$(labels_of "cmp-baseline-$id")
echo "  $b_rate events/s; alerts: $b_labels"
if [ "$s_labels" != "$b_labels" ]; then
  echo "FAIL: the alerts differ: socstream [$s_labels], baseline [$b_labels]" >&2
  exit 1
fi

echo "latency at half of each system's rate, after a warm-up"
s_warm=$(( N / 5 )); b_warm=$(( b_rate * 10 )); [ "$b_warm" -gt "$N" ] && b_warm=$N
b_n=$(( b_rate / 2 * 20 )); [ "$b_n" -gt "$N" ] && b_n=$N
read -r s_p50 s_p99 <<<"$(latency_run s $(( s_rate / 2 )) "$s_warm" engine_cmd config/kafka-redis.yaml)"
read -r b_p50 b_p99 <<<"$(latency_run b $(( b_rate / 2 )) "$b_warm" baseline_cmd $(( b_warm + b_n )) "")"

echo "== $M events, the model on every event (no prefilter)"
head -n "$M" "$data" > bench/out/everything-input.jsonl
etopic="cmp-everything-$id"
new_topic "$etopic" bench/out/everything-input.jsonl
read -r se_rate se_cpu se_mb <<<"$(run_socstream bench/compare/kafka-model-everything.yaml "$etopic" "$M" "cmp-socstream-all-$id")"
se_labels=$(labels_of "cmp-socstream-all-$id")
read -r be_rate be_cpu be_mb <<<"$(run_baseline "$etopic" "$M" "cmp-baseline-all-$id" --no-prefilter)"
be_labels=$(labels_of "cmp-baseline-all-$id")
if [ "$se_labels" != "$be_labels" ]; then
  echo "FAIL: the alerts differ without the prefilter: socstream [$se_labels], baseline [$be_labels]" >&2
  exit 1
fi

table=$(cat <<EOF
Command: \`bench/compare.sh --events $N --everything-events $M\` on $(date -u +%F), commit
$(git rev-parse --short HEAD); $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p')), broker, Redis,
engine and producer all on this machine. Took $(( ($(date +%s) - started) / 60 )) minutes.

$N events, rules → model → alerts (\`config/kafka-redis.yaml\`; the baseline does the same work):

| system | events/s | vs baseline | p50 ms | p99 ms | CPU s per 1M events | peak RSS MiB | alerts per label |
|---|---:|---:|---:|---:|---:|---:|---|
| ceiling: librdkafka consume only | $consume | | | | | | |
| ceiling: simdjson parse only | $parse | | | | | | |
| ceiling: model forward alone | ${forward% *} seq/s (batch ${forward#* }) | | | | | | |
| socstream | $s_rate | $(awk -v a="$s_rate" -v b="$b_rate" 'BEGIN {printf "%.1f×", a / b}') | $s_p50 | $s_p99 | $(per_million "$s_cpu" "$N") | $s_mb | $s_labels |
| Python baseline | $b_rate | 1.0× | $b_p50 | $b_p99 | $(per_million "$b_cpu" "$N") | $b_mb | $b_labels |

Latency: produce time to the alert's Redis entry, with a paced producer at half
of each system's own rate ($(( s_rate / 2 )) and $(( b_rate / 2 )) events/s) for about 20 s, after a
warm-up of $s_warm and $b_warm events (the end of the file; not measured).

$M events, the model on every event (no prefilter; \`bench/compare/kafka-model-everything.yaml\`, baseline \`--no-prefilter\`):

| system | events/s | vs baseline | CPU s per 1M events | peak RSS MiB | alerts per label |
|---|---:|---:|---:|---:|---|
| socstream | $se_rate | $(awk -v a="$se_rate" -v b="$be_rate" 'BEGIN {printf "%.1f×", a / b}') | $(per_million "$se_cpu" "$M") | $se_mb | $se_labels |
| Python baseline | $be_rate | 1.0× | $(per_million "$be_cpu" "$M") | $be_mb | $be_labels |
EOF
)
echo
echo "$table"
"$PY" bench/write_results.py compare "socstream against a Python consumer (issue 5)" "$table"
echo "written to bench/RESULTS.md"
