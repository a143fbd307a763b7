# The team's familiar targets, each a thin call of druidctl.
# DRUIDCTL runs the binary from this checkout; set DRUIDCTL=druidctl to use an installed one.
DRUIDCTL ?= cargo run --quiet -p druidctl --
ENV ?= dev
# The S3-compatible server the S3 tests use (LocalStack, started by s3-up).
S3_ENDPOINT ?= http://127.0.0.1:4566

.PHONY: help compile validate test-template list-schemas test test-rust test-examples bench bench-compat lint s3-up s3-down

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

compile: ## Compile schemas/proto into target/druidctl/descriptor.binpb
	$(DRUIDCTL) compile

validate: ## Check dimensions.json and every environment against the schema
	$(DRUIDCTL) validate

test-template: ## Print the supervisor spec of ENV (make test-template ENV=prod)
	$(DRUIDCTL) render --env $(ENV)

list-schemas: ## Versions in ENV's registry and the channels pointing at them
	$(DRUIDCTL) schemas list --env $(ENV)

test: s3-up test-rust test-examples ## Every test suite (what CI runs); starts LocalStack first

test-rust:
	DRUIDCTL_TEST_S3_ENDPOINT=$(S3_ENDPOINT) cargo test --workspace

test-examples:
	cargo run --quiet -p druidctl-examples --bin render-spec -- prod druidctl.toml > /dev/null

bench: bench-compat ## Benchmarks; they print figures, they assert nothing
	cargo bench -p deploy-core --bench offline
	cargo bench -p deploy-core --bench deploy
	cargo bench -p druid-client --bench status_many
	cargo bench -p schema-registry --bench compat

bench-compat: ## druidctl check vs buf breaking on a large schema (buf from npm when installed)
	scripts/bench-compat.sh

s3-up: ## Start LocalStack (S3 only) on 127.0.0.1:4566, installing it on first use
	scripts/s3-local.sh up

s3-down: ## Stop the LocalStack that s3-up started
	scripts/s3-local.sh down

lint: ## What CI checks besides the tests
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
