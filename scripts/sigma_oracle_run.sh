#!/usr/bin/env bash
# Runs the Sigma oracle on the two reference inputs, niced (it is CPU-bound, one core):
#   1. SigmaHQ's regression events (shared/data/sigma/regression), evtx_json pipeline,
#      and checks each event fires the rule its info.yml names;
#   2. the OTRF Windows datasets (every zip, unzip -p in sorted order), nxlog pipeline.
# Both over the whole rule corpus (shared/data/sigma/rules*).
#   scripts/sigma_oracle_run.sh [OUT_DIR]      (default bench/out/sigma-oracle)
# Leaves in OUT_DIR: regression.jsonl, regression_expected.tsv, windows.jsonl and, per
# input (regression, windows), NAME.oracle.tsv, NAME.stats.json, NAME.errors.tsv, NAME.sql.
# To hold the operator against it: scripts/sigma_compare.py ours.tsv OUT_DIR/NAME.oracle.tsv
#   --rules ../shared/data/sigma/rules* --events OUT_DIR/NAME.jsonl [--known known.tsv]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${SOCSTREAM_SHARED:-$root/../shared}"
out="${1:-$root/bench/out/sigma-oracle}"
mkdir -p "$out"
py="$("$root/scripts/sigma_oracle_env.sh")"
rules=()
for d in "$shared"/data/sigma/rules*; do [ -d "$d" ] && rules+=("$d"); done

"$py" "$root/scripts/sigma_regression_events.py" build "$shared/data/sigma/regression/regression_data" \
  --out "$out/regression.jsonl" --expected "$out/regression_expected.tsv"
: > "$out/windows.jsonl"
while IFS= read -r z; do unzip -p "$z" >> "$out/windows.jsonl"; done \
  < <(find "$shared/data/windows-events/datasets" -name '*.zip' | LC_ALL=C sort)

run() {  # name pipeline
  nice -n 19 "$py" "$root/scripts/sigma_oracle.py" --rules "${rules[@]}" --pipeline "$2" \
    --events "$out/$1.jsonl" --out "$out/$1.oracle.tsv" --stats "$out/$1.stats.json" \
    --rule-errors "$out/$1.errors.tsv" --sql "$out/$1.sql" --regex-diff
}
run regression evtx_json
"$py" "$root/scripts/sigma_regression_events.py" check "$out/regression_expected.tsv" "$out/regression.oracle.tsv" \
  --rule-errors "$out/regression.errors.tsv" --stats "$out/regression.stats.json" --markdown "$out/regression.misses.md"
run windows nxlog
