# Sourced by the Kafka benchmarks (run from the project root, with $root set):
# builds, starts a real broker and redis-server on loopback for the script's
# lifetime, and on exit stops them and kills $bg_pid (a process under test).
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
