#!/usr/bin/env bash
# The Sigma benchmark for bench/RESULTS.md:
#   bench/run_sigma.sh [N] [RUNS] [--no-oracle]
# over N real Windows events (default 1,000,000: the OTRF datasets concatenated
# and repeated, bench/make_windows_events.sh), RUNS times each (default 3),
# alternating, medians reported:
#   parse   file -> json_parse (fields: all) -> blackhole: the ceiling
#   sigma   file -> json_parse -> sigma (the whole corpus) -> alert -> file, 1 and 2 sigma workers
# then the matcher alone on one core against the number of rules (100, 1,000,
# all) from bench/model/sigma_bench, and the pySigma/SQLite oracle's rate on
# the datasets once over (the baseline; skipped with --no-oracle).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
RUNS="${2:-3}"
oracle=1
[ "${3:-}" = "--no-oracle" ] && oracle=0
scripts/bootstrap.sh
scripts/build.sh build >/dev/null
data=bench/data/windows-events.jsonl
if [ ! -s "$data" ] || [ "$(wc -l <"$data")" -lt "$N" ]; then bench/make_windows_events.sh "$N"; fi
mkdir -p bench/out
lines=$(wc -l <"$data")
bytes=$(stat -c %s "$data")
echo "input: $data ($lines events, $((bytes / lines)) bytes/event); $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"

run() {  # topology workers -> "events/s peak_rss_kb"
  local out
  out=$(BENCH_INPUT="$PWD/$data" BENCH_OUTPUT="$PWD/bench/out/sigma-alerts.jsonl" BENCH_RULES="$PWD/config/sigma/rules*" \
    BENCH_SIGMA_WORKERS="$2" /usr/bin/time -f "rss %M" build/socstream run "bench/sigma/$1" --log-level warn 2>&1 >/dev/null)
  echo "$(echo "$out" | sed -n 's/.* in \([0-9.]*\) s (\([0-9]*\) events\/s).*/\2/p') $(echo "$out" | sed -n 's/^rss //p')"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p=(); s1=(); s2=(); m1=(); m2=()
for _ in $(seq "$RUNS"); do
  read -r r _ < <(run parse.yaml 1); p+=("$r")
  read -r r m < <(run sigma.yaml 1); s1+=("$r"); m1+=("$m")
  read -r r m < <(run sigma.yaml 2); s2+=("$r"); m2+=("$m")
done
P=$(printf '%s\n' "${p[@]}" | median)
S1=$(printf '%s\n' "${s1[@]}" | median)
S2=$(printf '%s\n' "${s2[@]}" | median)
alerts=$(wc -l <bench/out/sigma-alerts.jsonl)
echo "parse only (file -> json_parse all -> blackhole):          ${P} events/s  runs: ${p[*]}"
echo "sigma, 1 worker (file -> json_parse -> sigma -> alert -> file): ${S1} events/s  runs: ${s1[*]}  peak RSS KiB: ${m1[*]}  alerts: $alerts"
echo "sigma, 2 workers:                                          ${S2} events/s  runs: ${s2[*]}  peak RSS KiB: ${m2[*]}"
awk -v a="$S1" -v b="$S2" -v p="$P" 'BEGIN {printf "ratio to the parse-only ceiling: %.2f (1 worker), %.2f (2 workers)\n", a / p, b / p}'

echo "matcher alone, one core, first 200,000 events (bench/model/sigma_bench):"
build/bench/sigma_bench "$data" --events 200000 --scale 100,1000 | sed 's/^/  /'

if [ "$oracle" = 1 ]; then
  echo "baseline: pySigma 2.0.1 + SQLite on the datasets once over (scripts/sigma_oracle.py):"
  py=$(scripts/sigma_oracle_env.sh)
  bench/make_windows_events.sh 1 bench/out/windows-once.jsonl >/dev/null
  rules=(); for d in config/sigma/rules*; do rules+=("$d"); done
  "$py" scripts/sigma_oracle.py --rules "${rules[@]}" --pipeline nxlog --events bench/out/windows-once.jsonl \
    --out bench/out/windows-once.oracle.tsv --stats bench/out/windows-once.oracle.json 2>&1 | tail -1 | sed 's/^/  /'
fi
