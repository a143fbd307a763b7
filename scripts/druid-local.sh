#!/usr/bin/env bash
# A single-machine Apache Druid on loopback for `make demo` and the end-to-end tests:
# `make dev-up` / `make dev-down` (which also start and stop Kafka with scripts/kafka-local.sh).
#
#   scripts/druid-local.sh up|down|status
#
# Services: ZooKeeper (2181), Coordinator running as Overlord (8081), Broker (8082), Historical
# (8083), Indexer (8091, tasks run in its JVM) and Router (8888, the URL druidctl talks to),
# Derby metadata (1527) and local deep storage under $DRUIDCTL_DRUID_STATE (a temp dir, wiped
# by `up`). Jars come from Maven Central (scripts/druid/pom.xml) into $DRUIDCTL_CACHE (default
# ~/.cache/druidctl). The protobuf extension, in this order: DRUIDCTL_PROTOBUF_EXTENSION (a
# classpath of jars, e.g. "/opt/druid/extensions/druid-protobuf-extensions/*"), else Druid's own
# druid-protobuf-extensions when the Maven repository serves it (scripts/druid/official-protobuf),
# else druidctl's stand-in built from scripts/druid/protobuf (docs/local-stack.md says why).
# `up` says which one it started. `up` and `down` are idempotent; `down` stops only the processes
# `up` started, by pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
druid_version=33.0.0
cache=${DRUIDCTL_CACHE:-$HOME/.cache/druidctl}
home=$cache/druid-$druid_version
lib=$home/lib
state=${DRUIDCTL_DRUID_STATE:-${TMPDIR:-/tmp}/druidctl-druid}
conf=$state/conf
# Start-up of five JVMs on two cores: give each service up to this many seconds.
ready_secs=${DRUIDCTL_DRUID_READY_SECS:-240}

# name port heap direct-memory (in the order they start)
services=(
  "zookeeper 2181 128m 0"
  "coordinator 8081 384m 0"
  "broker 8082 384m 192m"
  "historical 8083 256m 192m"
  "indexer 8091 1g 256m"
  "router 8888 128m 0"
)

# shellcheck source=scripts/service.sh
. "$here/service.sh"

