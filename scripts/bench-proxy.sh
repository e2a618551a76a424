#!/usr/bin/env bash
# `tandem proxy` beside Kamailio, in one run, with one load generator (SIPp), on 127.0.0.1 only.
#
# Kamailio runs the peers' reference configuration ($PEERS_DIR/kamailio.cfg: stateful proxy + Record-Route,
# in-memory usrloc/registrar, dispatcher round-robin 9999 -> 127.0.0.1:5080/5081, no auth); tandem runs
# scripts/bench-proxy.toml (the same semantics). Both get the same SIPp scenarios from $PEERS_DIR
# (uac_rr.xml/uas_rr.xml for calls, register.xml/register_uas.xml for REGISTER), the same rates and the
# same step length; at each rate Kamailio and tandem run back to back, so a busy spell of the shared machine
# hits both alike. Each step starts the proxy and the SIPp UAS afresh and stops them by PID.
#
# Phases (PHASES, in this order by default):
#   direct-call  SIPp UAC -> SIPp UAS, no proxy: the generator's own calls/s ceiling
#   call         UAC -> proxy:5060 -> dispatcher round-robin -> UAS 5080 / 5081 (R-URI user 9999)
#   direct-reg   REGISTER UAC -> SIPp 200 responder: the generator's REGISTER/s ceiling
#   reg          REGISTER UAC -> proxy registrar, one distinct AoR per REGISTER
#   mem          register MEM_USERS distinct AoRs at MEM_RATE, memory delta of the proxy
#
# Figures: max calls/s and REGISTER/s = highest successful calls per second measured in a step whose
# unsuccessful calls stay < 0.1 % of the calls attempted; CPU seconds per 1,000 calls = utime+stime of the
# proxy process(es) only (/proc/PID/stat, every Kamailio process / every tandem thread) divided by the
# successful calls, taken at the highest rate BOTH proxies passed (same load, so it is comparable even
# when the generator is the ceiling).
#
# Knobs (environment):
#   PEERS_DIR (default $repo/../shared/peers/kamailio)   OUT (default /tmp/peer-sip/proxy-<stamp>)
#   PHASES  TARGETS ("kamailio tandem"; "tandem-s1", "tandem-s2", …: tandem with that many shards, e.g.
#   TARGETS="tandem-s1 tandem-s2" compares them in one run; plain "tandem" uses the config/default)  CALL_RATES  REG_RATES  DIRECT_CALL_RATES  DIRECT_REG_RATES
#   STEP_SECS (10)  UAC_INSTANCES (1: SIPp UACs sharing each rate, for when one UAC is the ceiling)
#   MEM_USERS (10000)  MEM_RATE (1000)  MEM_SETTLE (35: seconds before the second memory sample)  UDP_CHILDREN (4)  SHM_MB (4096)  PKG_MB (32)
#   NICE (0; e.g. -10 as root: proxies AND SIPp alike get more of a machine shared with other work)
#   PERF_TARGET (kamailio|tandem: perf record -g of that proxy in each step, $OUT/<step>.perf.data)
#   RECV_TIMEOUT_MS (10000: SIPp -recv_timeout, a lost message fails the call after this long)
#   QUIET_PCT (15)  QUIET_MAX (60)  FOREIGN_FLAG (25)  MAX_TRIES (2)  STOP_AFTER_FAILS (2)
#   TANDEM_BIN (default: cargo build --release -p tandem-stack, then $CARGO_TARGET_DIR/release/tandem)
#   QUICK=1  few rates, 3 s steps, short quiet waits: finishes in < 5 minutes
#
# Every loop is bounded: sipp runs with -m AND -timeout, every wait loop has a counter, the quiet-machine
# wait gives up after QUIET_MAX seconds and the step is flagged instead.
set -uo pipefail

# NICE < 0 (root): the kernel's autogroup scheduler shares the CPU between sessions first and applies nice
# only inside a session, so re-run in a session of our own and raise that session's weight: the proxies and
# SIPp, alike, then get most of a machine that other sessions are compiling on.
if [[ ${NICE:-0} != 0 && -z ${BENCH_PROXY_SESSION:-} ]] && command -v setsid >/dev/null; then
  BENCH_PROXY_SESSION=1 exec setsid -w "$0" "$@"
