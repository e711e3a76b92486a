#!/usr/bin/env bash
# Recording benchmark: N concurrent calls, each recorded in stereo by policy, through the
# channel loop. SIPp's UAC streams PCMU (20 ms, rtp_stream) into calls that a Flow-Server
# answers into a flow holding them on a tone; the flow's `recording: {policy: all}` records
# every call from its start (caller left, the tone right). The same N is run without recording
# (`policy: none`) for comparison. For each run it prints: channels sustained, CT-Server CPU %,
# tick lateness p50/p99/max and work p99 (µs, from the CT-Server's "channel loop:" report),
# recordings open, the disk bytes written per second, and SIPp's failed calls.
#
#   bench/recording-calls.sh [N]        default: 500
#   HOLD=20 bench/recording-calls.sh    (seconds at full load; default 20)
#
# Bounded: exactly N calls per run that end by themselves. Only 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sipp >/dev/null || { echo "needs sipp (apt-get install sip-tester)"; exit 1; }
command -v sox >/dev/null || { echo "needs sox"; exit 1; }
swift build -c release --product ct-server >/dev/null
swift build -c release --product flow-server >/dev/null
BIN="$(swift build -c release --show-bin-path)"
N="${1:-500}"
HOLD="${HOLD:-20}"
DIR="$(mktemp -d /tmp/hotline-recording-bench.XXXXXX)"
CT=""; FS=""
trap 'kill $CT $FS 2>/dev/null || true; rm -rf "$DIR"' EXIT
export HOTLINE_FLOW_LINK_SECRET=bench-secret-123 HOTLINE_APP_LINK_SECRET=bench-app-secret
sox -n -r 8000 -c 1 -t ul "$DIR/audio.ul" synth 10 sine 440 vol 0.3
sed -e "s|@AUDIO@|$DIR/audio.ul|" -e "s|@DTMF@||" Tests/EndToEnd/Fixtures/sipp/uac_rtp_dtmf.xml > "$DIR/uac.xml"
mkdir -p "$DIR/flows" "$DIR/rec"
echo "default: hold" > "$DIR/flows/mapping.yaml"
cat > "$DIR/ct.yaml" <<YAML
log_level: notice
sip:
  listen: 127.0.0.1:25980
  trusted_sources: [127.0.0.1]
  rtp_port_min: 40000
  rtp_port_max: 49999
  max_transactions: 200000
flow_link:
  listen: 127.0.0.1:25981
media:
  recording_directory: $DIR/rec
YAML
"$BIN/ct-server" --config "$DIR/ct.yaml" >"$DIR/ct.log" 2>&1 &
CT=$!
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
field() { grep -o "$1=[0-9]*" <<<"$2" | cut -d= -f2; }
bytes() { du -sb "$DIR/rec" | cut -f1; }
echo "recording-calls  cores=$(nproc)  $(sipp -v 2>&1 | grep -o 'SIPp v[0-9.]*')  N=$N  PCMU 20 ms in, a tone out; stereo 8 kHz 16-bit WAV per call; hold=${HOLD}s"
printf '%-10s %9s %8s %8s %10s %11s %11s %11s %10s %12s %9s\n' recording sustained ct_cpu% fs_cpu% late_p50us late_p99us late_max_us work_p99us recordings disk_bytes/s sipp_fail
for POLICY in none all; do
  cat > "$DIR/flows/hold.yaml" <<YAML
flow: hold
start: hold
recording: {policy: $POLICY}
nodes:
  hold: {type: play, prompts: "tone:dial", next: bye}
  bye: {type: hangup, cause: done}
YAML
  "$BIN/flow-server" --name bench --ct 127.0.0.1:25981 --listen 127.0.0.1:0 --flows "$DIR/flows" --recordings "$DIR/rec" --log-level notice >"$DIR/fs-$POLICY.log" 2>&1 &
  FS=$!
  for _ in $(seq 1 50); do grep -q "attached" "$DIR/ct.log" 2>/dev/null && break; sleep 0.2; done
  sleep 1
  RATE=$(( N / 5 > 20 ? N / 5 : 20 ))
  RAMP=$(( (N + RATE - 1) / RATE ))
  HOLD_MS=$(( (HOLD + RAMP + 10) * 1000 ))
  sipp 127.0.0.1:25980 -sf "$DIR/uac.xml" -s 4000 -i 127.0.0.1 -mi 127.0.0.1 -p 25990 -cp 25991 -mp 26000 -bind_local -nostdin \
       -r "$RATE" -m "$N" -l "$N" -d "$HOLD_MS" -buff_size 4194304 -timeout $((HOLD + RAMP + 60)) \
       -trace_stat -stf "$DIR/stat.csv" -fd 5 >/dev/null 2>&1 & SP=$!
  sleep $((RAMP + 2))
  T0=$(ticks $CT); F0=$(ticks $FS); B0=$(bytes); S0=$(date +%s.%N)
  sleep "$HOLD"
  T1=$(ticks $CT); F1=$(ticks $FS); B1=$(bytes); S1=$(date +%s.%N)
  OPEN=$(find "$DIR/rec" -name '*.wav' | wc -l)
  sleep 5.5
  LINE=$(grep "channel loop:" "$DIR/ct.log" | tail -n 1)
  wait $SP || true
  HEAD=$(head -n 1 "$DIR/stat.csv"); LAST=$(tail -n 1 "$DIR/stat.csv")
  col() { echo "$HEAD" | tr ';' '\n' | grep -n -x "$1" | cut -d: -f1; }
  FAIL=$(echo "$LAST" | cut -d';' -f"$(col 'FailedCall(C)')")
  CPU=$(echo "100 * ($T1 - $T0) / $HZ / ($S1 - $S0)" | bc -l)
  FCPU=$(echo "100 * ($F1 - $F0) / $HZ / ($S1 - $S0)" | bc -l)
  BPS=$(echo "($B1 - $B0) / ($S1 - $S0)" | bc)
  printf '%-10s %9s %8.1f %8.1f %10s %11s %11s %11s %10s %12s %9s\n' "$POLICY" "$(field channels "$LINE")" "$CPU" "$FCPU" \
    "$(field late_p50_us "$LINE")" "$(field late_p99_us "$LINE")" "$(field late_max_us "$LINE")" "$(field work_p99_us "$LINE")" \
    "$OPEN" "$BPS" "$FAIL"
  rm -f "$DIR/stat.csv"
  while [ "$(grep -o 'channels=[0-9]*' "$DIR/ct.log" | tail -n 1)" != "channels=0" ]; do sleep 1; done
  kill $FS; wait $FS 2>/dev/null || true; FS=""
  # The loop's one-minute lateness window must not carry the first run into the second.
  sleep 61
  if [ "${FAIL:-0}" -gt 0 ]; then echo "stopped: SIPp saw failed calls"; break; fi
done
FILES=$(find "$DIR/rec" -name '*.wav' | wc -l); CARS=$(find "$DIR/rec" -name '*.wav.json' | wc -l)
echo "(recordings = files present at the end of the plateau; $FILES files and $CARS sidecars in all; 8 kHz × 2 ch × 2 B = 32,000 B/s per call)"
