#!/usr/bin/env bash
# Rating benchmark: a month of calls (default 1,000,000) rated, written with their charges and re-rated, in a private PostgreSQL
# started for the run (deploy/lib/pg.sh, Unix socket, fsync on). Prints calls rated per second in
# memory, written per second with their charges, and re-rated per second after a correction.
#
#   bench/rating.sh [COUNT]       default 1000000
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product hotline-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
DIR="$(mktemp -d /tmp/hpg-bench.XXXXXX)"
trap 'deploy/lib/pg.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
URL="$(deploy/lib/pg.sh start "$DIR")"
"$BIN/hotline-bench" rating "$URL" "${1:-1000000}"