use() { # name port: selects the service the service.sh helpers act on
  name="Druid $1"
  [ "$1" = zookeeper ] && name=ZooKeeper
  port=$2
  pidfile=$state/$1.pid
  log=$state/log/$1.log
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port$1" 2>/dev/null; }
zk_ready() { (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
health() { http_ok /status/health; }
broker_ready() { http_ok /druid/broker/v1/readiness; }
discovered() { http_ok /status/selfDiscovered; }
# The Overlord inside the Coordinator answers once it leads (503 before).
overlord_ready() { http_ok /status/health && http_ok /druid/indexer/v1/leader; }

install() {
  command -v mvn >/dev/null 2>&1 || { echo "Maven (mvn) is needed to fetch Druid" >&2; exit 1; }
  if [ ! -f "$lib/.complete" ]; then
    echo "fetching Druid $druid_version, its Kafka indexing service and ZooKeeper from Maven Central into $lib (~195 MB)"
    rm -rf "$lib"
    mvn -q -B -f "$here/druid/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib"
    touch "$lib/.complete"
  fi
  # Rebuilt whenever its sources change (the jar's name carries their digest).
  local digest
  digest=$(cd "$here/druid/protobuf" && find pom.xml src -type f | sort | xargs sha256sum | sha256sum | cut -c1-12)
  shim=$home/druidctl-protobuf-input-$digest.jar
  if [ ! -f "$shim" ]; then
    echo "building the protobuf input format (scripts/druid/protobuf) against Druid $druid_version"
    rm -f "$home"/druidctl-protobuf-input-*.jar
    mvn -q -B -f "$here/druid/protobuf/pom.xml" package -Dmaven.test.skip=true -Dbuild.dir="$home/protobuf-build"
    cp "$home/protobuf-build/druidctl-protobuf-input-1.jar" "$shim"
  fi
  choose_protobuf_extension
}

# Sets $extension (a classpath entry) and $extension_name.
choose_protobuf_extension() {
  if [ -n "${DRUIDCTL_PROTOBUF_EXTENSION:-}" ]; then
    extension=$DRUIDCTL_PROTOBUF_EXTENSION
    extension_name="the extension in DRUIDCTL_PROTOBUF_EXTENSION ($DRUIDCTL_PROTOBUF_EXTENSION)"
    return
  fi
  local official=$home/official-protobuf
  if [ ! -f "$official/.complete" ]; then
    # Tried on every `up` until the repository serves it (a few seconds when it does not).
    rm -rf "$official"
    if mvn -q -B -f "$here/druid/official-protobuf/pom.xml" dependency:copy-dependencies \
        -Ddruid.version="$druid_version" -DoutputDirectory="$official" >/dev/null 2>&1; then
      touch "$official/.complete"
    fi
  fi
  if [ -f "$official/.complete" ]; then
    extension="$official/*"
    extension_name="Druid's druid-protobuf-extensions $druid_version (from the Maven repository)"
  else
    extension=$shim
    extension_name="druidctl's stand-in (scripts/druid/protobuf): the Maven repository does not serve druid-protobuf-extensions $druid_version"
  fi
}

write_conf() {
  mkdir -p "$conf/_common" "$state/log" "$state/tmp"
  cat > "$conf/_common/common.runtime.properties" <<PROPERTIES
druid.host=127.0.0.1
druid.bindOnHost=true
druid.extensions.loadList=[]
druid.extensions.directory=$state/extensions
druid.extensions.searchCurrentClassloader=true
druid.startup.logging.logProperties=false
druid.zk.service.host=127.0.0.1:2181
druid.zk.paths.base=/druid
druid.metadata.storage.type=derby
druid.metadata.storage.connector.connectURI=jdbc:derby://127.0.0.1:1527/$state/metadata;create=true
druid.metadata.storage.connector.host=127.0.0.1
druid.metadata.storage.connector.port=1527
druid.storage.type=local
druid.storage.storageDirectory=$state/deep-storage
druid.indexer.logs.type=file
druid.indexer.logs.directory=$state/task-logs
druid.selectors.indexing.serviceName=druid/overlord
druid.selectors.coordinator.serviceName=druid/coordinator
druid.emitter=noop
druid.sql.enable=true
druid.lookup.enableLookupSyncOnStartup=false
druid.server.http.numThreads=12
druid.processing.numThreads=1
druid.processing.numMergeBuffers=2
druid.processing.buffer.sizeBytes=32MiB
druid.processing.tmpDir=$state/tmp
PROPERTIES
  cat > "$conf/_common/log4j2.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8" ?>
<Configuration status="WARN">
  <Appenders>
    <Console name="Console" target="SYSTEM_OUT">
      <PatternLayout pattern="%d{ISO8601} %p [%t] %c - %m%n"/>
    </Console>
  </Appenders>
  <Loggers>
    <Root level="info"><AppenderRef ref="Console"/></Root>
    <Logger name="org.apache.druid.server.coordinator" level="warn" additivity="false"><AppenderRef ref="Console"/></Logger>
    <Logger name="org.apache.zookeeper" level="warn" additivity="false"><AppenderRef ref="Console"/></Logger>
    <Logger name="org.apache.curator" level="warn" additivity="false"><AppenderRef ref="Console"/></Logger>
    <Logger name="org.apache.kafka" level="warn" additivity="false"><AppenderRef ref="Console"/></Logger>
  </Loggers>
</Configuration>
XML
  mkdir -p "$conf/coordinator" "$conf/broker" "$conf/historical" "$conf/indexer" "$conf/router"
  cat > "$conf/coordinator/runtime.properties" <<PROPERTIES
druid.service=druid/coordinator
druid.plaintextPort=8081
druid.coordinator.startDelay=PT2S
druid.coordinator.period=PT5S
druid.coordinator.asOverlord.enabled=true
druid.coordinator.asOverlord.overlordService=druid/overlord
druid.manager.segments.pollDuration=PT5S
druid.indexer.queue.startDelay=PT1S
druid.indexer.runner.type=remote
druid.indexer.storage.type=metadata
druid.supervisor.idleConfig.enabled=false
PROPERTIES
  cat > "$conf/broker/runtime.properties" <<PROPERTIES
druid.service=druid/broker
druid.plaintextPort=8082
druid.broker.http.numConnections=10
druid.sql.planner.metadataRefreshPeriod=PT5S
PROPERTIES
  cat > "$conf/historical/runtime.properties" <<PROPERTIES
druid.service=druid/historical
druid.plaintextPort=8083
druid.segmentCache.locations=[{"path":"$state/segment-cache","maxSize":"2GiB"}]
druid.server.maxSize=2GiB
PROPERTIES
  cat > "$conf/indexer/runtime.properties" <<PROPERTIES
druid.service=druid/indexer
druid.plaintextPort=8091
druid.worker.capacity=8
druid.indexer.task.baseTaskDir=$state/tasks
druid.indexer.task.restoreTasksOnRestart=false
druid.processing.numThreads=2
PROPERTIES
  cat > "$conf/router/runtime.properties" <<PROPERTIES
druid.service=druid/router
druid.plaintextPort=8888
druid.router.managementProxy.enabled=true
druid.router.http.numConnections=20
PROPERTIES
  cat > "$conf/zoo.cfg" <<PROPERTIES
dataDir=$state/zookeeper
clientPort=2181
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=
PROPERTIES
}

start() { # name port heap direct
  use "$1" "$2"
  if running_pid >/dev/null; then return; fi
  local java_opts=(-server "-Xms$3" "-Xmx$3" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError
    -Duser.timezone=UTC -Dfile.encoding=UTF-8 "-Djava.io.tmpdir=$state/tmp"
    -Djava.util.logging.manager=org.apache.logging.log4j.jul.LogManager "-Dderby.stream.error.file=$state/log/derby.log"
    --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED --add-exports=java.base/jdk.internal.ref=ALL-UNNAMED
    --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
    --add-opens=java.base/jdk.internal.ref=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
    --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED)
  [ "$4" != 0 ] && java_opts+=("-XX:MaxDirectMemorySize=$4")
  if [ "$1" = zookeeper ]; then
    setsid java "${java_opts[@]}" -Dzookeeper.jmx.log4j.disable=true "-Dlog4j2.configurationFile=$conf/_common/log4j2.xml" \
      -cp "$lib/*" org.apache.zookeeper.server.ZooKeeperServerMain "$conf/zoo.cfg" < /dev/null > "$log" 2>&1 &
  else
    setsid java "${java_opts[@]}" -cp "$conf/_common:$conf/$1:$extension:$lib/*" org.apache.druid.cli.Main server "$1" \
      < /dev/null > "$log" 2>&1 &
  fi
  echo $! > "$pidfile"
}

ready() { # name port check
  use "$1" "$2"
  wait_ready "$3"
  echo "$name ready on 127.0.0.1:$port"
}

all_running() {
  local s
  for s in "${services[@]}"; do
    # shellcheck disable=SC2086
    set -- $s
    use "$1" "$2"
    running_pid >/dev/null || return 1
  done
}

up() {
  if all_running; then
    echo "Druid already running (router at http://127.0.0.1:8888)"
    return 0
  fi
  local busy
  for busy in 2181 1527 8081 8082 8083 8091 8888; do
    if (echo > "/dev/tcp/127.0.0.1/$busy") 2>/dev/null; then
      echo "port $busy on 127.0.0.1 is already in use: stop what listens there (or run $0 down)" >&2
      exit 1
    fi
  done
  install
  local started=$SECONDS
  rm -rf "$state"
  write_conf
  # A failed start stops whatever this run started.
  trap 'down >/dev/null' EXIT
  start zookeeper 2181 128m 0
  ready zookeeper 2181 zk_ready
  start coordinator 8081 384m 0
  # Derby runs inside the Coordinator: the other services start once it is up.
  ready coordinator 8081 overlord_ready
  start broker 8082 384m 192m
  start historical 8083 256m 192m
  start indexer 8091 1g 256m
  start router 8888 128m 0
  ready historical 8083 health
  ready indexer 8091 discovered
  ready broker 8082 broker_ready
  ready router 8888 health
  trap - EXIT
  echo "Druid $druid_version ready in $((SECONDS - started)) s: router http://127.0.0.1:8888, logs in $state/log"
  echo "protobuf extension: $extension_name"
}

down() {
  local i s
  # Reverse order: the Router and query services first, ZooKeeper last.
  for ((i = ${#services[@]} - 1; i >= 0; i--)); do
    s=${services[$i]}
    # shellcheck disable=SC2086
    set -- $s
    use "$1" "$2"
    stop 20
  done
}

status() {
  local s rc=0
  for s in "${services[@]}"; do
    # shellcheck disable=SC2086
    set -- $s
    use "$1" "$2"
    if pid=$(running_pid); then echo "$name: running (pid $pid, 127.0.0.1:$port)"; else echo "$name: not running"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
