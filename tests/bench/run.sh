#!/bin/bash
# run.sh - `make bench`: figures, not pass/fail.
#
#  (a) milterload (tests/bench/milterload.c) drives the milter protocol
#      directly, N concurrent sessions: gatewarden with the null
#      configuration (no policies) vs nullmilter (a do-nothing libmilter
#      filter), each on a unix socket and on TCP 127.0.0.1.
#  (b) a private Postfix fed by smtp-source (-s 10 -m 2000) relaying into
#      smtp-sink: no milter, gatewarden unix/TCP, nullmilter unix/TCP.
#      msgs/s and the ratio to no milter; per-message latency of single
#      sequential SMTP sessions (p50/p99) and what the milter adds to it;
#      gatewarden's peak RSS (VmHWM).
#  then tests/bench/store.sh, dkim.sh, content.sh, spf.sh and metrics.sh when they exist
#  (same environment: BUILD, GW, BENCH_BIN = the folder with
#  milterload/nullmilter).
#
# Knobs: BENCH_LOAD_MSGS (20000), BENCH_SESSIONS (10), BENCH_PF_MSGS (2000),
# BENCH_PF_SESSIONS (10), BENCH_LAT_N (200).  Ports: a free block of 20 in
# 32000-32759 (tests/lib.sh's free_port), below the kernel's ephemeral
# range, so no client socket of an earlier run can hold them.
cd "$(dirname "$0")/../.." || exit 1
: "${BUILD:=build}"
: "${GW:=$PWD/$BUILD/gatewarden}"
BENCH_BIN=$PWD/$BUILD/bench
LOAD_MSGS=${BENCH_LOAD_MSGS:-20000}
SESSIONS=${BENCH_SESSIONS:-10}
PF_MSGS=${BENCH_PF_MSGS:-2000}
PF_SESSIONS=${BENCH_PF_SESSIONS:-10}
LAT_N=${BENCH_LAT_N:-200}
export BUILD GW BENCH_BIN

for b in "$GW" "$BENCH_BIN/milterload" "$BENCH_BIN/nullmilter"; do
	[ -x "$b" ] || { echo "bench: $b missing (make BUILD=$BUILD bench-tools all)"; exit 1; }
done

# shellcheck source=../e2e/lib.sh
. tests/e2e/lib.sh
E2E_PORT_BASE=$(free_port 32000 32759 $$ 20) ||
    { echo "bench: no 20 free ports in 32000-32759"; exit 1; }
export E2E_PORT_BASE E2E_SINK_DISCARD=1
e2e_init 0
E2E_NAME=bench
NULL_PORT=$E2E_PORT_FREE
NULL_SOCK=$E2E_DIR/null.sock
T0=$(date +%s)

say() { printf '%s\n' "$*"; }

# --- the filters under test --------------------------------------------------
e2e_gw_conf "$E2E_DIR/gw-unix.json" unix '{"log": {"level": "info"}}'
GW_LOG=$E2E_DIR/gw-unix.log
e2e_gw_start "$E2E_DIR/gw-unix.json"
GW_UNIX_PID=$GW_PID; GW_UNIX_MILTER=$E2E_PF_MILTER; GW_UNIX_SPEC=$E2E_GW_SOCKET

e2e_gw_conf "$E2E_DIR/gw-tcp.json" tcp '{"log": {"level": "info"}}'
GW_LOG=$E2E_DIR/gw-tcp.log
e2e_gw_start "$E2E_DIR/gw-tcp.json"
GW_TCP_PID=$GW_PID; GW_TCP_MILTER=$E2E_PF_MILTER; GW_TCP_SPEC=$E2E_GW_SOCKET

"$BENCH_BIN/nullmilter" -p "unix:$NULL_SOCK" </dev/null >"$E2E_DIR/null-unix.log" 2>&1 &
NULL_UNIX_PID=$!; e2e_track nullmilter-unix $NULL_UNIX_PID
"$BENCH_BIN/nullmilter" -p "inet:$NULL_PORT@127.0.0.1" </dev/null >"$E2E_DIR/null-tcp.log" 2>&1 &
NULL_TCP_PID=$!; e2e_track nullmilter-tcp $NULL_TCP_PID
e2e_poll 10 test -S "$NULL_SOCK" || e2e_die "nullmilter (unix) did not start"
chmod 666 "$NULL_SOCK"
e2e_poll 10 e2e_tcp_open 127.0.0.1 "$NULL_PORT" || e2e_die "nullmilter (tcp) did not start"