fi
if [[ -n ${BENCH_PROXY_SESSION:-} && -w /proc/self/autogroup ]]; then
  echo "${NICE:-0}" > /proc/self/autogroup 2>/dev/null || echo "cannot set the autogroup nice to ${NICE:-0}"
fi

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PEERS_DIR=${PEERS_DIR:-$REPO/../shared/peers/kamailio}
PEERS_DIR=$(cd "$PEERS_DIR" 2>/dev/null && pwd) || { echo "PEERS_DIR not found"; exit 1; }
TANDEM_CONFIG=${TANDEM_CONFIG:-$REPO/scripts/bench-proxy.toml}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-/tmp/peer-sip/proxy-$STAMP}

if [[ ${QUICK:-0} == 1 ]]; then
  : "${STEP_SECS:=3}" "${QUIET_MAX:=10}" "${MAX_TRIES:=1}"
  : "${CALL_RATES:=500 1500 3000}" "${REG_RATES:=2000 6000 12000}"
  : "${DIRECT_CALL_RATES:=3000 8000}" "${DIRECT_REG_RATES:=12000 24000}"
  : "${MEM_RATE:=2000}" "${MEM_SETTLE:=0}" "${RECV_TIMEOUT_MS:=4000}" "${STOP_AFTER_FAILS:=1}"
fi
PHASES=${PHASES:-"direct-call call direct-reg reg mem"}
TARGETS=${TARGETS:-"kamailio tandem"}
CALL_RATES=${CALL_RATES:-"500 1000 2000 3000 4000 5000 6000 8000"}
REG_RATES=${REG_RATES:-"2000 4000 8000 12000 16000 24000 32000"}
DIRECT_CALL_RATES=${DIRECT_CALL_RATES:-"2000 4000 8000 12000 16000"}
DIRECT_REG_RATES=${DIRECT_REG_RATES:-"8000 16000 24000 32000 40000"}
STEP_SECS=${STEP_SECS:-10}
UAC_INSTANCES=${UAC_INSTANCES:-1}
MEM_USERS=${MEM_USERS:-10000}
MEM_RATE=${MEM_RATE:-1000}
MEM_SETTLE=${MEM_SETTLE:-35}
UDP_CHILDREN=${UDP_CHILDREN:-4}
SHM_MB=${SHM_MB:-4096}
PKG_MB=${PKG_MB:-32}
QUIET_PCT=${QUIET_PCT:-15}
QUIET_MAX=${QUIET_MAX:-60}
FOREIGN_FLAG=${FOREIGN_FLAG:-25}
MAX_TRIES=${MAX_TRIES:-2}
STOP_AFTER_FAILS=${STOP_AFTER_FAILS:-2}
NICE=${NICE:-0}
PERF_TARGET=${PERF_TARGET:-}   # kamailio|tandem: `perf record -g` that proxy during each call/reg step
PERF_FREQ=${PERF_FREQ:-999}
RECV_TIMEOUT_MS=${RECV_TIMEOUT_MS:-10000}
FAIL_LIMIT=0.001          # 0.1 %

IP=127.0.0.1              # the ONLY address this script ever targets
PPORT=5060 UAS1=5080 UAS2=5081 UACPORT=5070
CLK=$(getconf CLK_TCK)

mkdir -p "$OUT" /tmp/peer-sip
# the same lock as the peers' bench.sh: never two SIP benchmarks on ports 5060/508x at once
exec 9>/tmp/peer-sip/bench.lock
flock -w 60 9 || { echo "another benchmark holds /tmp/peer-sip/bench.lock"; exit 1; }
exec > >(tee -a "$OUT/bench.log") 2>&1

for tool in kamailio sipp kamcmd; do
  command -v $tool >/dev/null || { echo "$tool missing: run $PEERS_DIR/setup.sh first"; exit 1; }
done
if [[ -z ${TANDEM_BIN:-} ]]; then
  echo "building tandem (release)..."
  (cd "$REPO" && cargo build --release -q -p tandem-stack --bin tandem) || exit 1
  TANDEM_BIN=${CARGO_TARGET_DIR:-$REPO/target}/release/tandem
fi
[[ -x $TANDEM_BIN ]] || { echo "no tandem binary at $TANDEM_BIN"; exit 1; }

