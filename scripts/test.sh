#!/usr/bin/env bash
# Installs what is missing, builds, exports the MiniLM test model, starts a real Kafka broker and redis-server
# on loopback, runs every test through ctest, stops the servers again (also when a test fails), then gives every
# libFuzzer target (tests/fuzz) a few seconds on its committed corpus.
#   scripts/test.sh              the above
#   scripts/test.sh --sanitize [gtest args]   the unit test suite only, built in build-asan with AddressSanitizer
#                                (leaks included) and UndefinedBehaviorSanitizer; any report fails it
# JOBS (default: nproc) caps the parallel compiles of --sanitize.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
mode=all
case "${1:-}" in
  "") ;;
  --sanitize) mode=sanitize; shift ;;
  *) echo "usage: scripts/test.sh [--sanitize [gtest args]]" >&2; exit 2 ;;
esac
scripts/bootstrap.sh
# The venv has the alert schema's validator (jsonschema) the tests call.
export SOCSTREAM_PYTHON="$(scripts/python_env.sh)"
# The MiniLM embedding test needs the exported model (90 MB, never committed).
if [ ! -f .cache/models/all-minilm-l6-v2/reference.jsonl ]; then
  "$SOCSTREAM_PYTHON" models/train/export_minilm.py
fi

if [ "$mode" = sanitize ]; then
  # gcc's ASan+UBSan over the whole code (the torch plugin included; libtorch itself is not instrumented).
  # -fno-sanitize-recover makes the first UB report fatal, so it fails the run instead of scrolling by.
  # -Wno-maybe-uninitialized: with the sanitizers' instrumentation gcc 12 reports false positives inside
  # libstdc++'s <regex> and <functional>; the normal build keeps that warning (and -Werror).
  san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -Wno-maybe-uninitialized"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSOCSTREAM_WERROR=ON \
    -DSOCSTREAM_BUILD_BENCH=OFF -DCMAKE_CXX_FLAGS="$san" >/dev/null
  cmake --build build-asan --target unit_tests -j "${JOBS:-$(nproc)}"
  # Leak detection is on (LeakSanitizer is part of ASan on Linux x86-64).
  export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  exec build-asan/tests/unit_tests "$@"
fi

scripts/build.sh build
export KAFKA_PORT="${KAFKA_PORT:-19092}" KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
export REDIS_PORT="${REDIS_PORT:-16379}"
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
cleanup() {
  "$root/scripts/kafka.sh" stop || true
  "$root/scripts/redis.sh" stop || true
}
trap cleanup EXIT
scripts/kafka.sh start
scripts/redis.sh start
(cd build && ctest --output-on-failure -j "$(nproc)" --timeout 900)
# Every fuzz target, a few seconds each on its committed corpus: a crash, leak or hang there fails the run.
scripts/fuzz.sh --smoke
