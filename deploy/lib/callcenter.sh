# Shared by deploy/demo and bench/soak.sh (sourced after common.sh, with BIN, RUN_DIR, SIP_PORT
# and a PIDS array set): the agents' audio, three baresip phones registered with digest auth,
# scripted App-Operate agents, and SIPp caller scenarios rendered from demo-caller.xml.

pw_of() { awk -v c="$1" '$1 == c { print $2 }' "$RUN_DIR/secrets/operators"; }
sip_pw_of() { awk -v c="$1" '$1 == c { print $2 }' "$RUN_DIR/secrets/sip-users"; }
app() {  # app-operate as operator $1 against port $2, then the command
  local code="$1" port="$2"; shift 2
  HOTLINE_OPERATOR_PASSWORD="$(pw_of "$code")" "$BIN/app-operate" "$@" --connect "127.0.0.1:$port" --code "$code"
}

# What callers and agents say: DIR/caller.ul (µ-law for SIPp's rtp_stream), DIR/agent-EXT.wav.
cc_audio() {
  local dir="$1" ext
  espeak-ng -w "$dir/caller.wav" "Hello, I have a question about my last bill. Could you help me, please?" 2>/dev/null
  sox "$dir/caller.wav" -r 8000 -c 1 -t ul "$dir/caller.ul" pad 0 1 repeat 20 2>/dev/null
  for ext in 1001 1002 1003; do
    espeak-ng -w "$dir/agent-$ext.raw.wav" "Hotline, agent $ext speaking. How can I help you today?" 2>/dev/null
    sox "$dir/agent-$ext.raw.wav" -r 8000 -c 1 -b 16 -e signed-integer "$dir/agent-$ext.wav" pad 0 1 repeat 20 2>/dev/null
  done
}

# Three agent phones (baresip, auto-answer) registered as 1001–1003; waits for the registrations.
cc_phones() {
  local dir="$1" i=0 ext d base
  for ext in 1001 1002 1003; do
    d="$dir/phone-$ext"; mkdir -p "$d/rec"
    base=$((25000 + i * 50)); i=$((i + 1))
    cat > "$d/config" <<CFG
poll_method		epoll
sip_listen		127.0.0.1:$base
net_interface		127.0.0.1
call_local_timeout	120
call_max_calls		4
audio_source		aufile,$dir/agent-$ext.wav
audio_player		aubridge,play-$ext
audio_alert		aubridge,alert-$ext
audio_level		no
ausrc_format		s16
auplay_format		s16
rtp_ports		$((base + 10))-$((base + 40))
rtcp_mux		no
jitter_buffer_delay	5-10
module_path		/usr/lib/baresip/modules
module			g711.so
module			aufile.so
module			aubridge.so
module			sndfile.so
module_tmp		uuid.so
module_tmp		account.so
module_app		menu.so
module_app		ctrl_tcp.so
ctrl_tcp_listen		127.0.0.1:$((base + 3))
snd_path		$d/rec
statmode_default	off
CFG
    echo "<sip:$ext@127.0.0.1:$SIP_PORT>;auth_pass=$(sip_pw_of "$ext");regint=300;answermode=auto;audio_codecs=PCMU/8000/1" > "$d/accounts"
    baresip -4 -f "$d" </dev/null >"$d/baresip.log" 2>&1 &
    PIDS+=($!)
  done
  for ext in 1001 1002 1003; do
    for _ in $(seq 1 100); do grep -q "$ext registered" "$RUN_DIR/logs/ct-server.log" 2>/dev/null && break; sleep 0.1; done
  done
  log "phones 1001 1002 1003 registered: $(grep -c -E '100[123] registered' "$RUN_DIR/logs/ct-server.log") registrations in the CT-Server's log"
}

# A scripted agent: cc_agent DIR CODE PORT [agent watch options…]; output in DIR/agent-CODE.jsonl.
cc_agent() {
  local dir="$1" code="$2" port="$3"; shift 3
  HOTLINE_OPERATOR_PASSWORD="$(pw_of "$code")" "$BIN/app-operate" agent watch --connect "127.0.0.1:$port" --code "$code" \
    --mode console --auto-ready --answer-after 2 "$@" >"$dir/agent-$code.jsonl" 2>&1 &
  PIDS+=($!)
}

# Waits until each listed agent went ready (exits the script if one did not).
cc_agents_ready() {
  local dir="$1" code; shift
  for code in "$@"; do
    for _ in $(seq 1 100); do grep -q '"state":"ready"' "$dir/agent-$code.jsonl" 2>/dev/null && break; sleep 0.1; done
    grep -q '"state":"ready"' "$dir/agent-$code.jsonl" || { log "agent $code did not go ready:"; cat "$dir/agent-$code.jsonl" >&2; exit 1; }
  done
}

# "key:pause_ms key:pause_ms …" → SIPp actions playing RFC 4733 keys from SIPp's pcaps.
cc_keys() {
  local out="" k p name kp
  for kp in "$@"; do
    k="${kp%%:*}"; p="${kp##*:}"
    case "$k" in '#') name=pound ;; '*') name=star ;; *) name="$k" ;; esac
    out+="  <pause milliseconds=\"$p\"/>\n  <nop><action><exec play_pcap_audio=\"/usr/share/sip-tester/dtmf_2833_$name.pcap\"/></action></nop>\n"
  done
  printf '%b' "$out"
}

# cc_scenario OUT CALLER AUDIO WAIT_MS KEYS HANGUP: renders deploy/lib/demo-caller.xml.
cc_scenario() {
  python3 - "$HOTLINE_ROOT/deploy/lib/demo-caller.xml" "$@" <<'PY'
import sys
src, dst, caller, audio, wait, keys, hang = sys.argv[1:]
t = open(src).read()
for a, b in [("@CALLER@", caller), ("@AUDIO@", audio), ("@WAIT_MS@", wait), ("@KEYS@", keys), ("@HANGUP@", hang)]:
    t = t.replace(a, b)
open(dst, "w").write(t)
PY
}
