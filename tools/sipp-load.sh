#!/usr/bin/env bash
# Load figures of the Tandem SIP endpoint, measured with SIPp against the release `uas` example (UDP):
#
#   1. OPTIONS→200 transactions per second at < 0.1 % failures,
#   2. INVITE/100/180/200/ACK/BYE/200 calls per second at < 0.1 % failures,
#   3. memory per active dialog: the UAS's RSS before and after N calls held open (sipp -d).
#
# Rates go up step by step; a step passes when SIPp reports fewer than 0.1 % failed calls and achieved at
# least 95 % of the asked rate. The figure is the highest passing step. SIPp itself runs on the same machine
# and shares its cores: on a small machine it may be the limit (check its CPU in `top`).
#
# Usage: tools/sipp-load.sh [STEP_SECONDS] [HELD_CALLS]
# Environment: OPTIONS_RATES, CALL_RATES (space-separated; empty skips), PORT (default 25060), CARGO_TARGET_DIR.
# Needs: sipp (Debian package sip-tester), cargo.
set -euo pipefail
cd "$(dirname "$0")/.."

STEP_SECONDS="${1:-10}"
HELD_CALLS="${2:-5000}"
PORT="${PORT:-25060}"
OPTIONS_RATES="${OPTIONS_RATES-1000 2000 4000 6000 8000 10000 12000 16000}"
CALL_RATES="${CALL_RATES-200 400 800 1200 1600 2000 3000 4000 5000 6000}"
SCENARIOS="sip-core/tests/sipp"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
WORK="$(mktemp -d /tmp/sipp-load.XXXXXX)"

command -v sipp >/dev/null || { echo "sipp is missing: apt-get install sip-tester" >&2; exit 1; }

cargo build --quiet --release -p tandem-sip-core --all-features --example uas
UAS_BIN="$TARGET_DIR/release/examples/uas"

UAS_PID=""
cleanup() {
  if [ -n "$UAS_PID" ]; then kill "$UAS_PID" 2>/dev/null || true; wait "$UAS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start_uas() {
  if [ -n "$UAS_PID" ]; then kill "$UAS_PID" 2>/dev/null || true; wait "$UAS_PID" 2>/dev/null || true; fi
  "$UAS_BIN" --udp "127.0.0.1:$PORT" >"$WORK/uas.out" 2>&1 &
  UAS_PID=$!
  for _ in $(seq 1 100); do grep -q '^ready' "$WORK/uas.out" 2>/dev/null && return 0; sleep 0.05; done
  echo "the uas did not start" >&2
  exit 1
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$UAS_PID/status"; }

# The cumulative column of a SIPp screen line (`Successful call`, `Failed call`, `Call Rate` …).
screen_count() { grep -E "^ +$2 " "$1" | tail -1 | awk -F'|' '{ gsub(/ /, "", $3); print $3 }'; }

# run_step SCENARIO RATE: run SIPp for STEP_SECONDS at RATE per second; sets OK, FAILED and ELAPSED_MS.
run_step() {
  local scenario="$1" rate="$2" calls=$(( $2 * STEP_SECONDS )) screen="$WORK/screen-$1-$2.txt"
  local start
  start=$(date +%s%N)
  sipp -sf "$SCENARIOS/$scenario" "127.0.0.1:$PORT" -s uas -r "$rate" -m "$calls" -l $(( rate * 4 + 100 )) \
    -nostdin -timeout $(( STEP_SECONDS * 3 + 40 ))s -recv_timeout 10s \
    -trace_screen -screen_file "$screen" >/dev/null 2>&1 || true
  ELAPSED_MS=$(( ($(date +%s%N) - start) / 1000000 ))
  OK=$(screen_count "$screen" "Successful call"); OK=${OK:-0}
  FAILED=$(screen_count "$screen" "Failed call"); FAILED=${FAILED:-0}
}

# search SCENARIO RATES…: sets BEST to the highest rate with < 0.1 % failures and >= 95 % of the calls asked
# for completed within the step (plus SIPp's start and the last calls' completion: 2 s of slack).
search() {
  local scenario="$1"; shift
  BEST=0
  for rate in "$@"; do
    start_uas
    run_step "$scenario" "$rate"
    local total=$(( OK + FAILED ))
    printf '  %-18s rate %6s/s: ok %8s failed %6s in %6s ms -> %8s/s\n' "$scenario" "$rate" "$OK" "$FAILED" \
      "$ELAPSED_MS" "$(( OK * 1000 / (ELAPSED_MS > 0 ? ELAPSED_MS : 1) ))"
    if [ "$total" -eq 0 ] || [ $(( FAILED * 1000 )) -ge "$total" ]; then break; fi
    if [ $(( OK * 100 )) -lt $(( 95 * rate * STEP_SECONDS )) ]; then break; fi
    if [ "$ELAPSED_MS" -gt $(( (STEP_SECONDS + 2) * 1000 )) ]; then break; fi
    BEST=$rate
  done
}

echo "== OPTIONS→200 transactions per second (steps of ${STEP_SECONDS}s)"
search options_uac.xml $OPTIONS_RATES
options_best=$BEST
echo "== INVITE/180/200/ACK/BYE/200 calls per second (steps of ${STEP_SECONDS}s)"
search invite_uac.xml $CALL_RATES
calls_best=$BEST

echo "== memory per active dialog (${HELD_CALLS} calls held open)"
start_uas
sleep 1
before=$(rss_kib)
hold_ms=$(( HELD_CALLS / 200 * 1000 + 30000 ))
sipp -sf "$SCENARIOS/invite_uac.xml" "127.0.0.1:$PORT" -s uas -r 200 -m "$HELD_CALLS" -l "$HELD_CALLS" \
  -d "$hold_ms" -nostdin -timeout $(( hold_ms / 1000 + 60 ))s -trace_screen -screen_file "$WORK/held.txt" \
  >/dev/null 2>&1 &
SIPP_PID=$!
# All calls are up after HELD_CALLS/200 s; past 64·T1 (32 s) the INVITE transactions are gone too.
sleep $(( HELD_CALLS / 200 + 34 ))
during=$(rss_kib)
wait "$SIPP_PID" || true
sleep 34
after=$(rss_kib)
held_ok=$(screen_count "$WORK/held.txt" "Successful call")
per_dialog=$(( (during - before) * 1024 / HELD_CALLS ))

echo
echo "OPTIONS transactions/s (<0.1% failed): $options_best"
echo "calls/s (<0.1% failed):                $calls_best"
echo "RSS before: ${before} KiB, with ${HELD_CALLS} dialogs: ${during} KiB -> ${per_dialog} bytes per dialog (held calls completed: ${held_ok:-0})"
echo "RSS once every call ended (allocator keeps freed memory): ${after} KiB"
