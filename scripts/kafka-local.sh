#!/usr/bin/env bash
# A single-node KRaft Kafka on loopback for tests: `make kafka-up` / `make kafka-down`.
#
#   scripts/kafka-local.sh up|down|status
#
# Jars come from Maven Central (scripts/kafka/pom.xml) into $DRUIDCTL_CACHE (default
# ~/.cache/druidctl), so later runs start in seconds; data and logs go under a temp dir.
# `up` and `down` are idempotent; `down` stops only the process `up` started (by pid).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${DRUIDCTL_KAFKA_PORT:-19092}
controller_port=$((port + 1))
cache=${DRUIDCTL_CACHE:-$HOME/.cache/druidctl}
lib=$cache/kafka-3.9.1/lib
state=${DRUIDCTL_KAFKA_STATE:-${TMPDIR:-/tmp}/druidctl-kafka-$port}
pidfile=$state/kafka.pid
log=$state/kafka.log
name="Kafka"
# shellcheck source=scripts/service.sh
. "$here/service.sh"

listening() { (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

install() {
  if [ -f "$lib/.complete" ]; then return; fi
  command -v mvn >/dev/null 2>&1 || { echo "Maven (mvn) is needed to fetch Kafka" >&2; exit 1; }
  echo "fetching Kafka 3.9.1 jars from Maven Central into $lib (~46 MB)"
  rm -rf "$lib"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib"
  touch "$lib/.complete"
}

up() {
  if running_pid >/dev/null && listening; then
    echo "Kafka already running at 127.0.0.1:$port"
    return 0
  fi
  if listening; then
    echo "something else listens on 127.0.0.1:$port; using it"
    return 0
  fi
  install
  rm -rf "$state"
  mkdir -p "$state"
  cat > "$state/server.properties" <<PROPERTIES
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$state/data
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
num.partitions=1
PROPERTIES
  printf '%s\n' 'log4j.rootLogger=WARN, stderr' 'log4j.appender.stderr=org.apache.log4j.ConsoleAppender' \
    'log4j.appender.stderr.Target=System.err' 'log4j.appender.stderr.layout=org.apache.log4j.PatternLayout' \
    'log4j.appender.stderr.layout.ConversionPattern=%d %p %c - %m%n' > "$state/log4j.properties"
  local java_opts=(-Xmx512m -Dlog4j.configuration="file:$state/log4j.properties" -cp "$lib/*")
  local cluster
  cluster=$(java "${java_opts[@]}" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n 1)
  java "${java_opts[@]}" kafka.tools.StorageTool format -t "$cluster" -c "$state/server.properties" > "$log" 2>&1
  setsid java "${java_opts[@]}" kafka.Kafka "$state/server.properties" < /dev/null >> "$log" 2>&1 &
  echo $! > "$pidfile"
  wait_ready listening
  echo "Kafka ready at 127.0.0.1:$port (pid $(cat "$pidfile"), log $log)"
}

case "${1:-}" in
  up) up ;;
  down) stop ;;
  status) if listening; then echo "listening on 127.0.0.1:$port"; else echo "not running"; exit 1; fi ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
