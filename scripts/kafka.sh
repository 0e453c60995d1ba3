#!/usr/bin/env bash
# A real single-node Apache Kafka broker in KRaft mode on loopback, for tests
# and benchmarks. Its jars come from Maven Central (scripts/kafka/pom.xml),
# cached in .cache/kafka/lib.
#   scripts/kafka.sh start     fresh data directory, wait until it answers
#   scripts/kafka.sh restart   stop, then start on the same data (a broker restart)
#   scripts/kafka.sh stop | status
# KAFKA_PORT (default 19092) and KAFKA_CONTROLLER_PORT (default 19093) choose the ports, KAFKA_RUN_DIR the
# data directory; KAFKA_AUTO_CREATE=false makes a broker that does not create topics on first use.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/kafka"
lib="$cache/lib"
run="${KAFKA_RUN_DIR:-$cache/run}"
port="${KAFKA_PORT:-19092}"
cport="${KAFKA_CONTROLLER_PORT:-19093}"
pidfile="$run/kafka.pid"

need() {  # command, Debian package
  command -v "$1" >/dev/null || {
    echo "kafka.sh: installing $2" >&2
    ${SUDO:-} apt-get install -y -qq --no-install-recommends "$2" >/dev/null || {
      ${SUDO:-} apt-get update -qq && ${SUDO:-} apt-get install -y -qq --no-install-recommends "$2" >/dev/null; }
  }
}
[ "$(id -u)" -eq 0 ] || SUDO=sudo

resolve_jars() {
  if [ ! -f "$lib/kafka_2.13-3.9.1.jar" ]; then
    need java default-jre-headless
    need mvn maven
    echo "kafka.sh: resolving the broker's jars from Maven Central" >&2
    mvn -q -B -f "$root/scripts/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$lib.tmp" -DincludeScope=runtime >&2
    rm -rf "$lib" && mv "$lib.tmp" "$lib"
  fi
}

running() { [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

answers() {
  # A metadata request from a real client: the broker is up and serving.
  kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1
}

write_config() {
  mkdir -p "$run"
  cat > "$run/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$run/data
num.partitions=1
auto.create.topics.enable=${KAFKA_AUTO_CREATE:-true}
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=4
# Large enough for the bad-input test's 8 MiB event.
message.max.bytes=16777216
replica.fetch.max.bytes=16777216
PROPS
  cat > "$run/log4j.properties" <<PROPS
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$run/broker.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
PROPS
}

launch() {
  need kcat kcat
  nohup java -Xms256m -Xmx768m -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j.configuration="file:$run/log4j.properties" \
    -cp "$lib/*" kafka.Kafka "$run/server.properties" >"$run/stdout.log" 2>&1 &
  echo $! > "$pidfile"
  for _ in $(seq 1 120); do
    if answers; then echo "kafka.sh: broker up on 127.0.0.1:$port" >&2; return 0; fi
    running || { echo "kafka.sh: the broker exited; see $run/stdout.log and $run/broker.log" >&2; tail -20 "$run/stdout.log" >&2; return 1; }
    sleep 0.5
  done
  echo "kafka.sh: the broker did not answer within 60 s" >&2
  return 1
}

stop() {
  if running; then
    local pid; pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start)
    resolve_jars
    stop
    rm -rf "$run/data"
    write_config
    java -cp "$lib/*" kafka.tools.StorageTool format -t "$(java -cp "$lib/*" kafka.tools.StorageTool random-uuid)" \
      -c "$run/server.properties" >/dev/null
    launch
    ;;
  restart)
    stop
    launch
    ;;
  stop) stop ;;
  status)
    if running && answers; then echo "up on 127.0.0.1:$port"; else echo "down"; exit 1; fi
    ;;
  *) echo "usage: $0 start|restart|stop|status" >&2; exit 64 ;;
esac