# ---------------------------------------------------------------- bookkeeping
STARTED=()                # every PID we start, for the exit trap
cleanup() {
  local p
  for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null; done
  sleep 1
  for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
}
trap cleanup EXIT
trap 'echo "interrupted"; exit 130' INT TERM

hexport() { printf '%04X' "$1"; }
port_busy() {             # anything bound to UDP 127.0.0.1:<port>?
  awk -v h="0100007F:$(hexport "$1")" 'NR>1 && $2==h {f=1} END {exit !f}' /proc/net/udp
}
udp_drops() {             # drops counter of the UDP socket(s) bound to <port>
  awk -v h="0100007F:$(hexport "$1")" 'NR>1 && $2==h {d+=$NF} END {print d+0}' /proc/net/udp
}
ticks() {                 # utime+stime (clock ticks) summed over the PIDs given (all threads included)
  local p s sum=0 f
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    read -ra f <<<"$s"
    sum=$((sum + f[11] + f[12]))
  done
  echo "$sum"
}
cpu_total() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $5+$6}' /proc/stat; }
busy_between() {          # machine busy % (of nproc*100) between two cpu_total samples
  awk -v a="$1" -v b="$2" -v n="$(nproc)" 'BEGIN{split(a,x," "); split(b,y," ");
      t=y[1]-x[1]; i=y[2]-x[2]; printf "%.0f", (t>0? 100*(t-i)/t : 0) * n}'
}
now() { date +%s.%N; }
wait_quiet() {            # 3 consecutive seconds below QUIET_PCT, for at most QUIET_MAX seconds
  local t0=$SECONDS a b q=0
  while ((SECONDS - t0 <= QUIET_MAX)); do
    a=$(cpu_total); sleep 1; b=$(cpu_total); b=$(busy_between "$a" "$b")
    if ((b < QUIET_PCT)); then ((++q >= 3)) && return 0; else q=0; fi
  done
  echo "    machine still ${b}% busy after ${QUIET_MAX}s (other sessions), running anyway"
}
load_line() { echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"; }

# start_sipp <name> <args...>: sipp under a wrapper shell that records its CPU time; sets SIPP_PID
start_sipp() {
  local name=$1 i; shift
  rm -f "$OUT/$name.pid" "$OUT/$name.times"
  ( nice -n "$NICE" sipp "$@" -nostdin > "$OUT/$name.out" 2>&1 &
    echo $! > "$OUT/$name.pid"; wait $!; echo "rc=$?" > "$OUT/$name.rc"
    times > "$OUT/$name.times" ) &
  STARTED+=($!)
  for i in $(seq 50); do [[ -s $OUT/$name.pid ]] && break; sleep 0.1; done
  SIPP_PID=$(<"$OUT/$name.pid")
  STARTED+=("$SIPP_PID")
}
sipp_cpu() {              # CPU seconds of a finished sipp (its wrapper's `times`, children line)
  [[ -s $OUT/$1.times ]] || { echo 0; return; }
  tail -1 "$OUT/$1.times" | awk '{ split($1,a,/[ms]/); split($2,b,/[ms]/);
    printf "%.2f", a[1]*60+a[2]+b[1]*60+b[2] }'
}
stop_pid() {              # <pid> [first signal]: signal, then TERM, then KILL, each bounded
  local pid=$1 sig=${2:-TERM} i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -"$sig" "$pid" 2>/dev/null
  for i in $(seq 80); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 30); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
}
stat_col() {              # stat_col <csv> <column>: value in the last row of a sipp -trace_stat CSV
  awk -F';' -v c="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==c) k=i; next} {v=$k}
                        END{print (k && v != "" ? v : 0)}' "$1" 2>/dev/null || echo 0
}
stat_elapsed() {          # seconds between StartTime and CurrentTime of the last row
  awk -F';' 'END{split($1,a,"\t"); split($3,b,"\t"); printf "%.3f", b[3]-a[3]}' "$1" 2>/dev/null || echo 0
}

