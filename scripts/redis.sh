#!/usr/bin/env bash
# A real redis-server (Debian's) on loopback, for tests and benchmarks.
#   scripts/redis.sh start | stop | status      REDIS_PORT (default 16379)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
port="${REDIS_PORT:-16379}"
run="$root/.cache/redis/$port"
[ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! command -v redis-server >/dev/null; then
  ${SUDO:-} apt-get install -y -qq --no-install-recommends redis-server >/dev/null || {
    ${SUDO:-} apt-get update -qq && ${SUDO:-} apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
fi
case "${1:-}" in
  start)
    mkdir -p "$run"
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$run" --pidfile "$run/redis.pid" --logfile "$run/redis.log"
    for _ in $(seq 1 50); do
      if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then echo "redis.sh: up on 127.0.0.1:$port" >&2; exit 0; fi
      sleep 0.1
    done
    echo "redis.sh: redis-server did not answer" >&2; exit 1
    ;;
  stop) redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true ;;
  status) [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && echo "up on 127.0.0.1:$port" || { echo down; exit 1; } ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 64 ;;
esac
