#!/usr/bin/env bash
# make bench-compat: the full breaking-change check (compile both sides + compare) on a large
# schema (20 files, 200 messages x 50 fields) and a variant with 10 breaking edits; when buf
# is installed (npm package @bufbuild/buf: under $DRUIDCTL_CACHE/buf-<version>, or on PATH), runs
# `buf breaking` on the same pair and prints the ratios. Prints figures; asserts nothing.
#
#   BUF_INSTALL=1 make bench-compat   # installs buf with npm into $DRUIDCTL_CACHE/buf first
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-5}
cache=${DRUIDCTL_CACHE:-$HOME/.cache/druidctl}
target=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet -p druidctl -p druidctl-examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$target/release/gen-large-schema" "$work"

# The same pinned buf as make compat-vs-buf (which installs it).
BUF_VERSION=1.75.0
pinned="$cache/buf-$BUF_VERSION/node_modules/.bin/buf"
if [ "${BUF_INSTALL:-0}" = 1 ] && [ ! -x "$pinned" ]; then
  npm install --silent --no-audit --no-fund --prefix "$cache/buf-$BUF_VERSION" "@bufbuild/buf@$BUF_VERSION"
fi
buf=$pinned
[ -x "$buf" ] || buf=$(command -v buf || true)

# best wall time (s, from bash's microsecond clock) and peak RSS (KiB, from time -v) over
# $runs runs of a command that exits 0 or 1
measure() {
  local best_time="" best_rss="" started ended seconds rss
  for _ in $(seq "$runs"); do
    started=$EPOCHREALTIME
    # Exit 1 means "breaking changes found"; time then adds a "Command exited" line first.
    /usr/bin/time -f "%M" -o "$work/time" "$@" > /dev/null 2>&1 || true
    ended=$EPOCHREALTIME
    seconds=$(awk -v a="$started" -v b="$ended" 'BEGIN { printf "%.4f", b - a }')
    rss=$(tail -n 1 "$work/time")
    if [ -z "$best_time" ] || awk "BEGIN{exit !($seconds < $best_time)}"; then best_time=$seconds; fi
    if [ -z "$best_rss" ] || [ "$rss" -lt "$best_rss" ]; then best_rss=$rss; fi
  done
  echo "$best_time $best_rss"
}

echo "breaking-change check: 20 files, 200 messages x 50 fields, 10 breaking edits (best of $runs)"
read -r ours_time ours_rss < <(measure "$target/release/druidctl" check --no-druid --mode wire-json \
  --proto-root "$work/new" --against "$work/old")
findings=$("$target/release/druidctl" check --no-druid --mode wire-json --proto-root "$work/new" --against "$work/old" 2>/dev/null | wc -l || true)
printf '  druidctl check   %6.3f s  %7d KiB peak  (%s findings)\n' "$ours_time" "$ours_rss" "$findings"

if [ -z "$buf" ]; then
  echo "  buf breaking     not installed (npm package @bufbuild/buf; BUF_INSTALL=1 make bench-compat installs it)"
  exit 0
fi
config='{"version":"v2","breaking":{"use":["WIRE_JSON"]}}'
read -r buf_time buf_rss < <(measure "$buf" breaking "$work/new" --against "$work/old" --config "$config")
buf_findings=$("$buf" breaking "$work/new" --against "$work/old" --config "$config" 2>&1 | wc -l || true)
printf '  buf breaking     %6.3f s  %7d KiB peak  (%s findings, buf %s)\n' "$buf_time" "$buf_rss" "$buf_findings" "$("$buf" --version)"
awk -v a="$buf_time" -v b="$ours_time" -v c="$ours_rss" -v d="$buf_rss" \
  'BEGIN { printf "  druidctl is %.1fx faster and uses %.2f of buf'"'"'s peak memory\n", a / (b > 0 ? b : 0.001), c / d }'
