#!/usr/bin/env bash
# Records benchmark: CDRs (2 legs + 8 events each) through the spool into a private PostgreSQL
# started for the run (deploy/lib/pg.sh, Unix socket, fsync on). Prints CDRs and rows written
# per second and the latency `submit` adds on the Flow-Server's call path.
#
#   bench/records.sh [COUNT]      default 20000
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product hotline-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
DIR="$(mktemp -d /tmp/hpg-bench.XXXXXX)"
trap 'deploy/lib/pg.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
URL="$(deploy/lib/pg.sh start "$DIR")"
"$BIN/hotline-bench" records "$URL" "${1:-20000}"