# ---------------------------------------------------------------- the two proxies
PPIDS=() PMAIN=""
start_proxy() {           # start_proxy <kamailio|tandem> <tag>
  local target=$1 tag=$2 i
  for i in $(seq 100); do port_busy $PPORT || break; sleep 0.1; done   # a test elsewhere may hold it briefly
  port_busy $PPORT && { echo "    UDP $IP:$PPORT still in use after 10 s, refusing"; return 1; }
  case $target in
  kamailio)
    mkdir -p "$OUT/krun"
    nice -n "$NICE" kamailio -f "$PEERS_DIR/kamailio.cfg" -DD -E -m "$SHM_MB" -M "$PKG_MB" \
      -Y "$OUT/krun" -P "$OUT/krun/kamailio.pid" \
      -A "UDP_CHILDREN=$UDP_CHILDREN" \
      -A "DISPATCHER_LIST=\"$PEERS_DIR/dispatcher.list\"" \
      -A "CTL_SOCKET=\"unix:$OUT/krun/kamailio_ctl\"" \
      > "$OUT/$tag-proxy.log" 2>&1 &
    PMAIN=$! ;;
  tandem|tandem-s[0-9]*)
    # the same dispatcher.list file Kamailio reads; metrics endpoint off; warn-level logs; tandem-sN: N shards
    local shards=${TANDEM_PROXY_SHARDS:-}
    [[ $target == tandem-s* ]] && shards=${target#tandem-s}
    RUST_LOG=warn TANDEM_PROXY_METRICS= TANDEM_DISPATCHER_LIST="$PEERS_DIR/dispatcher.list" \
      TANDEM_PROXY_SHARDS="$shards" \
      nice -n "$NICE" "$TANDEM_BIN" proxy --config "$TANDEM_CONFIG" > "$OUT/$tag-proxy.log" 2>&1 &
    PMAIN=$! ;;
  esac
  STARTED+=("$PMAIN")
  for i in $(seq 150); do
    if port_busy $PPORT; then
      [[ $target != kamailio || -S $OUT/krun/kamailio_ctl ]] && break
    fi
    kill -0 "$PMAIN" 2>/dev/null || { echo "    $target died:"; tail -5 "$OUT/$tag-proxy.log"; return 1; }
    sleep 0.1
  done
  sleep 0.5
  PPIDS=("$PMAIN")
  [[ $target == kamailio ]] && mapfile -t PPIDS < <(echo "$PMAIN"; ps -o pid= --ppid "$PMAIN" | tr -d ' ')
  return 0
}
stop_proxy() {
  [[ -n $PMAIN ]] || return 0
  stop_pid "$PMAIN" TERM
  wait "$PMAIN" 2>/dev/null
  PMAIN="" PPIDS=()
}
kamcmd_() { kamcmd -s "unix:$OUT/krun/kamailio_ctl" "$@"; }
# Memory of the proxy in kB. tandem is one process: its RSS (VmRSS). Kamailio is a main process plus ~10
# forked workers sharing one shm segment (usrloc lives there) and each with private pkg memory: summing RSS
# would count every touched shm page once per process that touched it, so we sum PSS (each shared page
# divided among its sharers): the total is the physical memory of the process group, the figure comparable
# with tandem's RSS. Kamailio's own shmem:real_used_size is recorded beside it as a cross-check.
mem_kb() {
  local p sum=0 v
  if [[ $1 == tandem* ]]; then
    awk '/^VmRSS:/{print $2}' "/proc/$PMAIN/status" 2>/dev/null || echo 0
    return
  fi
  for p in "${PPIDS[@]}"; do
    v=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null) || continue
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
kam_shm_used_kb() {
  kamcmd_ stats.get_statistics shmem: 2>/dev/null | awk '$1=="shmem:real_used_size"{printf "%.0f", $3/1024}'
}

# ---------------------------------------------------------------- one step
SUMMARY=$OUT/summary.tsv
printf 'phase\ttarget\trate\tcalls\tsuccessful\tfailed\tnot_ok_pct\tsucc_per_s\telapsed_s\tretrans\tproxy_cpu_s\tproxy_cpu_pct\tcpu_s_per_1000\tgen_cpu_s\tmachine_busy_pct\tforeign_pct\tproxy_udp_drops\tsipp_udp_drops\tloadavg\tverdict\n' > "$SUMMARY"
head -1 "$SUMMARY" > "$OUT/attempts.tsv"

