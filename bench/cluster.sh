# Sourced by the Kafka benchmarks (run from the project root, with $root set):
# builds, starts a real broker and redis-server on loopback for the script's
# lifetime, and on exit stops them and kills $bg_pid (a process under test);
# and the helpers they share.
scripts/bootstrap.sh
scripts/build.sh build >/dev/null
export KAFKA_PORT="${KAFKA_PORT:-19092}" KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
export REDIS_PORT="${REDIS_PORT:-16379}"
export REDIS_APPENDONLY=no  # no AOF rewrites stealing a core mid-measurement (scripts/redis.sh)
export KAFKA_BROKERS="127.0.0.1:$KAFKA_PORT"
tool=build/bench/kafka_bench_tool
bg_pid=""
cleanup() {
  [ -n "$bg_pid" ] && kill -9 "$bg_pid" 2>/dev/null || true
  "$root/scripts/kafka.sh" stop || true
  "$root/scripts/redis.sh" stop || true
}
trap cleanup EXIT
scripts/kafka.sh start
scripts/redis.sh start
mkdir -p bench/data bench/out

now_ms() { date +%s%3N; }
xlen() { redis-cli -p "$REDIS_PORT" XLEN "$1"; }
committed() { $tool committed "$1" "$2" | cut -d' ' -f1; }   # topic group: offsets the group has committed
alive() { kill -0 "$bg_pid" 2>/dev/null || { echo "FAIL: the process under test exited early (logs: bench/out/)" >&2; exit 1; }; }
# socstream on a topology, reading a topic as a group and writing alerts to a
# stream (Redis) and a topic of that name. It execs, so that a background
# `engine_cmd ... &` leaves the engine's own pid in $!. SOCSTREAM_BIN names
# another build of the engine to measure (an A/B against an older commit).
engine_cmd() {  # config topic group stream
  KAFKA_BROKERS="$KAFKA_BROKERS" REDIS_PORT="$REDIS_PORT" SOCSTREAM_TOPIC="$2" SOCSTREAM_GROUP="$3" \
    SOCSTREAM_STREAM="$4" SOCSTREAM_ALERTS_TOPIC="$4" SOCSTREAM_DLQ_TOPIC="$4-dlq" \
    exec "${SOCSTREAM_BIN:-build/socstream}" run "$1" --log-level warn
}
