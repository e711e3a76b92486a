#!/usr/bin/env bash
# Wallboard benchmark: a real flow-server (release build) with a private PostgreSQL; hotline-bench
# plays the CT-Server and another Flow-Server with 5,000 agents in 200 queues and 40,000 calls of
# today, and watches the board as a supervisor. For 1,000 to 50,000 board events per second it
# prints the flow-server's CPU and the delay from a change to the push that shows it.
#
#   bench/wallboard.sh [SECONDS]      default 10 per rate
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product hotline-bench >/dev/null
swift build -c release --product flow-server >/dev/null
BIN="$(swift build -c release --show-bin-path)"
DIR="$(mktemp -d /tmp/hpg-board.XXXXXX)"
trap 'deploy/lib/pg.sh stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT
URL="$(deploy/lib/pg.sh start "$DIR")"
printf '%s' bench-sup-password > "$DIR/pw"
"$BIN/flow-server" operator add sup --role supervisor --name Bench --database-url "$URL" --password-file "$DIR/pw" >/dev/null
export HOTLINE_FLOW_LINK_SECRET=bench-secret-123 HOTLINE_APP_LINK_SECRET=bench-secret-456
"$BIN/hotline-bench" board "$URL" "$BIN/flow-server" "${1:-10}"
