#!/usr/bin/env bash
# End-to-end throughput over N web access events (default 1,000,000):
#   bench/run_e2e.sh [N] [RUNS]
# Runs the passthrough baseline and the full pipeline alternately RUNS times
# (default 3) and prints the median events/s of each and their ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
RUNS="${2:-3}"
scripts/bootstrap.sh
scripts/build.sh build >/dev/null
mkdir -p bench/data bench/out
data="bench/data/web-access-$N.jsonl"
if [ ! -s "$data" ]; then
  python3 scripts/gen_web_access.py --count "$N" --out "$data" --truth "bench/data/web-access-$N.truth.csv"
fi
bytes=$(stat -c %s "$data")
echo "input: $data ($N events, $((bytes / N)) bytes/event average); $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"

rate() {  # topology -> events/s from the run summary
  BENCH_INPUT="$PWD/$data" BENCH_OUTPUT="$PWD/bench/out/$(basename "$1" .yaml).jsonl" \
    build/socstream run "bench/e2e/$1" --log-level warn 2>&1 >/dev/null |
    sed -n 's/.* in \([0-9.]*\) s (\([0-9]*\) events\/s).*/\2/p'
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=(); full=()
for _ in $(seq "$RUNS"); do
  base+=("$(rate passthrough.yaml)")
  full+=("$(rate pipeline.yaml)")
done
b=$(printf '%s\n' "${base[@]}" | median)
f=$(printf '%s\n' "${full[@]}" | median)
alerts=$(wc -l < bench/out/pipeline.jsonl)
echo "passthrough (file -> file):                          ${b} events/s  runs: ${base[*]}"
echo "pipeline (file -> json_parse -> regex -> alert -> file): ${f} events/s  runs: ${full[*]}  alerts: $alerts"
awk -v f="$f" -v b="$b" 'BEGIN {printf "ratio pipeline / passthrough: %.2f\n", f / b}'
