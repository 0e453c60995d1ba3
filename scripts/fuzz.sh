#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan, in build-fuzz) and runs them, one after
# the other, each on its committed seed corpus (tests/fuzz/corpus/<target>) plus a working corpus
# (build-fuzz/corpus/<target>, which keeps what the fuzzer finds between runs).
#   scripts/fuzz.sh [--seconds N] [target...]   N seconds per target (default 60); targets: all when none named
#   scripts/fuzz.sh --smoke                      5 s per target, from the committed corpus only (scripts/test.sh)
#   scripts/fuzz.sh --build                      only configure and build
#   scripts/fuzz.sh --list                       the targets
#   --timeout S                                  an input running S seconds is a hang (default 10)
# Hang detection (-timeout), a memory limit (-rss_limit_mb), leak detection and fatal UBSan reports are on:
# any crash, leak, hang, out-of-memory or failed check makes the script exit non-zero, and the input that
# caused it is kept in fuzz-artifacts/<target>/ (reproduce: build-fuzz/<target>_fuzz FILE). libFuzzer
# times an input by the wall clock, so on a starved machine (a nice 19 run beside a build) a quick input
# can pass for a hang: a hang is replayed once, and the summary says whether it took as long again.
# A summary line per target goes to stdout; libFuzzer's output to build-fuzz/logs/<target>.log.
# JOBS (default: nproc) caps the parallel compiles.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

targets_all=(json_parse parse topology rules sigma tokenizer snapshot model_info)
# The longest input each target gets: a little above its largest seed, so mutations stay where the bugs are.
declare -A max_len=(
  [json_parse]=16384 [parse]=8192 [topology]=16384 [rules]=16384
  [sigma]=32768 [tokenizer]=4096 [snapshot]=32768 [model_info]=4096
)

seconds=60 timeout=10 smoke=0 build_only=0 targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --smoke) smoke=1; seconds=5; shift ;;
    --build) build_only=1; shift ;;
    --list) printf '%s\n' "${targets_all[@]}"; exit 0 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *)
      if [ -z "${max_len[$1]:-}" ]; then echo "fuzz.sh: no target '$1' (${targets_all[*]})" >&2; exit 2; fi
      targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${targets_all[@]}")

command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ is missing (scripts/bootstrap.sh installs it)" >&2; exit 1; }
build=build-fuzz
# Configured every time (a no-op when nothing changed): the tree must be the fuzz one whatever made it.
CXX=clang++ cmake -S . -B "$build" -G Ninja -DSOCSTREAM_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++ >/dev/null
names=()
for t in "${targets[@]}"; do names+=("${t}_fuzz"); done
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${names[@]}"
[ "$build_only" -eq 0 ] || exit 0

mkdir -p "$build/logs"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
printf '%-11s %8s %11s %7s %7s %7s %7s  %s\n' target seconds executions exec/s corpus cov ft result
failed=()
for t in "${targets[@]}"; do
  seeds="tests/fuzz/corpus/$t"
  if [ "$smoke" -eq 1 ]; then
    # A fresh, throw-away working corpus: the smoke run checks the committed seeds, the same every time.
    work="$(mktemp -d)"
  else
    work="$build/corpus/$t"
    mkdir -p "$work"
  fi
  artifacts="fuzz-artifacts/$t"
  mkdir -p "$artifacts"
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  log="$build/logs/$t.log"
  start=$(date +%s)
  rc=0
  "$build/${t}_fuzz" "$work" "$seeds" "${dict[@]}" \
    -max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout="$timeout" -rss_limit_mb=2048 -detect_leaks=1 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  [ "$smoke" -eq 1 ] && rm -rf "$work"
  final_stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs="$(final_stat number_of_executed_units)"
  rate="$(final_stat average_exec_per_sec)"
  last="$(grep -E '^#[0-9]+' "$log" | tail -1 || true)"
  cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
  ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
  corp="$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")"
  if [ "$rc" -eq 0 ]; then
    result=ok
    rmdir "$artifacts" 2>/dev/null || true
  else
    kept="$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tail -1 || true)"
    kind="$(grep -oE 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer): [a-z-]+' "$log" | head -1 || true)"
    grep -q 'fuzz check failed' "$log" && kind="failed check: $(sed -n 's/^fuzz check failed: //p' "$log" | head -1 | cut -c1-120)"
    grep -q 'runtime error:' "$log" && kind="UBSan: $(grep -m1 'runtime error:' "$log" | sed 's/.*runtime error: //' | cut -c1-120)"
    if [ -n "$kept" ] && grep -q 'libFuzzer: timeout' "$log"; then
      replay_start=$(date +%s%N)
      if "$build/${t}_fuzz" -timeout="$timeout" -rss_limit_mb=2048 "$kept" >"$log.replay" 2>&1; then
        ms=$(( ($(date +%s%N) - replay_start) / 1000000 ))
        kind="$kind, not reproduced: the replay took $((ms / 1000)).$(printf '%03d' $((ms % 1000))) s"
      else
        kind="$kind, reproduced on replay"
      fi
    fi
    result="FAILED (exit $rc${kind:+, $kind}; input: ${kept:-none}; log: $log)"
    failed+=("$t")
  fi
  printf '%-11s %8s %11s %7s %7s %7s %7s  %s\n' "$t" "$took" "${execs:-?}" "${rate:-?}" "${corp:-?}" "${cov:-?}" "${ft:-?}" "$result"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: failed: ${failed[*]}" >&2
  exit 1
fi
