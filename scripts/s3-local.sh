#!/usr/bin/env bash
# A real S3 (LocalStack, S3 only) on loopback, without Docker: `make s3-up` / `make s3-down`.
#
#   scripts/s3-local.sh up|down|status|endpoint
#
# The venv lives outside the repo ($DRUIDCTL_CACHE, default ~/.cache/druidctl) and is
# installed from the frozen scripts/localstack-requirements.txt (--no-deps), so later runs
# start in seconds and upstream releases cannot break it. Data and logs go under a temp dir.
# `up` and `down` are idempotent; `down` stops only the process `up` started (by pid).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${DRUIDCTL_S3_PORT:-4566}
cache=${DRUIDCTL_CACHE:-$HOME/.cache/druidctl}
venv=$cache/localstack-venv
state=${DRUIDCTL_S3_STATE:-${TMPDIR:-/tmp}/druidctl-s3-$port}
pidfile=$state/localstack.pid
log=$state/localstack.log
name="S3 (LocalStack)"
# shellcheck source=scripts/service.sh
. "$here/service.sh"
requirements=$here/localstack-requirements.txt
endpoint="http://127.0.0.1:$port"

python_bin() {
  # LocalStack 4.13.1 is the newest release that runs on Python 3.11.
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then echo "$candidate"; return; fi
  done
  echo "no python3 found" >&2; exit 1
}

install() {
  if [ -x "$venv/bin/python" ] && cmp -s "$requirements" "$venv/.requirements"; then
    return 0
  fi
  echo "installing LocalStack into $venv (first run: ~40 s, ~200 MB)"
  rm -rf "$venv"
  mkdir -p "$cache"
  "$(python_bin)" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$requirements"
  cp "$requirements" "$venv/.requirements"
}

healthy() {
  curl -fsS --max-time 2 "$endpoint/_localstack/health" 2>/dev/null | grep -Eq '"s3": ?"(running|available)"'
}

up() {
  if running_pid >/dev/null && healthy; then
    echo "S3 (LocalStack) already running at $endpoint"
    return 0
  fi
  if healthy; then
    echo "something else already serves S3 at $endpoint; using it"
    return 0
  fi
  install
  mkdir -p "$state/home" "$state/tmp"
  : > "$log"
  # setsid + /dev/null stdin: detached from this shell, so make and CI steps can return.
  env SERVICES=s3 GATEWAY_LISTEN="127.0.0.1:$port" GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 \
    DISABLE_EVENTS=1 SKIP_SSL_CERT_DOWNLOAD=1 EAGER_SERVICE_LOADING=1 \
    HOME="$state/home" TMPDIR="$state/tmp" LOCALSTACK_VOLUME_DIR="$state/volume" \
    setsid "$venv/bin/python" -m localstack.runtime.main < /dev/null >> "$log" 2>&1 &
  echo $! > "$pidfile"
  wait_ready healthy
  echo "S3 (LocalStack) ready at $endpoint (pid $(cat "$pidfile"), log $log)"
}

case "${1:-}" in
  up) up ;;
  down) stop ;;
  status) if healthy; then echo "running at $endpoint"; else echo "not running"; exit 1; fi ;;
  endpoint) echo "$endpoint" ;;
  *) echo "usage: $0 up|down|status|endpoint" >&2; exit 2 ;;
esac
