#!/usr/bin/env bash
# A real redis-server (Debian's) on loopback, for tests and benchmarks.
#   scripts/redis.sh start     fresh, empty data directory
#   scripts/redis.sh restart   stop (saving), start on the same data (an outage)
#   scripts/redis.sh stop | status                 REDIS_PORT (default 16379)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${REDIS_PORT:-16379}"
run="$root/.cache/redis/$port"
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! command -v redis-server >/dev/null; then
  ${SUDO:-} apt-get install -y -qq --no-install-recommends redis-server >/dev/null || {
    ${SUDO:-} apt-get update -qq && ${SUDO:-} apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
fi
launch() {
  mkdir -p "$run"
  # An append-only file, so a stop and start (an outage in tests) keeps the data.
  # Benchmarks turn it off (REDIS_APPENDONLY=no): its rewrites fork and take a
  # core for seconds every ~20 s at their write rates, on a 2-core machine.
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" \
    --appendonly "${REDIS_APPENDONLY:-yes}" --appendfsync everysec \
    --dir "$run" --pidfile "$run/redis.pid" --logfile "$run/redis.log"
  for _ in $(seq 1 100); do
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then echo "redis.sh: up on 127.0.0.1:$port" >&2; exit 0; fi
    sleep 0.1
  done
  echo "redis.sh: redis-server did not answer" >&2; exit 1
}
stop() {
  redis-cli -p "$port" shutdown >/dev/null 2>&1 || true
  for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 || return 0; sleep 0.1; done
}
case "${1:-}" in
  start) stop; rm -rf "$run"; launch ;;
  restart) stop; launch ;;
  stop) stop ;;
  status) [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && echo "up on 127.0.0.1:$port" || { echo down; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
