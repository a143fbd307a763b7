#!/usr/bin/env bash
# make compat-vs-buf: differential test of `druidctl check --no-druid` against `buf breaking`
# (npm package @bufbuild/buf, pinned below) on the generated corpus of scripts/compat/corpus.py,
# in the four categories. Prints the agreement per category; fails on any difference that is
# not a listed exception (scripts/compat/compare.py).
set -euo pipefail
cd "$(dirname "$0")/.."

BUF_VERSION=1.75.0
cache=${DRUIDCTL_CACHE:-$HOME/.cache/druidctl}
target=${CARGO_TARGET_DIR:-target}
buf="$cache/buf-$BUF_VERSION/node_modules/.bin/buf"
if [ ! -x "$buf" ]; then
  echo "installing buf $BUF_VERSION with npm into $cache/buf-$BUF_VERSION" >&2
  npm install --silent --no-audit --no-fund --prefix "$cache/buf-$BUF_VERSION" "@bufbuild/buf@$BUF_VERSION" >&2
fi
cargo build --quiet -p druidctl
druidctl="$target/debug/druidctl"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/compat/corpus.py "$work/corpus"
mkdir -p "$work/results"
for module in proto editions; do
  dir="$work/corpus/$module"
  [ -d "$dir" ] || continue
  new="$dir/new" old="$dir/old"
  for category in FILE PACKAGE WIRE_JSON WIRE; do
    mode=$(echo "$category" | tr 'A-Z_' 'a-z-')
    # buf exits 100 when it finds breaking changes; anything else non-zero is a failure.
    status=0
    (cd "$dir/new" && "$buf" breaking --against ../old --error-format json \
      --config "{\"version\":\"v2\",\"breaking\":{\"use\":[\"$category\"]}}") \
      > "$work/results/$module-buf-$category.jsonl" || status=$?
    [ "$status" = 0 ] || [ "$status" = 100 ] || { echo "buf breaking failed ($status) on $module $category" >&2; exit 1; }
    if [ "$module" = editions ]; then
      # druidctl's compiler (protox 0.10) does not parse editions: check that it refuses them
      # with an input error (exit 2) rather than a verdict; compare.py lists them as such.
      status=0
      "$druidctl" check --no-druid --mode "$mode" --proto-root "$new" --against "$old" > /dev/null 2>&1 || status=$?
      [ "$status" = 2 ] || { echo "druidctl check on editions exited $status, expected 2 (unsupported)" >&2; exit 1; }
      continue
    fi
    status=0
    "$druidctl" check --no-druid --mode "$mode" --proto-root "$new" --against "$old" --output json \
      > "$work/results/$module-druidctl-$category.json" || status=$?
    [ "$status" = 0 ] || [ "$status" = 1 ] || {
      echo "druidctl check failed ($status) on $module $category:" >&2
      cat "$work/results/$module-druidctl-$category.json" >&2
      exit 1
    }
  done
done
python3 scripts/compat/compare.py "$work/corpus" "$work/results"