# run_step <phase> <target|none> <rate> <kind:call|reg>
run_step() {
  local phase=$1 target=$2 rate=$3 kind=$4
  local calls=$((rate * STEP_SECS)) tag="$phase-$target-$rate"
  local hard=$((STEP_SECS * 2 + RECV_TIMEOUT_MS / 1000 + 10))   # absolute cap per sipp run, seconds
  echo "=== $tag: $calls ${kind}s at $rate/s ($(date -u +%T), $(load_line))"
  wait_quiet

  local backends=() uas_pids=() b port scen i
  if [[ $kind == call ]]; then backends=("$UAS1:uas_rr.xml" "$UAS2:uas_rr.xml")
  elif [[ $target == none ]]; then backends=("$UAS1:register_uas.xml"); fi
  for b in "${backends[@]}"; do
    IFS=: read -r port scen <<<"$b"
    port_busy "$port" && { echo "    port $port busy, skipping step"; return 1; }
    start_sipp "$tag-uas$port" -sf "$PEERS_DIR/$scen" -i $IP -p "$port" \
      -mp $((16000 + (port - 5000) * 10)) -buff_size 4194304 \
      -timeout "${hard}s" -recv_timeout "$RECV_TIMEOUT_MS" -trace_stat -stf "$OUT/$tag-uas$port.csv" -fd 1
    uas_pids+=("$SIPP_PID")
  done
  if [[ $target != none ]]; then start_proxy "$target" "$tag" || { for i in "${uas_pids[@]}"; do stop_pid "$i" USR1; done; return 1; }; fi
  sleep 0.3

  # UAC instances share the rate; instance k targets the proxy, or (direct) UAS 5080/5081 alternately
  local n=$UAC_INSTANCES per_rate per_calls uacs=() k tport uport
  per_rate=$(( (rate + n - 1) / n )); per_calls=$((per_rate * STEP_SECS))
  local k0=0 k1=0 c0 c1 t0 t1
  local perf_pid=""
  if [[ -n $PERF_TARGET && $PERF_TARGET == "$target" ]] && command -v perf >/dev/null; then
    # sample the proxy during the UAC window (the profile costs it a little CPU: keep it out of comparisons)
    timeout $((hard + 20)) perf record -q -F "$PERF_FREQ" -g -o "$OUT/$tag.perf.data" \
      -p "$(IFS=,; echo "${PPIDS[*]}")" > "$OUT/$tag.perf.log" 2>&1 &
    perf_pid=$!; STARTED+=("$perf_pid"); sleep 0.5
  fi
  k0=$(ticks "${PPIDS[@]}"); c0=$(cpu_total); t0=$(now)
  for ((k = 0; k < n; k++)); do
    uport=$((UACPORT + 2 * k))
    port_busy "$uport" && { echo "    port $uport busy"; continue; }
    tport=$PPORT
    if [[ $target == none ]]; then tport=$UAS1; [[ $kind == call ]] && tport=$((UAS1 + k % 2)); fi
    if [[ $kind == call ]]; then
      start_sipp "$tag-uac$k" "$IP:$tport" -sf "$PEERS_DIR/uac_rr.xml" -s 9999 -i $IP -p "$uport" \
        -mp $((16700 + 10 * k)) -r "$per_rate" -m "$per_calls" -buff_size 4194304 \
        -timeout "${hard}s" -recv_timeout "$RECV_TIMEOUT_MS" -trace_stat -stf "$OUT/$tag-uac$k.csv" -fd 1
    else
      start_sipp "$tag-uac$k" "$IP:$tport" -sf "$PEERS_DIR/register.xml" -i $IP -p "$uport" \
        -mp $((16700 + 10 * k)) -r "$per_rate" -m "$per_calls" -buff_size 4194304 \
        -key upfx "${target:0:1}${rate}_${k}_" -key contact "$IP:$uport" \
        -timeout "${hard}s" -recv_timeout "$RECV_TIMEOUT_MS" -trace_stat -stf "$OUT/$tag-uac$k.csv" -fd 1
    fi
    uacs+=("$SIPP_PID")
  done
  for ((i = 0; i < (hard + 10) * 10; i++)); do   # bounded wait: each UAC stops at -m or -timeout
    local alive=0 p
    for p in "${uacs[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for p in "${uacs[@]}"; do stop_pid "$p" USR1; done
  t1=$(now); c1=$(cpu_total); k1=$(ticks "${PPIDS[@]}")
  if [[ -n $perf_pid ]]; then stop_pid "$perf_pid" INT; wait "$perf_pid" 2>/dev/null; fi

  local pdrop=NA sdrop=0
  [[ $target != none ]] && pdrop=$(udp_drops $PPORT)
  for ((k = 0; k < n; k++)); do sdrop=$((sdrop + $(udp_drops $((UACPORT + 2 * k))))); done
  for b in "${backends[@]}"; do IFS=: read -r port scen <<<"$b"; sdrop=$((sdrop + $(udp_drops "$port"))); done
  stop_proxy
  for p in "${uas_pids[@]}"; do stop_pid "$p" USR1; done
  sleep 0.2

  # ------------------------------------------------------------- figures
  local out=0 succ=0 fail=0 retr=0 elapsed=0 gen=0 f x
  for ((k = 0; k < n; k++)); do
    f=$OUT/$tag-uac$k.csv
    out=$((out + $(stat_col "$f" "OutgoingCall(C)")))
    succ=$((succ + $(stat_col "$f" "SuccessfulCall(C)")))
    fail=$((fail + $(stat_col "$f" "FailedCall(C)")))
    retr=$((retr + $(stat_col "$f" "Retransmissions(C)")))
    x=$(stat_elapsed "$f"); elapsed=$(awk -v a="$elapsed" -v b="$x" 'BEGIN{print (b>a? b : a)}')
    gen=$(awk -v a="$gen" -v b="$(sipp_cpu "$tag-uac$k")" 'BEGIN{printf "%.2f", a+b}')
  done
  for b in "${backends[@]}"; do
    IFS=: read -r port scen <<<"$b"
    for i in $(seq 30); do [[ -s $OUT/$tag-uas$port.times ]] && break; sleep 0.1; done
    gen=$(awk -v a="$gen" -v b="$(sipp_cpu "$tag-uas$port")" 'BEGIN{printf "%.2f", a+b}')
  done
  if ((out == 0)); then
    echo "    UAC created nothing:"; head -5 "$OUT/$tag-uac0.out" 2>/dev/null | sed 's/^/    | /'
  fi
  local total=$((per_calls * n)) win pcpu ppct per1000 busy foreign notok pct achieved verdict
  win=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
  pcpu=$(awk -v d=$((k1 - k0)) -v c="$CLK" 'BEGIN{printf "%.2f", d/c}')
  ppct=$(awk -v p="$pcpu" -v w="$win" 'BEGIN{printf "%.0f", (w>0? 100*p/w : 0)}')
  per1000=$(awk -v p="$pcpu" -v s="$succ" 'BEGIN{printf "%.3f", (s>0? 1000*p/s : 0)}')
  busy=$(busy_between "$c0" "$c1")
  foreign=$(awk -v b="$busy" -v p="$pcpu" -v g="$gen" -v w="$win" \
    'BEGIN{f=b-100*(p+g)/w; printf "%.0f", (f<0? 0 : f)}')
  notok=$((total - succ))
  pct=$(awk -v n="$notok" -v c="$total" 'BEGIN{printf "%.3f", 100*n/c}')
  achieved=$(awk -v s="$succ" -v e="$elapsed" 'BEGIN{printf "%.0f", (e>0? s/e : 0)}')
  verdict=$(awk -v n="$notok" -v c="$total" -v l=$FAIL_LIMIT -v a="$achieved" -v r="$rate" \
    'BEGIN{ if (n/c < l) print (a >= 0.95*r ? "PASS" : "PASS-slow"); else print "FAIL" }')
  ((foreign > FOREIGN_FLAG)) && verdict="$verdict(busy-machine)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$phase" "$target" "$rate" "$total" "$succ" "$fail" "$pct" "$achieved" "$elapsed" "$retr" \
    "$pcpu" "$ppct" "$per1000" "$gen" "$busy" "$foreign" "$pdrop" "$sdrop" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$verdict" | tee -a "$OUT/attempts.tsv" > "$OUT/last_row"
  echo "    succ=$succ/$total ($pct % not ok) ${achieved}/s proxy_cpu=${pcpu}s (${ppct}%)" \
       "per1000=${per1000}s gen_cpu=${gen}s busy=${busy}% foreign=${foreign}% drops=$pdrop/$sdrop $verdict"
}
# step: run_step, re-run (up to MAX_TRIES) while other sessions visibly shared the CPU
declare -A FAILS=()
step() {
  local try
  for ((try = 1; try <= MAX_TRIES; try++)); do
    rm -f "$OUT/last_row"
    run_step "$@"
    [[ -s $OUT/last_row ]] || return 1
    grep -q 'busy-machine' "$OUT/last_row" || break
    ((try < MAX_TRIES)) && echo "    step shared the CPU with other processes, re-running"
  done
  cat "$OUT/last_row" >> "$SUMMARY"
  if cut -f20 "$OUT/last_row" | grep -q '^FAIL'; then FAILS[$2]=$((${FAILS[$2]:-0} + 1)); else FAILS[$2]=0; fi
}
given_up() { ((${FAILS[$1]:-0} >= STOP_AFTER_FAILS)); }