LISTEN=(
	"none - none $SMTP_PORT"
	"gatewarden unix $GW_UNIX_MILTER $((E2E_BASE + 6))"
	"gatewarden tcp $GW_TCP_MILTER $((E2E_BASE + 7))"
	"nullmilter unix unix:$NULL_SOCK $((E2E_BASE + 8))"
	"nullmilter tcp inet:127.0.0.1:$NULL_PORT $((E2E_BASE + 9))"
)
E2E_POSTFIX_MASTER_EXTRA=""
for t in "${LISTEN[@]:1}"; do
	set -- $t
	E2E_POSTFIX_MASTER_EXTRA+="127.0.0.1:$4 inet n - n - - smtpd -o smtpd_milters=$3"$'\n'
done

# One Postfix, one smtpd listener per milter, all bound before any load
# runs: the bench ports lie in the kernel's ephemeral port range, and the
# load's own client connections would otherwise squat them.
e2e_sink_start
e2e_postfix_start none
for t in "${LISTEN[@]}"; do
	set -- $t
	e2e_poll 10 e2e_tcp_open 127.0.0.1 "$4" || e2e_die "no smtpd on $4"
done

rss() {	# rss PID FIELD - kB from /proc/PID/status
	awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null
}
RSS0_UNIX=$(rss "$GW_UNIX_PID" VmRSS); RSS0_TCP=$(rss "$GW_TCP_PID" VmRSS)

# field LINE KEY - value of KEY=... in a RESULT/LAT line
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
us2ms() { awk -v a="$1" 'BEGIN { printf "%.2f", a / 1000 }'; }

# --- (a) milterload ------------------------------------------------------------
say ""
say "== (a) milterload: $SESSIONS concurrent sessions, $LOAD_MSGS messages (1 per connection, 1 rcpt, 8 headers, 2 KB body); per message = MAIL..eom verdict"
declare -A LOAD
for t in "gatewarden unix $GW_UNIX_SPEC" "gatewarden tcp $GW_TCP_SPEC" \
    "nullmilter unix unix:$NULL_SOCK" "nullmilter tcp inet:$NULL_PORT@127.0.0.1"; do
	set -- $t
	src=(); [ "$2" = tcp ] && src=(-B 127.0.0.2)
	"$BENCH_BIN/milterload" "${src[@]}" -s "$3" -c "$SESSIONS" -m 500 -q -l warmup >/dev/null 2>&1
	out=$("$BENCH_BIN/milterload" "${src[@]}" -s "$3" -c "$SESSIONS" -m "$LOAD_MSGS" -l "$1-$2" 2>&1)
	LOAD[$1-$2]=$(printf '%s\n' "$out" | grep '^RESULT')
	if [ "$1" = gatewarden ]; then
		say "-- $1 on $2 ($3): per stage (stages answered without a reply are not timed)"
		printf '%s\n' "$out" | grep -v '^RESULT' | sed 's/^/   /'
	fi
