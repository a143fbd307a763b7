# The team's familiar targets, each a thin call of druidctl.
# DRUIDCTL runs the binary from this checkout; set DRUIDCTL=druidctl to use an installed one.
DRUIDCTL ?= cargo run --quiet -p druidctl --
ENV ?= dev
VERSION ?= previous
# The S3-compatible server the S3 tests use (LocalStack, started by s3-up).
S3_ENDPOINT ?= http://127.0.0.1:4566

.PHONY: help compile validate test-template list-schemas deploy-dev deploy-staging deploy-prod plan status logs \
	rollback suspend resume test test-rust test-examples test-kafka bench bench-compat lint s3-up s3-down \
	kafka-up kafka-down dev-up dev-down demo test-e2e conformance compat-vs-buf compat-vs-druid bench-preflight bench-verdict

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

demo: ## The whole workflow against a real local Druid + Kafka: dev-up, publish, deploy, produce, verify, status
	scripts/demo.sh

compile: ## Compile schemas/proto into target/druidctl/descriptor.binpb
	$(DRUIDCTL) compile

validate: ## Check dimensions.json and every environment against the schema
	$(DRUIDCTL) validate

test-template: ## Print the supervisor spec of ENV (make test-template ENV=prod)
	$(DRUIDCTL) render --env $(ENV)

list-schemas: ## Versions in ENV's registry and the channels pointing at them
	$(DRUIDCTL) schemas list --env $(ENV)

deploy-dev: ## Publish, submit, verify and promote to develop-latest
	$(DRUIDCTL) deploy --env dev

deploy-staging: ## The same for staging (staging-latest)
	$(DRUIDCTL) deploy --env staging

deploy-prod: ## The same for prod (stable); asks for confirmation
	$(DRUIDCTL) deploy --env prod

plan: ## What deploying ENV would do
	$(DRUIDCTL) plan --env $(ENV)

status: ## State, tasks, lag, rates, parse errors of ENV
	$(DRUIDCTL) status --env $(ENV)

logs: ## Tail of the running tasks' logs of ENV
	$(DRUIDCTL) logs --env $(ENV)

rollback: ## make rollback ENV=prod VERSION=abc123f (default VERSION=previous)
	$(DRUIDCTL) rollback --env $(ENV) --schema-version $(VERSION)

suspend: ## Emergency: suspend ENV's supervisor
	$(DRUIDCTL) suspend --env $(ENV)

resume: ## Resume ENV's supervisor
	$(DRUIDCTL) resume --env $(ENV)

test: s3-up dev-up test-rust test-examples test-kafka compat-vs-buf test-e2e ## Every test suite (what CI runs); starts LocalStack and the local stack first

test-rust:
	DRUIDCTL_TEST_S3_ENDPOINT=$(S3_ENDPOINT) cargo test --workspace

test-examples:
	cargo run --quiet -p druidctl-examples --bin render-spec -- prod druidctl.toml > /dev/null
	cargo run --quiet -p druidctl-examples --bin deploy-cycle -- druidctl.toml

test-kafka: ## The producer against the local Kafka: 1000 records, 5 % garbage, 2 % Confluent-prefixed
	cargo run --quiet -p druidctl-examples --bin produce -- --brokers 127.0.0.1:19092 \
		--topic druidctl-test --count 1000 --garbage 0.05 --confluent 0.02

compat-vs-druid: ## The Druid verdict vs what the local Druid stores, with catch and false alarm rates (needs make dev-up)
	cargo test -p druidctl-tests --test e2e druid_verdict_catch_and_false_alarm_rates -- --ignored --nocapture

conformance: ## The row predictor vs what the local Druid stores, cell by cell: prints N/N cells agree (needs make dev-up)
	cargo test -p druidctl-tests --test e2e decoder_conformance -- --ignored --nocapture

compat-vs-buf: ## druidctl check vs buf breaking (pinned, from npm) on a generated corpus, all four categories
	scripts/compat-vs-buf.sh

bench: bench-compat ## Benchmarks; they print figures, they assert nothing
	cargo bench -p deploy-core --bench offline
	cargo bench -p deploy-core --bench deploy
	cargo bench -p deploy-core --bench fleet
	cargo bench -p druid-client --bench status_many
	cargo bench -p proto-schema --bench compat
	cargo bench -p druid-mapping --bench predict

bench-verdict: ## The verdict engine on simulated streams: time to a decision and wrong decisions (docs/verification.md)
	cargo run --release --quiet -p druidctl-examples --bin bench-verdict

bench-preflight: ## Preflight on a 12-partition topic vs the Kafka fetch alone (needs make dev-up)
	cargo run --quiet -p druidctl-examples --bin preflight-timing -- --brokers 127.0.0.1:19092

bench-compat: ## druidctl check vs buf breaking on a large schema (buf from npm when installed)
	scripts/bench-compat.sh

s3-up: ## Start LocalStack (S3 only) on 127.0.0.1:4566, installing it on first use
	scripts/s3-local.sh up

s3-down: ## Stop the LocalStack that s3-up started
	scripts/s3-local.sh down

kafka-up: ## Start a single-node KRaft Kafka on 127.0.0.1:19092 (jars from Maven Central)
	scripts/kafka-local.sh up

kafka-down: ## Stop the Kafka that kafka-up started
	scripts/kafka-local.sh down

dev-up: ## Start ZooKeeper, Kafka and Druid (Coordinator-Overlord, Broker, Historical, Indexer, Router) on loopback
	scripts/kafka-local.sh up
	scripts/druid-local.sh up

dev-down: ## Stop what dev-up started (by pid; idempotent)
	scripts/druid-local.sh down
	scripts/kafka-local.sh down

# Each test has its own datasource, topic and registry: three run at a time (the Indexer has
# eight task slots; more would make them wait for slots and CPU on 2 cores). The decoder
# conformance test runs a supervisor per case at once: it runs alone afterwards.
E2E_THREADS ?= 3
E2E_ALONE := decoder_conformance

test-e2e: ## End-to-end tests against the local stack (needs make dev-up; they fail if it is down); prints its wall time
	cargo build --quiet -p druidctl
	@started=$$(date +%s); \
	cargo test -p druidctl-tests --test e2e -- --ignored --test-threads=$(E2E_THREADS) --nocapture --skip $(E2E_ALONE); \
	together=$$?; \
	cargo test -p druidctl-tests --test e2e -- --ignored --nocapture $(E2E_ALONE); \
	alone=$$?; \
	echo "e2e suite: $$(( $$(date +%s) - started )) s wall time ($(E2E_THREADS) tests at a time, then $(E2E_ALONE) alone)"; \
	[ $$together -eq 0 ] && [ $$alone -eq 0 ]

lint: ## What CI checks besides the tests
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
