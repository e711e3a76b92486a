#!/usr/bin/env bash
# Flow-Server cost per call: SIPp places calls at a fixed rate to a CT-Server whose Flow-Server
# runs a small flow on each (greeting tone, a three-way switch, set, a 300 ms tone, hang-up) and
# writes its record to a private PostgreSQL. Prints calls completed and the Flow-Server's (and
# the CT-Server's) CPU seconds per 1,000 calls.
#
#   bench/flow-calls.sh [RATE] [SECONDS]      default 50 calls/s for 20 s
set -euo pipefail
cd "$(dirname "$0")/.."
RATE="${1:-50}"; SECS="${2:-20}"
swift build -c release >/dev/null
BIN="$(swift build -c release --show-bin-path)"
DIR="$(mktemp -d /tmp/hflow-bench.XXXXXX)"; chmod 755 "$DIR"; CT=; FLOW=
cleanup() { kill $CT $FLOW 2>/dev/null || true; sleep 0.5; deploy/lib/pg.sh stop "$DIR/pg" >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap cleanup EXIT
URL="$(deploy/lib/pg.sh start "$DIR/pg")"
mkdir -p "$DIR/flows"
cat > "$DIR/flows/bench.yaml" <<'YAML'
flow: bench
start: hello
nodes:
  hello:
    type: play
    prompts: "tone:beep:200"
    next: route
  route:
    type: switch
    cases:
      - when: {caller_prefix: ["999"]}
        next: vip
      - when: {time: "00:00-23:59"}
        next: normal
    default: normal
  vip:
    type: set
    values: {tier: vip}
    next: bye
  normal:
    type: set
    values: {tier: normal}
    next: last
  last:
    type: play
    prompts: "tone:beep:300"
    next: bye
  bye:
    type: hangup
    cause: bench done
YAML
echo "default: bench" > "$DIR/flows/mapping.yaml"
export HOTLINE_FLOW_LINK_SECRET=bench-secret-123 HOTLINE_APP_LINK_SECRET=bench-secret-456
cat > "$DIR/ct.yaml" <<YAML
log_level: warning
sip: {listen: "127.0.0.1:25990", trusted_sources: [127.0.0.1], rtp_port_min: 30000, rtp_port_max: 39999}
flow_link: {listen: "127.0.0.1:25991"}
YAML
"$BIN/ct-server" --config "$DIR/ct.yaml" >"$DIR/ct.log" 2>&1 & CT=$!
sleep 0.5
"$BIN/flow-server" --name bench --ct 127.0.0.1:25991 --listen 127.0.0.1:0 --log-level warning --database-url "$URL" \
  --spool "$DIR/spool" --flows "$DIR/flows" >"$DIR/flow.log" 2>&1 & FLOW=$!
sleep 1.5
sox -n -r 8000 -c 1 -t ul "$DIR/s.ul" trim 0 1
sed -e "s|@AUDIO@|$DIR/s.ul|" -e "s|@DTMF@||" Tests/EndToEnd/Fixtures/sipp/uac_walk_flow.xml > "$DIR/uac.xml"
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
F0=$(ticks $FLOW); C0=$(ticks $CT)
M=$((RATE * SECS))
sipp 127.0.0.1:25990 -sf "$DIR/uac.xml" -s 4000 -i 127.0.0.1 -mi 127.0.0.1 -p 25995 -cp 25996 -mp 26100 -bind_local -nostdin \
     -r "$RATE" -m "$M" -d 100 -buff_size 4194304 -timeout $((SECS + 60)) -trace_stat -stf "$DIR/stat.csv" -fd 5 >/dev/null 2>&1 || true
sleep 2
F1=$(ticks $FLOW); C1=$(ticks $CT)
HEAD=$(head -n 1 "$DIR/stat.csv"); LAST=$(tail -n 1 "$DIR/stat.csv")
col() { echo "$HEAD" | tr ';' '\n' | grep -n -x "$1" | cut -d: -f1; }
OK=$(echo "$LAST" | cut -d';' -f"$(col 'SuccessfulCall(C)')"); FAIL=$(echo "$LAST" | cut -d';' -f"$(col 'FailedCall(C)')")
CDRS=$(deploy/lib/pg.sh psql "$DIR/pg" -tAc "select count(*) from calls where flow = 'bench'")
STEPS=$(deploy/lib/pg.sh psql "$DIR/pg" -tAc "select count(*) from call_events where kind = 'flow-node'")
echo "flow-calls  cores=$(nproc)  rate=$RATE/s for ${SECS}s  (sample: 6 nodes, 2 tones, a switch, a set, hang-up; CDR per call)"
echo "calls ok=$OK failed=$FAIL  cdrs=$CDRS  flow-node events=$STEPS"
echo "flow-server cpu: $(echo "($F1 - $F0) / $HZ * 1000 / ($OK + ($OK == 0))" | bc -l | xargs printf '%.3f') s per 1,000 calls"
echo "ct-server   cpu: $(echo "($C1 - $C0) / $HZ * 1000 / ($OK + ($OK == 0))" | bc -l | xargs printf '%.3f') s per 1,000 calls"