# register MEM_USERS distinct AoRs, memory delta (kB) of the proxy -> $OUT/mem-<target>
mem_phase() {
  local target=$1 tag="mem-$1" before after shm0=NA shm1=NA p i s
  echo "=== $tag: $MEM_USERS distinct AoRs at $MEM_RATE/s ($(date -u +%T), $(load_line))"
  wait_quiet
  start_proxy "$target" "$tag" || return 1
  sleep 1
  before=$(mem_kb "$target")
  [[ $target == kamailio ]] && shm0=$(kam_shm_used_kb)
  start_sipp "$tag-uac" "$IP:$PPORT" -sf "$PEERS_DIR/register.xml" -i $IP -p $UACPORT -mp 16700 \
    -r "$MEM_RATE" -m "$MEM_USERS" -buff_size 4194304 -key upfx "mem_" -key contact "$IP:$UAS1" \
    -timeout $((MEM_USERS / MEM_RATE * 3 + 30))s -recv_timeout 5000 -trace_stat -stf "$OUT/$tag-uac.csv" -fd 1
  p=$SIPP_PID
  for ((i = 0; i < (MEM_USERS / MEM_RATE * 3 + 40) * 10; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  stop_pid "$p" USR1
  sleep 1
  after=$(mem_kb "$target")
  echo "    1 s after the last REGISTER: memory ${before} -> ${after} kB (delta $((after - before)) kB)"
  if ((MEM_SETTLE > 0)); then
    # tandem keeps each REGISTER's server transaction for Timer J (32 s on UDP) while Kamailio answers
    # REGISTER statelessly (sl): measure again once those transactions are gone, so the delta is bindings
    sleep "$MEM_SETTLE"
    after=$(mem_kb "$target")
    echo "    ${MEM_SETTLE} s later: memory ${before} -> ${after} kB (delta $((after - before)) kB)"
  fi
  if [[ $target == kamailio ]]; then
    shm1=$(kam_shm_used_kb)
    echo "    kamailio shm real_used ${shm0} -> ${shm1} kB"
    kamcmd_ stats.get_statistics usrloc: > "$OUT/$tag-usrloc.txt" 2>&1
  fi
  stop_proxy
  s=$(stat_col "$OUT/$tag-uac.csv" "SuccessfulCall(C)")
  echo "    registered $s/$MEM_USERS"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$s" "$before" "$after" "$shm0" "$shm1" > "$OUT/mem-$target"
}

# ---------------------------------------------------------------- run
{
  echo "date_utc: $(date -u '+%Y-%m-%d %H:%M:%S')"
  echo "nproc: $(nproc)  cpu: $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  echo "mem: $(awk '/MemTotal/{print $2" kB"}' /proc/meminfo)  kernel: $(uname -r)"
  echo "kamailio: $(kamailio -v | head -1)  (udp_children $UDP_CHILDREN, shm ${SHM_MB} MB, pkg ${PKG_MB} MB)"
  echo "sipp: $(sipp -v 2>&1 | grep -m1 -o 'SIPp v[^ ]*')  uac_instances: $UAC_INSTANCES"
  echo "tandem: $TANDEM_BIN ($(git -C "$REPO" rev-parse --short HEAD 2>/dev/null))"
  echo "step_secs: $STEP_SECS  phases: $PHASES  targets: $TARGETS"
  echo "$(load_line) at start  nice: $NICE  autogroup: $(cat /proc/self/autogroup 2>/dev/null)"
} | tee "$OUT/machine.txt"

for phase in $PHASES; do
  case $phase in
  direct-call) FAILS=(); for r in $DIRECT_CALL_RATES; do given_up none && break; step direct-call none "$r" call; done ;;
  direct-reg) FAILS=(); for r in $DIRECT_REG_RATES; do given_up none && break; step direct-reg none "$r" reg; done ;;
  call | reg)
    FAILS=()
    rates=$CALL_RATES; [[ $phase == reg ]] && rates=$REG_RATES
    for r in $rates; do
      for t in $TARGETS; do given_up "$t" || step "$phase" "$t" "$r" "$phase"; done
    done ;;
  mem) for t in $TARGETS; do mem_phase "$t"; done ;;
  *) echo "unknown phase $phase" ;;
  esac
