#!/usr/bin/env bash
# The online model (issue 6) against River on one core, same stream, same run:
# the HTTP parameter values (tests/data/http_params) in the tests' fixed
# shuffled order. socstream's figures come from bench/model/online_bench
# (at the default 2^16 feature slots and at 2^18), River's from
# bench/baselines/python/river_online.py with the same features, with FTRL
# (socstream's algorithm) and with SGD (River's default, its fastest).
# Prints the table and writes it into bench/RESULTS.md.
#   bench/online.sh [--river-events N]   (default: the whole stream, 20,712)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
RIVER_N=0
while [ $# -gt 0 ]; do
  case "$1" in
    --river-events) RIVER_N="$2"; shift 2 ;;
    *) echo "usage: bench/online.sh [--river-events N]" >&2; exit 64 ;;
  esac
done

scripts/build.sh >/dev/null
"$(dirname "$0")/../scripts/python_env.sh" >/dev/null  # installs python3-venv if missing
venv=.cache/venv-river
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r bench/baselines/python/river-requirements.txt >&2
mkdir -p bench/data bench/out
stream=bench/data/http-params-stream.jsonl

val() { sed -n "s/^$2=//p" "$1"; }
range() { local r; r=$(val "$1" "$2"); echo "$(fmt "${r%-*}")–$(fmt "${r#*-}")"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.0f", a / b}'; }
fmt() { echo "$1" | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }  # 1234567 -> 1,234,567

# Three runs of each (each already the median of 10 passes); the table takes
# the median run per figure, the text gives the range: neighbours on this
# shared machine move single runs by a third.
median_runs() {  # out_file args...
  local out="$1"; shift
  for r in 1 2 3; do build/bench/online_bench "$@" >"$out.$r"; done
  python3 - "$out" <<'PY'
import sys, statistics
out = sys.argv[1]
runs = [dict(l.strip().split("=", 1) for l in open(f"{out}.{r}") if "=" in l and " " not in l.strip()) for r in (1, 2, 3)]
with open(out, "w") as f:
    for k in runs[0]:
        vals = [float(r[k]) for r in runs]
        f.write(f"{k}={statistics.median(vals):.4f}\n" if k.startswith("progressive") else f"{k}={statistics.median(vals):.0f}\n")
        f.write(f"{k}_range={min(vals):.0f}-{max(vals):.0f}\n")
PY
}
echo "socstream, 2^16 slots (3 runs)..." >&2
build/bench/online_bench --passes 1 --write-stream "$stream" >/dev/null
median_runs bench/out/online-16.txt
echo "socstream, 2^18 slots (3 runs)..." >&2
median_runs bench/out/online-18.txt --bits 18
echo "River, FTRL..." >&2
"$venv/bin/python" bench/baselines/python/river_online.py "$stream" --limit "$RIVER_N" --optimizer ftrl >bench/out/river-ftrl.txt
echo "River, SGD..." >&2
"$venv/bin/python" bench/baselines/python/river_online.py "$stream" --limit "$RIVER_N" --optimizer sgd >bench/out/river-sgd.txt

rf_u=$(val bench/out/river-ftrl.txt updates_per_s); rf_p=$(val bench/out/river-ftrl.txt predictions_per_s)
rs_u=$(val bench/out/river-sgd.txt updates_per_s); rs_p=$(val bench/out/river-sgd.txt predictions_per_s)
row() {  # label file
  local u p
  u=$(val "$2" updates_per_s); p=$(val "$2" predictions_per_s)
  echo "| $1 | $(fmt "$u") | $(fmt "$p") | $(ratio "$u" "$rf_u")× / $(ratio "$u" "$rs_u")× | $(ratio "$p" "$rf_p")× / $(ratio "$p" "$rs_p")× | $(val "$2" progressive_accuracy_last_half) |"
}
table="$(cat <<TABLE
Command: \`bench/online.sh\` at $(git rev-parse --short HEAD) on $(date -u +%F), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'). One thread each; the stream is the $(wc -l <"$stream") HTTP parameter values in the tests' fixed order (socstream: the median of three runs, each the median of 10 passes; River: $( [ "$RIVER_N" -gt 0 ] && echo "the first $RIVER_N" || echo "one pass")).

| system | updates/s | predictions/s | updates vs River FTRL / SGD | predictions vs River FTRL / SGD | progressive accuracy, last half |
|---|---:|---:|---:|---:|---:|
$(row "socstream online_classifier model, 2^16 slots (default)" bench/out/online-16.txt)
$(row "socstream, 2^18 slots" bench/out/online-18.txt)
| River 0.26.1 LogisticRegression, FTRL, one-vs-rest | $(fmt "$rf_u") | $(fmt "$rf_p") | 1× | 1× | $(val bench/out/river-ftrl.txt progressive_accuracy_last_half) |
| River 0.26.1 LogisticRegression, SGD, one-vs-rest | $(fmt "$rs_u") | $(fmt "$rs_p") | | | $(val bench/out/river-sgd.txt progressive_accuracy_last_half) |

Updates include featurising and the progressive step (score, then learn); predictions include featurising. The three runs ranged over $(range bench/out/online-16.txt updates_per_s_range) updates/s and $(range bench/out/online-16.txt predictions_per_s_range) predictions/s at 2^16, $(range bench/out/online-18.txt updates_per_s_range) and $(range bench/out/online-18.txt predictions_per_s_range) at 2^18. socstream's other figures (2^16): the model alone on pre-hashed features $(fmt "$(val bench/out/online-16.txt predict_only_per_s)") predictions/s; the \`online_classifier\` operator on batches of 256 events $(fmt "$(val bench/out/online-16.txt operator_events_per_s)") events/s, $(fmt "$(val bench/out/online-16.txt operator_explain_events_per_s)") with explanations (top 3 features of each positive, $(sed -n 's/.*features_per_event=//p' bench/out/online-16.txt.1) features per event).
TABLE
)"
echo "$table"
python3 bench/write_results.py online "Online learning: socstream's online model against River (issue 6)" "$table"
