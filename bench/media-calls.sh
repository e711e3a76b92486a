#!/usr/bin/env bash
# Media benchmark: N concurrent calls with RTP both ways through the channel loop.
# A generator streams PCMU (20 ms) into calls to the echo test (*43); the CT-Server de-jitters,
# decodes, re-encodes and sends every frame back. For each N it holds the calls for HOLD
# seconds and prints: channels sustained, CT-Server CPU %, tick lateness p50/p99/max (µs, from
# the CT-Server's "channel loop:" report), RTP packets in/out and packets lost.
#
# The generator is SIPp's UAC (rtp_stream), or with GEN=rtp-load our own (hotline-bench
# rtp-load: batched I/O, every echoed packet checked; GEN_WORKERS=2 gives it two RTP threads).
# With rtp-load the line also gives what it sent in its window, how many came back (once,
# intact, from their own call), the percentage and its echo delay p99. gen_cpu% is the
# generator process's CPU over the plateau (SIPp or rtp-load).
# As root, nftables counts the PCMU packets (UDP length 180) to and from the CT-Server's RTP
# ports over the plateau — a count independent of both ends (nft_in, nft_out, nft_ret%) — and,
# with rtp-load, over the whole run, beside the generator's own totals ("whole run:" line).
#
#   bench/media-calls.sh [N...]          default: 100 250 500 1000 1500
#   HOLD=20 bench/media-calls.sh 500     (seconds at full load; default 20)
#   BATCHED_IO=syscalls bench/media-calls.sh 1000   (media.batched_io: uring, the default, or syscalls)
#   LOOPS=1 bench/media-calls.sh 1000   (media.loops: channel-loop threads; default the core count)
#   GEN=rtp-load bench/media-calls.sh 1000 2000 3000   (our generator instead of SIPp)
#   REALTIME=0 bench/media-calls.sh 2000   (media.realtime_priority: the loops' SCHED_FIFO priority; default 10, 0 off)
#   CT_SERVER=/tmp/ct-server-before bench/media-calls.sh 1000   (another build of the CT-Server: A/B in one sitting)
#
# Also printed: the RTP system calls per 20-ms tick over the plateau (io_uring_enter, or one
# recvmsg/sendmsg per packet) and the CT-Server's resident memory per channel (RSS at the
# plateau less RSS before the first call, over N), and each channel loop's CPU % (its thread's
# time over the plateau) after the CT-Server's total; ct_sys% is the part of ct_cpu% spent in the
# kernel (stime: the UDP path, io_uring). "scheduling:" gives each loop's (fifo/10, or normal and
# why) and how often a loop stepped down for overload; with rtp-load, of_intended is what the
# generator sent in its window against N calls' 50 packets/s (below 100 %: it fell behind).
#
# Bounded: each step places exactly N calls that end by themselves. Only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sipp >/dev/null || { echo "needs sipp (apt-get install sip-tester)"; exit 1; }
command -v sox >/dev/null || { echo "needs sox"; exit 1; }
swift build -c release --product ct-server >/dev/null
GEN="${GEN:-sipp}"
case "$GEN" in sipp|rtp-load) ;; *) echo "GEN is sipp or rtp-load"; exit 2 ;; esac
[ "$GEN" = rtp-load ] && swift build -c release --product hotline-bench >/dev/null
BIN="$(swift build -c release --show-bin-path)"
[ $# -gt 0 ] && STEPS=("$@") || STEPS=(100 250 500 1000 1500)
HOLD="${HOLD:-20}"
DIR="$(mktemp -d /tmp/hotline-media-bench.XXXXXX)"
NFT=0
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null; then
  nft delete table inet hotline_media_bench 2>/dev/null || true
  nft -f - <<'NFT' && NFT=1
table inet hotline_media_bench {
  counter rtp_in {}
  counter rtp_out {}
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr 127.0.0.1 udp dport 40000-49999 udp length 180 counter name rtp_in
    ip saddr 127.0.0.1 udp sport 40000-49999 udp length 180 counter name rtp_out
  }
}
NFT
fi
nft_count() { [ "$NFT" = 1 ] && nft list counter inet hotline_media_bench "$1" | grep -o 'packets [0-9]*' | cut -d' ' -f2 || echo 0; }
trap 'kill $CT 2>/dev/null || true; [ "$NFT" = 1 ] && nft delete table inet hotline_media_bench; rm -rf "$DIR"' EXIT
sox -n -r 8000 -c 1 -t ul "$DIR/audio.ul" synth 10 sine 440 vol 0.3
sed -e "s|@AUDIO@|$DIR/audio.ul|" -e "s|@DTMF@||" Tests/EndToEnd/Fixtures/sipp/uac_rtp_dtmf.xml > "$DIR/uac.xml"
cat > "$DIR/ct.yaml" <<YAML
log_level: notice
sip:
  listen: 127.0.0.1:25980
  trusted_sources: [127.0.0.1]
  rtp_port_min: 40000
  rtp_port_max: 49999
  max_transactions: 200000