done

# ---------------------------------------------------------------- table
echo
echo "---- steps ($SUMMARY)"
column -t -s $'\t' "$SUMMARY"
best() {                  # best <phase> <target>: highest succ/s of a step with < 0.1 % not ok
  awk -F'\t' -v p="$1" -v t="$2" 'NR>1 && $1==p && $2==t && $20 ~ /^PASS/ && $8+0 > b+0 {b=$8}
                                  END{print b+0}' "$SUMMARY"
}
common_cpu() {            # common_cpu <phase>: "rate kam_per1000 tandem_per1000" at the highest rate both passed
  awk -F'\t' -v p="$1" 'NR>1 && $1==p && $20 ~ /^PASS/ {c[$3","$2]=$13; r[$3]=1}
    END{best=-1; for (x in r) if ((x",kamailio") in c && (x",tandem") in c && x+0 > best) best=x+0;
        if (best < 0) print "NA NA NA"; else print best, c[best",kamailio"], c[best",tandem"]}' "$SUMMARY"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 > 0 && a != "NA" && b != "NA") printf "%.2f", a/b; else print "NA"}'; }
kc=$(best call kamailio) tc=$(best call tandem) kr=$(best reg kamailio) tr=$(best reg tandem)
dc=$(best direct-call none) dr=$(best direct-reg none)
read -r crate kcpu tcpu <<<"$(common_cpu call)"
read -r rrate krcpu trcpu <<<"$(common_cpu reg)"
memline() {               # memline <target>: kB per 10,000 users, scaled from the delta measured
  [[ -s $OUT/mem-$1 ]] || { echo NA; return; }
  awk -F'\t' '{ if ($2 > 0) printf "%.0f", ($4-$3) * 10000 / $2; else print "NA" }' "$OUT/mem-$1"
}
km=$(memline kamailio) tm=$(memline tandem)
kshm=NA
[[ -s $OUT/mem-kamailio ]] && kshm=$(awk -F'\t' '$5 != "NA" && $2 > 0 {printf "%.0f", ($6-$5)*10000/$2}' "$OUT/mem-kamailio")
echo
echo "---- tandem proxy beside Kamailio (same SIPp scenarios, rates and ${STEP_SECS} s steps; $(nproc) cores shared with the generator)"
{
  printf 'metric\tkamailio\ttandem\ttandem/kamailio\n'
  printf 'max calls/s (<0.1%% failed)\t%s\t%s\t%s\n' "$kc" "$tc" "$(ratio "$tc" "$kc")"
  printf 'REGISTER/s (<0.1%% failed)\t%s\t%s\t%s\n' "$kr" "$tr" "$(ratio "$tr" "$kr")"
  printf 'CPU s per 1,000 calls (at %s calls/s)\t%s\t%s\t%s\n' "$crate" "$kcpu" "$tcpu" "$(ratio "$tcpu" "$kcpu")"
  printf 'CPU s per 1,000 REGISTER (at %s/s)\t%s\t%s\t%s\n' "$rrate" "$krcpu" "$trcpu" "$(ratio "$trcpu" "$krcpu")"
  printf 'memory kB per 10,000 users (PSS sum / RSS)\t%s\t%s\t%s\n' "$km" "$tm" "$(ratio "$tm" "$km")"
  printf 'kamailio shm used kB per 10,000 users\t%s\t-\t-\n' "$kshm"
  printf 'generator alone: calls/s, REGISTER/s\t%s\t%s\t-\n' "$dc" "$dr"
} | column -t -s $'\t' | tee "$OUT/table.txt"
echo "raw files: $OUT"
echo "proxy: tandem_cps=$tc kamailio_cps=$kc cps_ratio=$(ratio "$tc" "$kc") tandem_reg=$tr kamailio_reg=$kr reg_ratio=$(ratio "$tr" "$kr")"
