#!/usr/bin/env bash
# Soak (issue 21): mixed calls for MINUTES against the call center deploy/up started, with RSS,
# open file descriptors and CPU of every service and the channel loop's tick lateness sampled
# once a minute — printed as a table, then a verdict on whether memory and descriptors stayed
# flat (the last third against the first third after a warm-up).
#
#   deploy/up && bench/soak.sh [MINUTES] [AGENT_CALL_EVERY_S]      default 60 min, one every 6 s
#
# The mix, all real: three baresip phones registered with digest auth and three scripted agents
# (answer after 2 s, hang up after 5–7 s, one transfers to another); SIPp callers with RTP and
# RFC 4733 keys into the sample flow — to agents (every AGENT_CALL_EVERY_S s), self-service
# (every 10 s) and abandoned in the queue (every 30 s); the echo test with RTP (every 4 s); and
# OPTIONS pings (5/s). Bounded: each SIPp stops after MINUTES; traffic only on 127.0.0.1.
source "$(dirname "$0")/../deploy/lib/common.sh"
MINUTES="${1:-60}"; AGENT_EVERY="${2:-6}"
SIP_PORT="${HOTLINE_SIP_PORT:-5060}"
FLOW1_PORT="${HOTLINE_FLOW1_PORT:-7200}"
FLOW2_PORT="${HOTLINE_FLOW2_PORT:-7201}"
ensure_packages "${TEST_PACKAGES[@]}"
cd "$HOTLINE_ROOT"
BIN="$(swift build -c release --show-bin-path)"
SERVICES=(ct-server flow-1 flow-2)
for svc in "${SERVICES[@]}"; do
  pid="$(cat "$RUN_DIR/pids/$svc.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || { log "$svc is not running: run deploy/up first"; exit 1; }
done
SOAK="$RUN_DIR/soak/$(date +%H%M%S)"
mkdir -p "$SOAK"
export HOTLINE_APP_LINK_SECRET="$(cat "$RUN_DIR/secrets/app-link")"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
source "$HOTLINE_ROOT/deploy/lib/callcenter.sh"

cc_audio "$SOAK"
cc_phones "$SOAK"
cc_agent "$SOAK" 1001 "$FLOW1_PORT" --hangup-after 6 --transfer-to agent:1002 --transfer-after 3
cc_agent "$SOAK" 1002 "$FLOW1_PORT" --hangup-after 5
cc_agent "$SOAK" 1003 "$FLOW2_PORT" --hangup-after 7
cc_agents_ready "$SOAK" 1001 1002 1003
sleep 4

SECS=$((MINUTES * 60))
load() {  # name port service every_s keys wait_ms hangup
  local name="$1" port="$2" service="$3" every="$4" keys="$5" wait="$6" hang="$7"
  cc_scenario "$SOAK/$name.xml" "soak-$name" "$SOAK/caller.ul" "$wait" "$keys" "$hang"
  timeout $((SECS + 120)) sipp "127.0.0.1:$SIP_PORT" -sf "$SOAK/$name.xml" -s "$service" -i 127.0.0.1 -mi 127.0.0.1 -p "$port" \
    -mp $((port + 100)) -bind_local -nostdin -r 1 -rp $((every * 1000)) -m $((SECS / every)) -timeout $((SECS + 60)) \
    -trace_stat -stf "$SOAK/$name.csv" -fd 60 >"$SOAK/$name.log" 2>&1 &
  PIDS+=($!)
}
load agent   27000 4000 "$AGENT_EVERY" "$(cc_keys 2:300 0:2500)" 45000 ""
load self    27010 4000 10 "$(cc_keys 2:300 1:2500 1:1500 2:500 3:500 4:500 '#:500' 9:6000)" 30000 ""
load abandon 27020 4000 30 "$(cc_keys 2:300 0:2500)" 45000 '  <pause milliseconds="1200" next="1"/>'
load echo    27030 9196 4 "" 8000 '  <pause milliseconds="8000" next="1"/>'
timeout $((SECS + 60)) sipp "127.0.0.1:$SIP_PORT" -sn options -i 127.0.0.1 -p 27040 -bind_local -nostdin -r 5 -m $((SECS * 5)) \
  >"$SOAK/options.log" 2>&1 &
PIDS+=($!)

