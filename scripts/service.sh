# Shared by scripts/s3-local.sh, kafka-local.sh and druid-local.sh: a background service tracked by a
# pid file. Source it after setting `name` (for messages), `pidfile` and `log`.

# Prints the pid when the process `up` started is alive.
running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Waits up to `$ready_secs` (default 60) seconds for `$1` (a command) to succeed; fails with the
# log's tail if the process dies or the time runs out.
wait_ready() {
  local ready=$1 secs=${ready_secs:-60}
  for _ in $(seq 1 $((secs * 2))); do
    if $ready; then
      return 0
    fi
    if ! running_pid >/dev/null; then
      echo "$name exited during start-up; last lines of $log:" >&2
      tail -n 30 "$log" >&2
      rm -f "$pidfile"
      exit 1
    fi
    sleep 0.5
  done
  echo "$name was not ready within $secs s; last lines of $log:" >&2
  tail -n 30 "$log" >&2
  stop
  exit 1
}

# Stops exactly the process `up` started: SIGTERM, then SIGKILL after `$1` seconds (10).
stop() {
  local pid grace=${1:-10}
  if ! pid=$(running_pid); then
    rm -f "$pidfile"
    echo "$name is not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 4))); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.25
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "$name stopped"
}
