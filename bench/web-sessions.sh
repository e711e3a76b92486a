#!/usr/bin/env bash
# Web desktop benchmark: N browser sessions (default 500; a load client, not browsers) logged in
# to a release `app-operate serve` in front of a real flow-server and ct-server, each with its
# WebSocket open. Half are agents going ready / not ready every 2 s, half supervisors watching
# the wallboard those changes move. Prints app-operate's CPU and the event delays (p50/p99).
#
#   bench/web-sessions.sh [SESSIONS] [SECONDS]      defaults 500 and 30
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-500}"
SECONDS_RUN="${2:-30}"
swift build -c release --product flow-server >/dev/null
swift build -c release --product ct-server >/dev/null
swift build -c release --product app-operate >/dev/null
BIN="$(swift build -c release --show-bin-path)"
PYDEPS="$PWD/.build/pydeps"
PYTHONPATH="$PYDEPS" python3 -c 'import websockets.asyncio.client' 2>/dev/null \
  || python3 -m pip install -q --disable-pip-version-check --target "$PYDEPS" websockets==13.1 2>&1 | grep -v "as the 'root' user" || true
DIR="$(mktemp -d /tmp/hweb-bench.XXXXXX)"
chmod 755 "$DIR"   # the private PostgreSQL runs as its own user
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  deploy/lib/pg.sh stop "$DIR/pg" >/dev/null 2>&1 || true
  rm -rf "$DIR"
}
trap cleanup EXIT
URL="$(deploy/lib/pg.sh start "$DIR/pg")"
export HOTLINE_FLOW_LINK_SECRET=bench-secret-123 HOTLINE_APP_LINK_SECRET=bench-secret-456
printf 'bench-password' > "$DIR/pw"
echo "creating $N operators…" >&2
seq 0 $((N / 2 - 1)) | xargs -P 4 -I{} sh -c 'c=$(printf "a%03d" {}); "$0" operator add "$c" --role agent --queue support --sip-extension "9$(printf %03d {})" --database-url "$1" --password-file "$2" >/dev/null' "$BIN/flow-server" "$URL" "$DIR/pw"
seq 0 $((N - N / 2 - 1)) | xargs -P 4 -I{} sh -c 'c=$(printf "s%03d" {}); "$0" operator add "$c" --role supervisor --database-url "$1" --password-file "$2" >/dev/null' "$BIN/flow-server" "$URL" "$DIR/pw"
mkdir -p "$DIR/flows" && cp deploy/flows/queues.yaml deploy/flows/mapping.yaml deploy/flows/hotline.yaml "$DIR/flows/"
"$BIN/ct-server" --link-listen 127.0.0.1:0 --sip-listen 127.0.0.1:0 --log-level warning > "$DIR/ct.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 50); do grep -q "flow_link=" "$DIR/ct.out" && break; sleep 0.1; done
CT_LINK="$(grep -o 'flow_link=[^ ]*' "$DIR/ct.out" | cut -d= -f2)"
"$BIN/flow-server" --name flow-bench --ct "$CT_LINK" --listen 127.0.0.1:0 --database-url "$URL" --spool "$DIR/spool" \
  --flows "$DIR/flows" --log-level warning > "$DIR/flow.out" 2>&1 &
FLOW_PID=$!
PIDS+=($FLOW_PID)
for _ in $(seq 1 100); do grep -q "app_link=" "$DIR/flow.out" && break; sleep 0.1; done
APP_LINK="$(grep -o 'app_link=[^ ]*' "$DIR/flow.out" | cut -d= -f2)"
"$BIN/app-operate" serve --connect "$APP_LINK" --listen 127.0.0.1:0 --log-level warning > "$DIR/web.out" 2>&1 &
WEB_PID=$!
PIDS+=($WEB_PID)
for _ in $(seq 1 100); do grep -q "web listening" "$DIR/web.out" && break; sleep 0.1; done
BASE="$(grep -o 'http://[^ ]*/' "$DIR/web.out" | head -1)"
echo "app-operate serve at $BASE (pid $WEB_PID); $N sessions for ${SECONDS_RUN} s" >&2
FLOW_PID=$FLOW_PID PYTHONPATH="$PYDEPS" timeout $((SECONDS_RUN + 240)) python3 bench/web_load.py "$BASE" "$WEB_PID" "$N" "$SECONDS_RUN"
