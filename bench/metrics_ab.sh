#!/usr/bin/env bash
# The cost of the engine's metrics (issue 14): the rules-only file pipeline
# (file -> json_parse -> regex_prefilter -> alert -> file) over the first N
# lines of the web benchmark data, run alternately with metrics off
# (SOCSTREAM_NO_METRICS=1: the runtime counts nothing per batch, no admin
# endpoint) and on (the admin endpoint up and /metrics scraped every second),
# by one binary. An OLD_BIN adds a third arm: a build from before metrics.
#   bench/metrics_ab.sh [BIN] [N] [RUNS] [OLD_BIN]
# Prints each run's events/s (from the run summary) and the medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
new="${1:-$root/build/socstream}"
n="${2:-200000}"
runs="${3:-6}"
old="${4:-}"
data="$root/bench/data/web-access-1000000.jsonl"
mkdir -p "$root/bench/data"
[ -f "$data" ] || python3 "$root/scripts/gen_web_access.py" --count 1000000 --out "$data" --truth "$root/bench/data/web-access-1000000.truth.csv" >/dev/null
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
head -n "$n" "$data" > "$work/in.jsonl"
port=$((20000 + $$ % 20000))
topology() {  # $1: extra top-level lines
  cat <<YAML
$1
sources:
  in: {type: file, path: "$work/in.jsonl"}
operators:
  parse: {type: json_parse, inputs: [in], fields: {url.query: /url/query, source.ip: /source/ip}}
  suspect: {type: regex_prefilter, inputs: [parse], field: url.query, transforms: [query_values, url_decode], rules: "$root/config/rules/web.yaml"}
  alerts: {type: alert, inputs: [suspect.match], detector: web}
sinks:
  out: {type: file, inputs: [alerts], path: "$work/out.jsonl"}
  rest: {type: blackhole, inputs: [suspect.nomatch]}
YAML
}
topology "" > "$work/old.yaml"
topology "admin: {address: \"127.0.0.1:$port\"}" > "$work/new.yaml"
rate() { sed -n 's/.* (\([0-9]*\) events\/s).*/\1/p' "$1" | tail -1; }
offs=() ons=() olds=()
for i in $(seq "$runs"); do
  SOCSTREAM_NO_METRICS=1 "$new" run "$work/old.yaml" 2> "$work/off.log" >/dev/null
  offs+=("$(rate "$work/off.log")")
  "$new" run "$work/new.yaml" 2> "$work/new.log" >/dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true; sleep 1; done
  wait "$pid"
  ons+=("$(rate "$work/new.log")")
  line="run $i: metrics off ${offs[-1]} events/s, on (scraped) ${ons[-1]}"
  if [ -n "$old" ]; then
    "$old" run "$work/old.yaml" 2> "$work/old.log" >/dev/null
    olds+=("$(rate "$work/old.log")")
    line="$line, old build ${olds[-1]}"
  fi
  echo "$line"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "off sorted: $(printf '%s\n' "${offs[@]}" | sort -n | tr '\n' ' ')"
echo "on sorted:  $(printf '%s\n' "${ons[@]}" | sort -n | tr '\n' ' ')"
mo="$(median "${offs[@]}")" mn="$(median "${ons[@]}")"
awk -v o="$mo" -v n="$mn" 'BEGIN {printf "medians: off %d, on %d events/s; on/off %.3f\n", o, n, n/o}'
if [ -n "$old" ]; then
  echo "old sorted: $(printf '%s\n' "${olds[@]}" | sort -n | tr '\n' ' ')"
  awk -v o="$(median "${olds[@]}")" -v n="$mn" 'BEGIN {printf "old build median %d; on/old %.3f\n", o, n/o}'
fi
