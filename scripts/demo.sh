#!/usr/bin/env bash
# `make demo`: the whole workflow against a real Druid and Kafka on this machine.
#
# Starts the local stack (make dev-up), then with the dev environment pointed at it: compiles
# and validates the schema, publishes it to a registry kept with the stack, writes records to
# the dev topic, deploys (submit, wait for the tasks, decide on what they read as soon as the
# evidence allows, move the channel), writes more records while it runs, verifies again, queries the rows and shows the
# status. The stack keeps running afterwards; `make dev-down` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

state=${DRUIDCTL_DRUID_STATE:-${TMPDIR:-/tmp}/druidctl-druid}
kafka=127.0.0.1:${DRUIDCTL_KAFKA_PORT:-19092}
router=http://127.0.0.1:8888
# The dev environment of druidctl.toml, pointed at the local stack; the registry lives with
# the stack's data, so a fresh stack starts with an empty registry.
export DRUIDCTL_DRUID_URL=$router DRUIDCTL_KAFKA_BOOTSTRAP=$kafka DRUIDCTL_REGISTRY=file://$state/registry
druidctl=${DRUIDCTL:-cargo run --quiet -p druidctl --}
produce() { cargo run --quiet -p druidctl-examples --bin produce -- --brokers "$kafka" --topic settlement-transactions-dev "$@"; }
say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

say "start ZooKeeper, Kafka and Druid on loopback (make dev-up)"
make --no-print-directory dev-up

say "build druidctl and the producer"
cargo build --quiet -p druidctl -p druidctl-examples

say "compile and validate the schema: druidctl compile && druidctl validate"
$druidctl compile
$druidctl validate

say "publish it to the local registry: druidctl schemas publish --env dev"
$druidctl schemas publish --env dev

say "write 1000 SettlementTransaction records to the dev topic"
produce --count 1000 --seed 1

say "deploy to dev: druidctl deploy --env dev (the dev window is Monday-Friday; the override is recorded)"
echo "(the verdict comes as soon as the new task's records show it ingests within 1 % unparseable)"
started=$(date +%s)
$druidctl deploy --env dev --yes --ignore-window --reason "make demo on the local stack"
echo "deploy: $(( $(date +%s) - started )) s from start to verdict and channel move (the verdict line above says when it decided)"

say "write 500 more records while it runs"
produce --count 500 --seed 2

say "wait until Druid answers SQL with all 1500 rows"
count=0
for _ in $(seq 1 60); do
  count=$(curl -fsS -H 'Content-Type: application/json' "$router/druid/v2/sql" \
    -d '{"query":"SELECT COUNT(*) AS n FROM settlement_transactions_dev","resultFormat":"array"}' 2>/dev/null \
    | tr -dc '0-9' || true)
  [ "${count:-0}" -ge 1500 ] && break
  sleep 2
done
echo "rows in settlement_transactions_dev: ${count:-0}"
[ "${count:-0}" -ge 1500 ] || { echo "Druid did not show the 1500 rows within 2 minutes" >&2; exit 1; }

say "verify: druidctl verify --env dev"
$druidctl verify --env dev

say "a few rows, as Druid stored them"
curl -fsS -H 'Content-Type: application/json' "$router/druid/v2/sql" \
  -d '{"query":"SELECT __time, transactionId, status, channel, amountMinor, feeAmountMinor, cardScheme FROM settlement_transactions_dev ORDER BY __time DESC LIMIT 3"}'
echo

say "status: druidctl status --env dev"
$druidctl status --env dev

say "history: druidctl history --env dev"
$druidctl history --env dev

say "done: a verified deployment on the local stack (router $router; make dev-down stops it)"
