# Shared by deploy/up, deploy/down and deploy/test. Sourced, not run.
set -euo pipefail

HOTLINE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${HOTLINE_RUN_DIR:-$HOTLINE_ROOT/run}"

# Debian packages the build and the tests need (idempotent: installs only what is missing).
BUILD_PACKAGES=(pkg-config libpq-dev libssl-dev zlib1g-dev libspandsp-dev libspeexdsp-dev liburing-dev openssl ca-certificates iproute2 procps)
# What the running call center uses: a private PostgreSQL when none is configured, and
# espeak-ng for text-to-speech prompts.
RUNTIME_PACKAGES=(postgresql espeak-ng sox)
# Real peers the tests drive: SIPp, baresip; python3 for small replay helpers.
# chromium and chromium-driver: the web desktop's browser tests (selenium from PyPI drives them);
# prometheus: promtool checks every service's metrics and a real Prometheus scrapes them.
TEST_PACKAGES=(sip-tester baresip-core python3 espeak-ng sox tmux iproute2 nftables chromium chromium-driver prometheus curl)

log() { printf '[hotline] %s\n' "$*" >&2; }

# --help / -h on any script prints its header comment (what it does, its arguments) and exits;
# scripts that take no arguments call `no_arguments "$@"` so a typo is refused, not run.
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; }
case "${1:-}" in -h|--help) usage; exit 0 ;; esac
no_arguments() {
  [ $# -eq 0 ] && return 0
  log "$(basename "$0") takes no arguments (got: $*); environment variables configure it:"
  usage >&2
  exit 2
}

ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

ensure_swift() {
  if ! command -v swift >/dev/null 2>&1; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do
      [ -x "$d/swift" ] && export PATH="$d:$PATH" && break
    done
  fi
  command -v swift >/dev/null 2>&1 || {
    log "Swift 6 toolchain not found (looked on PATH and in /opt/swift). Install it from swift.org first."
    exit 1
  }
}
