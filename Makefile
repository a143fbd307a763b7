# The team's familiar targets, each a thin call of druidctl.
# DRUIDCTL runs the binary from this checkout; set DRUIDCTL=druidctl to use an installed one.
DRUIDCTL ?= cargo run --quiet -p druidctl --
ENV ?= dev

.PHONY: help compile validate test-template test test-rust test-examples bench lint

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 18

compile: ## Compile schemas/proto into target/druidctl/descriptor.binpb
	$(DRUIDCTL) compile

validate: ## Check dimensions.json and every environment against the schema
	$(DRUIDCTL) validate

test-template: ## Print the supervisor spec of ENV (make test-template ENV=prod)
	$(DRUIDCTL) render --env $(ENV)

test: test-rust test-examples ## Every test suite (what CI runs)

test-rust:
	cargo test --workspace

test-examples:
	cargo run --quiet -p druidctl-examples --bin render-spec -- prod druidctl.toml > /dev/null

bench: ## Benchmarks; they print figures, they assert nothing
	cargo bench -p deploy-core --bench offline
	cargo bench -p druid-client --bench status_many

lint: ## What CI checks besides the tests
	cargo fmt --check
	cargo clippy --workspace --all-targets -- -D warnings
