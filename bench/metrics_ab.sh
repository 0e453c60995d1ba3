#!/usr/bin/env bash
# The cost of the engine's metrics and component context (issue 14): the
# rules-only file pipeline (file -> json_parse -> regex_prefilter -> alert ->
# file) over the first N lines of the web benchmark data, run alternately by
# an OLD binary (built before metrics existed) and the NEW one, with the admin
# endpoint on in the new runs and /metrics scraped every second meanwhile.
#   bench/metrics_ab.sh OLD_BIN [NEW_BIN] [N] [RUNS]
# Prints each run's events/s (from the run summary) and the medians.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
old="${1:?usage: bench/metrics_ab.sh OLD_BIN [NEW_BIN] [N] [RUNS]}"
new="${2:-$root/build/socstream}"
n="${3:-200000}"
runs="${4:-6}"
data="$root/bench/data/web-access-1000000.jsonl"
[ -f "$data" ] || "$root/scripts/gen_web_access.py" --events 1000000 --out "$data" >/dev/null
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
olds=() news=()
for i in $(seq "$runs"); do
  "$old" run "$work/old.yaml" 2> "$work/old.log" >/dev/null
  olds+=("$(rate "$work/old.log")")
  "$new" run "$work/new.yaml" 2> "$work/new.log" >/dev/null &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do curl -s "http://127.0.0.1:$port/metrics" >/dev/null || true; sleep 1; done
  wait "$pid"
  news+=("$(rate "$work/new.log")")
  echo "run $i: old ${olds[-1]} events/s, new (metrics, scraped) ${news[-1]} events/s"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mo="$(median "${olds[@]}")" mn="$(median "${news[@]}")"
echo "old sorted: $(printf '%s\n' "${olds[@]}" | sort -n | tr '\n' ' ')"
echo "new sorted: $(printf '%s\n' "${news[@]}" | sort -n | tr '\n' ' ')"
awk -v o="$mo" -v n="$mn" 'BEGIN {printf "medians: old %d, new %d events/s; new/old %.3f\n", o, n, n/o}'