sample() {  # minute → one row per service
  local minute="$1" svc pid rss fds cpu late
  for svc in "${SERVICES[@]}"; do
    pid="$(cat "$RUN_DIR/pids/$svc.pid" 2>/dev/null || true)"
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then echo "$minute $svc DEAD - - - -"; continue; fi
    rss="$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")"
    fds="$(ls "/proc/$pid/fd" | wc -l)"
    cpu="$(awk '{ print $14 + $15 }' "/proc/$pid/stat")"
    late="-"
    if [ "$svc" = ct-server ]; then
      late="$(grep 'channel loop: ' "$RUN_DIR/logs/ct-server.log" | tail -1 | tr ' ' '\n' \
        | awk -F= '$1 == "channels" { c = $2 } $1 == "late_p99_us" { p = $2 } $1 == "late_max_us" { m = $2 } END { print (c == "" ? "-" : c ":" p ":" m) }' || true)"
    fi
    echo "$minute $svc $pid $rss $fds $cpu $late"
  done
}
TICK="$(getconf CLK_TCK)"
log "soak: $MINUTES min; samples every minute in $SOAK/samples"
printf '%-4s %-10s %10s %6s %7s %9s %13s %13s\n' min service rss_kb fds cpu_pct channels late_p99_us late_max_us
sample 0 > "$SOAK/samples"
prev="$SOAK/samples"
for m in $(seq 1 "$MINUTES"); do
  sleep 60
  sample "$m" > "$SOAK/cur"
  while read -r minute svc pid rss fds cpu late; do
    before="$(awk -v s="$svc" '$2 == s { print $6 }' "$prev" || true)"
    pct="-"; [ "$cpu" != "-" ] && [ -n "$before" ] && [ "$before" != "-" ] && pct=$(( (cpu - before) * 100 / (60 * TICK) ))
    IFS=: read -r ch p99 mx <<<"$late"
    printf '%-4s %-10s %10s %6s %7s %9s %13s %13s\n' "$minute" "$svc" "$rss" "$fds" "$pct" "${ch:--}" "${p99:--}" "${mx:--}"
  done < "$SOAK/cur"
  cat "$SOAK/cur" >> "$SOAK/samples"
  cp "$SOAK/cur" "$SOAK/prev"; prev="$SOAK/prev"
done

# Verdict: RSS and fds of the last third against the first third (after 3 warm-up minutes).
python3 - "$SOAK/samples" "$MINUTES" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
minutes = int(sys.argv[2])
ok = True
for svc in sorted({r[1] for r in rows}):
    s = [r for r in rows if r[1] == svc]
    if any(r[3] == "DEAD" or r[2] == "DEAD" for r in s):
        print(f"soak: {svc} DIED"); ok = False; continue
    warm = [r for r in s if int(r[0]) >= min(3, minutes // 3)]
    third = max(1, len(warm) // 3)
    first, last = warm[:third], warm[-third:]
    rss0, rss1 = statistics.median(int(r[3]) for r in first), statistics.median(int(r[3]) for r in last)
    fd0, fd1 = statistics.median(int(r[4]) for r in first), statistics.median(int(r[4]) for r in last)
    growth = (rss1 - rss0) / rss0 * 100 if rss0 else 0
    flat = growth < 10 and fd1 - fd0 <= 8
    ok &= flat
    print(f"soak: {svc:<10} rss {rss0/1024:.1f} -> {rss1/1024:.1f} MB ({growth:+.1f} %), fds {fd0:.0f} -> {fd1:.0f}: {'flat' if flat else 'GROWING'}")
print("soak: " + ("flat" if ok else "NOT flat"))
sys.exit(0 if ok else 1)
PY
status=$?
# Calls: what SIPp saw (its statistics file, written every minute), and the records written.
for n in agent self abandon echo; do
  python3 - "$SOAK/$n.csv" "$n" <<'PY' || true
import sys
rows = [l.rstrip("\n;").split(";") for l in open(sys.argv[1]) if l.strip()]
h, last = rows[0], rows[-1]
v = lambda k: last[h.index(k)] if k in h else "?"
print(f"soak: {sys.argv[2]:<8} placed={v('OutgoingCall(C)')} successful={v('SuccessfulCall(C)')} failed={v('FailedCall(C)')}")
PY
done
PSQL=("$HOTLINE_ROOT/deploy/lib/pg.sh" psql "$RUN_DIR/postgres")
[ -n "${HOTLINE_DATABASE_URL:-}" ] && PSQL=(psql "$HOTLINE_DATABASE_URL")
log "records: $("${PSQL[@]}" -At -c "SELECT count(*) || ' calls, ' || count(*) FILTER (WHERE disposition = 'lost') || ' lost' FROM calls WHERE caller LIKE 'soak-%' AND arrived_at > now() - interval '$((MINUTES + 5)) minutes'" 2>&1 || true)"
exit $status