done
say ""
printf '%-12s %-18s %10s %10s %10s %10s %7s\n' filter transport msgs/s "vs null" p50_ms p99_ms errors
for k in gatewarden-unix gatewarden-tcp nullmilter-unix nullmilter-tcp; do
	r=${LOAD[$k]}
	tr=${k#*-}; [ "$tr" = tcp ] && tr="tcp 127.0.0.1"
	null=${LOAD[nullmilter-${k#*-}]}
	printf '%-12s %-18s %10s %10s %10s %10s %7s\n' "${k%-*}" "$tr" \
	    "$(field "$r" rate)" "$(ratio "$(field "$r" rate)" "$(field "$null" rate)")" \
	    "$(us2ms "$(field "$r" p50_us)")" "$(us2ms "$(field "$r" p99_us)")" \
	    "$(field "$r" errors)"
done

# --- (b) Postfix + smtp-source ---------------------------------------------------
delivered() { awk '/status=sent/ { n++ } END { print n + 0 }' "$PF_LOG" 2>/dev/null; }

say ""
say "== (b) smtp-source -s $PF_SESSIONS -m $PF_MSGS -> private Postfix -> smtp-sink (everything on 2 shared cores)"
say "   latency: $LAT_N sequential single-message SMTP sessions (connect..QUIT), p50/p99; added = minus no milter"
declare -A PF
for t in "${LISTEN[@]}"; do
	set -- $t
	port=$4
	smtp-source -s "$PF_SESSIONS" -m 200 -f a@x.example -t b@y.example \
	    127.0.0.1:"$port" >/dev/null 2>&1	# warm-up: processes, caches
	e2e_settle 60
	d0=$(delivered)
	s=$(date +%s%N)
	smtp-source -s "$PF_SESSIONS" -m "$PF_MSGS" -f a@x.example -t b@y.example \
	    127.0.0.1:"$port" >"$E2E_DIR/smtp-source.log" 2>&1
	src_rc=$?
	e=$(date +%s%N)
	e2e_settle 120
	d=$(( $(delivered) - d0 ))
	lat=$(/usr/bin/python3 tests/bench/smtplat.py 127.0.0.1 "$port" "$LAT_N" 2>&1 | grep '^LAT')
	e2e_settle 60
	rate=$(awk -v n="$PF_MSGS" -v ns=$((e - s)) 'BEGIN { printf "%.1f", n / (ns / 1e9) }')
	PF[$1-$2]="rate=$rate delivered=$d rc=$src_rc $lat"
done
base=${PF[none--]}
printf '%-12s %-18s %9s %8s %11s %8s %8s %9s %9s\n' milter transport msgs/s "vs none" delivered p50_ms p99_ms "+p50_ms" "+p99_ms"
for k in none-- gatewarden-unix gatewarden-tcp nullmilter-unix nullmilter-tcp; do
	r=${PF[$k]}
	tr=${k#*-}; [ "$tr" = tcp ] && tr="tcp 127.0.0.1"; [ "$tr" = - ] && tr="-"
	printf '%-12s %-18s %9s %8s %11s %8s %8s %9s %9s\n' "${k%%-*}" "$tr" \
	    "$(field "$r" rate)" "$(ratio "$(field "$r" rate)" "$(field "$base" rate)")" \
	    "$(field "$r" delivered)/$PF_MSGS" "$(field "$r" p50_ms)" "$(field "$r" p99_ms)" \
	    "$(awk -v a="$(field "$r" p50_ms)" -v b="$(field "$base" p50_ms)" 'BEGIN { printf "%+.2f", a - b }')" \
	    "$(awk -v a="$(field "$r" p99_ms)" -v b="$(field "$base" p99_ms)" 'BEGIN { printf "%+.2f", a - b }')"
	[ "$(field "$r" rc)" = 0 ] || say "   (smtp-source exited $(field "$r" rc) for $k: see errors above)"
done
say ""
say "gatewarden TCP/unix throughput through Postfix: $(ratio "$(field "${PF[gatewarden-tcp]}" rate)" "$(field "${PF[gatewarden-unix]}" rate)") (goal: within 10%)"
say "gatewarden RSS: unix instance VmRSS $((RSS0_UNIX / 1024)) MiB at start, VmHWM $(( $(rss "$GW_UNIX_PID" VmHWM) / 1024 )) MiB after the runs ($(rss "$GW_UNIX_PID" VmHWM) kB);" \
    "tcp instance $((RSS0_TCP / 1024)) MiB -> $(( $(rss "$GW_TCP_PID" VmHWM) / 1024 )) MiB ($(rss "$GW_TCP_PID" VmHWM) kB)"
say "bench core: $(( $(date +%s) - T0 )) s"

# --- optional sub-benchmarks of other parts --------------------------------------
for s in tests/bench/store.sh tests/bench/dkim.sh tests/bench/content.sh tests/bench/spf.sh tests/bench/metrics.sh; do
	say ""
	if [ -f "$s" ]; then
		say "== $s"
		bash "$s" || say "($s exited $?)"
	else
		say "== $s: not present"
	fi
done
exit 0
