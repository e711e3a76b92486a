#!/usr/bin/env bash
# SIP call-rate benchmark: SIPp's built-in `uac` scenario against the CT-Server's echo-test
# number on loopback. Each call: INVITE, 100, 180, 200 (SDP answer, RTP port bound), ACK,
# BYE, 200. Steps up the rate until calls fail or retransmissions exceed 1 %, and prints
# completed calls per second and CT-Server CPU seconds per 1,000 calls.
#
#   bench/sip-calls.sh [RATES...]        default: 250 500 1000 2000 3000 4000
#
#   LOOPS=1 BATCHED_IO=syscalls bench/sip-calls.sh 1000   (media.loops, media.batched_io)
#
# Bounded: 8 s per step, at most 8 × rate calls. Traffic only on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sipp >/dev/null || { echo "needs sipp (apt-get install sip-tester)"; exit 1; }
swift build -c release --product ct-server >/dev/null
BIN="$(swift build -c release --show-bin-path)"
RATES=("${@:-250 500 1000 2000 3000 4000}")
[ $# -gt 0 ] && RATES=("$@") || RATES=(250 500 1000 2000 3000 4000)
DIR="$(mktemp -d /tmp/hotline-bench.XXXXXX)"
trap 'kill $CT 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat > "$DIR/ct.yaml" <<YAML
log_level: warning
sip:
  listen: 127.0.0.1:25960
  trusted_sources: [127.0.0.1]
  rtp_port_min: 30000
  rtp_port_max: 39999
  max_transactions: 200000
media:
  loops: ${LOOPS:-$(nproc)}
  batched_io: ${BATCHED_IO:-uring}
flow_link:
  listen: 127.0.0.1:25961
  secret: bench-secret-123
YAML
"$BIN/ct-server" --config "$DIR/ct.yaml" >"$DIR/ct.log" 2>&1 &
CT=$!
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$CT/stat"; }
HZ=$(getconf CLK_TCK)
echo "sip-calls  cores=$(nproc)  $(sipp -v 2>&1 | grep -o 'SIPp v[0-9.]*')  scenario=uac (7 messages/call, 0 s talk)"
printf '%8s %10s %8s %8s %10s %14s\n' "rate" "completed" "failed" "retrans" "calls/s" "ct_cpu_s/1k"
for R in "${RATES[@]}"; do
  M=$((R * 8))
  T0=$(ticks); S0=$(date +%s.%N)
  sipp 127.0.0.1:25960 -sn uac -s 9196 -i 127.0.0.1 -mi 127.0.0.1 -p 25970 -cp 25971 -bind_local -nostdin \
       -r "$R" -m "$M" -l $((R * 4)) -buff_size 4194304 -timeout 40 -trace_stat -stf "$DIR/stat.csv" -fd 10 \
       >/dev/null 2>&1 & SP=$!
  wait $SP || true
  S1=$(date +%s.%N); T1=$(ticks)
  LAST=$(tail -n 1 "$DIR/stat.csv")
  HEAD=$(head -n 1 "$DIR/stat.csv")
  col() { echo "$HEAD" | tr ';' '\n' | grep -n -x "$1" | cut -d: -f1; }
  OK=$(echo "$LAST" | cut -d';' -f"$(col 'SuccessfulCall(C)')")
  FAIL=$(echo "$LAST" | cut -d';' -f"$(col 'FailedCall(C)')")
  RETR=$(echo "$LAST" | cut -d';' -f"$(col 'Retransmissions(C)')")
  ELAPSED=$(echo "$S1 - $S0" | bc -l)
  CPS=$(echo "$OK / $ELAPSED" | bc -l)
  CPU=$(echo "($T1 - $T0) / $HZ" | bc -l)
  PER1K=$(echo "if ($OK > 0) $CPU * 1000 / $OK else 0" | bc -l)
  printf '%8s %10s %8s %8s %10.0f %14.3f\n' "$R" "$OK" "$FAIL" "$RETR" "$CPS" "$PER1K"
  rm -f "$DIR/stat.csv"
  if [ "$FAIL" -gt 0 ] || [ "$RETR" -gt $((OK / 100)) ]; then echo "stopped: failures or >1 % retransmissions at $R calls/s"; break; fi
done
