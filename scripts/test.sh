#!/usr/bin/env bash
# Installs what is missing, builds, exports the MiniLM test model, starts a real Kafka broker and redis-server
# on loopback, runs every test through ctest, and stops the servers again
# (also when a test fails).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/bootstrap.sh
scripts/build.sh build
# The venv has the alert schema's validator (jsonschema) the tests call.
export SOCSTREAM_PYTHON="$(scripts/python_env.sh)"
# The MiniLM embedding test needs the exported model (90 MB, never committed).
if [ ! -f .cache/models/all-minilm-l6-v2/reference.jsonl ]; then
  "$SOCSTREAM_PYTHON" models/train/export_minilm.py
fi
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
cd build
ctest --output-on-failure -j "$(nproc)" --timeout 900
