#!/usr/bin/env bash
# socstream's sigma operator against an independent oracle: pySigma (the
# reference Sigma parser) with its SQLite backend converts the same rules to
# SQL, run on the same events in SQLite (scripts/sigma_oracle.py). The
# (event, rule) match sets must agree on
#   1. SigmaHQ's regression events (evtx_json pipeline), and
#   2. every OTRF Windows dataset (nxlog pipeline),
# with the bundled corpus (config/sigma/rules*). A disagreement fails the run
# unless docs/sigma-oracle-known.tsv explains it (rule id <TAB> cause).
#   scripts/sigma_oracle_check.sh [SOCSTREAM_BIN] [OUT_DIR]
# Prints each side's rate: the oracle's is the baseline in bench/RESULTS.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${1:-$root/build/socstream}"
out="${2:-$root/bench/out/sigma-oracle-check}"
shared="${SOCSTREAM_SHARED:-$root/../shared}"
mkdir -p "$out"
py="$("$root/scripts/sigma_oracle_env.sh")"
rules=()
for d in "$root"/config/sigma/rules*; do [ -d "$d" ] && rules+=("$d"); done
known="$root/docs/sigma-oracle-known.tsv"

"$py" "$root/scripts/sigma_regression_events.py" build "$shared/data/sigma/regression/regression_data" \
  --out "$out/regression.jsonl" --expected "$out/regression_expected.tsv" >/dev/null
"$root/bench/make_windows_events.sh" 1 "$out/windows.jsonl" >/dev/null

status=0
check() {  # name pipeline
  local name="$1" pipeline="$2"
  cat >"$out/$name.yaml" <<YAML
sources:
  events: {type: file, path: "$out/$name.jsonl", format: json}
operators:
  parse: {type: json_parse, inputs: [events], fields: all}
  sigma: {type: sigma, inputs: [parse], rules: "$root/config/sigma/rules*", pipeline: $pipeline}
  alerts: {type: alert, inputs: [sigma], per_rule: true, fields: [EventID]}
sinks:
  out: {type: file, inputs: [alerts], path: "$out/$name.alerts.jsonl", append: false}
YAML
  rm -f "$out/$name.alerts.jsonl"
  local t0 t1
  t0=$(date +%s.%N)
  "$bin" run "$out/$name.yaml" 2>"$out/$name.socstream.log"
  t1=$(date +%s.%N)
  "$py" "$root/scripts/sigma_alerts_tsv.py" "$out/$name.alerts.jsonl" "$out/$name.jsonl" >"$out/$name.ours.tsv"
  nice -n 5 "$py" "$root/scripts/sigma_oracle.py" --rules "${rules[@]}" --pipeline "$pipeline" \
    --events "$out/$name.jsonl" --out "$out/$name.oracle.tsv" --stats "$out/$name.oracle.json" \
    --rule-errors "$out/$name.oracle-errors.tsv" >"$out/$name.oracle.log" 2>&1
  echo "$name ($pipeline): socstream $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') s end to end (rule loading included); oracle: $(tail -1 "$out/$name.oracle.log")"
  if ! "$py" "$root/scripts/sigma_compare.py" "$out/$name.ours.tsv" "$out/$name.oracle.tsv" --rules "${rules[@]}" \
      --events "$out/$name.jsonl" --known "$known" --markdown "$out/$name.compare.md"; then
    status=1
  fi
}
check regression evtx_json
check windows nxlog
exit $status