media:
  batched_io: ${BATCHED_IO:-uring}
  loops: ${LOOPS:-$(nproc)}
  realtime_priority: ${REALTIME:-10}
flow_link:
  listen: 127.0.0.1:25981
  secret: bench-secret-123
YAML
"${CT_SERVER:-$BIN/ct-server}" --config "$DIR/ct.yaml" >"$DIR/ct.log" 2>&1 &
CT=$!
sleep 0.5
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$CT/status"; }
RSS0=$(rss_kib)
ticks() { awk '{print $14 + $15}' "/proc/$CT/stat"; }
sticks() { awk '{print $15}' "/proc/$CT/stat"; }   # in the kernel (stime)
pticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Each channel-loop thread's CPU ticks, in loop order: "0:123 1:456".
loop_ticks() {
  for t in /proc/$CT/task/*; do
    c=$(cat "$t/comm" 2>/dev/null) || continue
    case "$c" in channel-loop-*) echo "${c#channel-loop-}:$(awk '{print $14 + $15}' "$t/stat")" ;; esac
  done | sort -n | tr '\n' ' '
}
HZ=$(getconf CLK_TCK)
field() { grep -o "\b$1=[0-9]*" <<<"$2" | head -n 1 | cut -d= -f2; }
if [ "$GEN" = sipp ]; then GENV=$(sipp -v 2>&1 | grep -o 'SIPp v[0-9.]*' || true); else GENV="hotline-bench rtp-load, ${GEN_WORKERS:-1} RTP thread(s)"; fi
echo "media-calls  cores=$(nproc)  $GENV  PCMU 20 ms both ways, echo through the jitter buffer; hold=${HOLD}s"
grep -o "channel loop: RTP I/O.*" "$DIR/ct.log" | head -n 1 || true
printf '%7s %9s %8s %7s %10s %11s %11s %11s %10s %10s %8s %9s %8s %9s %9s %10s %10s %8s  %s\n' N sustained ct_cpu% ct_sys% late_p50us late_p99us late_max_us work_p99us rtp_in rtp_out lost gen_fail gen_cpu% sys/tick rss_kib/ch nft_in nft_out nft_ret% "loop cpu%/late_p99us"
for N in "${STEPS[@]}"; do
  RATE=$(( N / 5 > 20 ? N / 5 : 20 ))
  RAMP=$(( (N + RATE - 1) / RATE ))
  HOLD_MS=$(( (HOLD + RAMP + 10) * 1000 ))
  NA0=$(nft_count rtp_in); NB0=$(nft_count rtp_out)
  if [ "$GEN" = sipp ]; then
    sipp 127.0.0.1:25980 -sf "$DIR/uac.xml" -s '*43' -i 127.0.0.1 -mi 127.0.0.1 -p 25990 -cp 25991 -mp 26000 -bind_local -nostdin \
         -r "$RATE" -m "$N" -l "$N" -d "$HOLD_MS" -buff_size 4194304 -timeout $((HOLD + RAMP + 60)) \
         -trace_stat -stf "$DIR/stat.csv" -fd 5 >/dev/null 2>&1 & SP=$!
    # Measure the plateau: after the ramp, for HOLD seconds.
    sleep $((RAMP + 2))
  else
    "$BIN/hotline-bench" rtp-load --server 127.0.0.1:25980 --calls "$N" --rate "$RATE" --seconds "$HOLD" \
         --workers "${GEN_WORKERS:-1}" --rtp-port-base 30000 >"$DIR/gen.out" 2>&1 & SP=$!
    # Its window opens a second after the last call is answered: measure over the same span.
    until grep -q "window start" "$DIR/gen.out" 2>/dev/null; do
      kill -0 $SP 2>/dev/null || { cat "$DIR/gen.out"; exit 1; }
      sleep 0.05
    done
  fi
  G0=$(pticks $SP); T0=$(ticks); K0=$(sticks); S0=$(date +%s.%N); L0=$(loop_ticks); NI0=$(nft_count rtp_in); NO0=$(nft_count rtp_out)
  LINE0=$(grep "channel loop:" "$DIR/ct.log" | tail -n 1)
  sleep "$HOLD"
  G1=$(pticks $SP); T1=$(ticks); K1=$(sticks); S1=$(date +%s.%N); L1=$(loop_ticks); NI1=$(nft_count rtp_in); NO1=$(nft_count rtp_out)
  RSS1=$(rss_kib)
  LINE1=$(grep "channel loop:" "$DIR/ct.log" | tail -n 1)
  sleep 5.5   # the next report covers the end of the plateau; calls are still up
  LINE=$(grep "channel loop:" "$DIR/ct.log" | tail -n 1)
  LOOPLINES=$(grep "channel loop [0-9]*: channels=" "$DIR/ct.log" | tail -n "$(grep -o 'loops=[0-9]*' <<<"$LINE" | cut -d= -f2)" || true)   # none with one loop
  wait $SP || true
  NA1=$(nft_count rtp_in); NB1=$(nft_count rtp_out)
  if [ "$GEN" = sipp ]; then
    HEAD=$(head -n 1 "$DIR/stat.csv"); LAST=$(tail -n 1 "$DIR/stat.csv")
    col() { echo "$HEAD" | tr ';' '\n' | grep -n -x "$1" | cut -d: -f1; }
    FAIL=$(echo "$LAST" | cut -d';' -f"$(col 'FailedCall(C)')")
  else
    GLINE=$(grep "^rtp-load " "$DIR/gen.out" || echo "rtp-load failed=$N")
    FAIL=$(field failed "$GLINE")
  fi
  CPU=$(echo "100 * ($T1 - $T0) / $HZ / ($S1 - $S0)" | bc -l)
  KCPU=$(echo "100 * ($K1 - $K0) / $HZ / ($S1 - $S0)" | bc -l)
  GCPU=$(echo "100 * ($G1 - $G0) / $HZ / ($S1 - $S0)" | bc -l)
  SYS=$(echo "($(field rtp_syscalls "$LINE") - $(field rtp_syscalls "$LINE0")) / ($(field ticks "$LINE") - $(field ticks "$LINE0"))" | bc -l)
  RSSCH=$(echo "($RSS1 - $RSS0) / $N" | bc -l)
  LOOPCPU=""
  for a in $L0; do
    i=${a%%:*}; t0=${a#*:}
    t1=$(tr ' ' '\n' <<<"$L1" | grep "^$i:" | cut -d: -f2)
    LP99=$( (grep "channel loop $i:" <<<"$LOOPLINES" || grep "channel loop:" <<<"$LINE") | grep -o 'late_p99_us=[0-9]*' | cut -d= -f2)
    LOOPCPU+="$(printf '%s=%.1f/%s ' "$i" "$(echo "100 * (${t1:-$t0} - $t0) / $HZ / ($S1 - $S0)" | bc -l)" "$LP99")"
  done
  NIN=$((NI1 - NI0)); NOUT=$((NO1 - NO0))
  NRET=$([ "$NIN" -gt 0 ] && echo "scale=3; 100 * $NOUT / $NIN" | bc -l || echo -)
  printf '%7s %9s %8.1f %7.1f %10s %11s %11s %11s %10s %10s %8s %9s %8.1f %9.1f %9.1f %10s %10s %8s  %s\n' "$N" "$(field channels "$LINE1")" "$CPU" "$KCPU" \
    "$(field late_p50_us "$LINE")" "$(field late_p99_us "$LINE")" "$(field late_max_us "$LINE")" "$(field work_p99_us "$LINE")" \
    "$(field rtp_in "$LINE")" "$(field rtp_out "$LINE")" "$(field lost "$LINE")" "$FAIL" "$GCPU" "$SYS" "$RSSCH" "$NIN" "$NOUT" "$NRET" "$LOOPCPU"
  echo "        scheduling: $(grep -o 'sched=[^ ]*' <<<"$LINE") $(grep -o 'sched_demotions=[0-9]*' <<<"$LINE")"
  if [ "$GEN" = rtp-load ]; then
    # What N calls at 50 packets/s would send in the window: below it, the generator itself fell behind.
    INTENDED=$((N * 50 * HOLD))
    echo "        generator: sent=$(field sent "$GLINE") of_intended=$(echo "scale=1; 100 * $(field sent "$GLINE") / $INTENDED" | bc -l)% returned=$(field returned "$GLINE") returned_pct=$(grep -o 'returned_pct=[0-9.]*' <<<"$GLINE" | cut -d= -f2)" \
         "corrupt=$(field corrupt "$GLINE") crosstalk=$(field crosstalk "$GLINE") dup=$(field dup "$GLINE")" \
         "echo_p99_ms=$(grep -o 'echo_p99_ms=[0-9.]*' <<<"$GLINE" | cut -d= -f2)" \
         "gen_late_p99_us=$(field gen_late_p99_us "$GLINE")"
    # The whole run, set-up to teardown: what the generator counted against what nftables saw.
    echo "        whole run: generator total_sent=$(field total_sent "$GLINE") total_received=$(field total_received "$GLINE")" \
         "nftables in=$((NA1 - NA0)) out=$((NB1 - NB0))"
  fi
  rm -f "$DIR/stat.csv" "$DIR/gen.out"
  # Let the calls end and the loop's one-minute window move on.
  while [ "$(grep -o 'channels=[0-9]*' "$DIR/ct.log" | tail -n 1)" != "channels=0" ]; do sleep 1; done
  if [ "${FAIL:-0}" -gt 0 ]; then echo "stopped: the generator saw failed calls at N=$N"; break; fi
done
echo "(rtp_in/rtp_out/lost are totals since the CT-Server started; sustained = channels at the end of the plateau)"
