#!/bin/bash
# hostile - the daemon against a milter peer that speaks the protocol
# badly (tests/reliability/hostile.c: truncated packets, lying lengths,
# unknown and out-of-order commands, 10,000 macros, a 64 MiB header, 10,000
# recipients, NUL bytes, abort/quit/close at every stage, slowloris stalls,
# a flood over milter.max_connections).  Each case: that connection is
# answered or closed, and a new connection still gets a verdict.
#   1. the release build: peak RSS stays under BASE + limits.message_memory
#      (8M here) + slack, threads never exceed max_connections + 8, the
#      "max_connections (N) reached" line is logged;
#   2. the ASan + UBSan build: the same cases, then SIGTERM: exit 0 and no
#      sanitizer report (leaks included);
#   3. the release build with no policies and limits.message_memory 1M:
#      the "no reply" steps past the memory bound (case nr): the next step
#      the MTA waits for gets the 452, and nothing else is written.
# Ends "hostile: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init hostile
H=$BUILD/tests/hostile
ASAN_GW=build/asan/gatewarden
MAXC=50
DPID=""
SPID=""

cleanup() {
	stop_pid "$DPID" "$SPID"
}

t_built "$GW" "$H"
make --no-print-directory BUILD=build/asan CFLAGS='-O1 -g' \
    SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
    "$ASAN_GW" >"$T/asan-build.log" 2>&1 ||
    { ko "cannot build $ASAN_GW: $(tail -3 "$T/asan-build.log")"; t_done; }

"$PY" - "$T/gw.json" "unix:$T/gw.sock" "$MAXC" <<'PY' || { ko "cannot write the configuration"; t_done; }
import json, sys
out, sock, maxc = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = json.load(open("conf/gatewarden.json"))
c["milter"] = {"socket": sock, "max_connections": maxc, "timeout": "30s",
               "shutdown_timeout": "5s"}
c["log"] = {"level": "info", "stderr": True}
# a resolver on loopback where nothing answers: lookups fail at once
c["dns"] = {"servers": ["127.0.0.1@31493"], "timeout_ms": 200,
            "message_budget_ms": 500}
c["limits"]["message_memory"] = "8M"
json.dump(c, open(out, "w"), indent=1)
# 3.'s: no policies (CONNECT, HELO and MAIL go without a reply), 1M
for k, v in c["policies"].items():
    if isinstance(v, dict):
        v["enabled"] = False
c["limits"]["message_memory"] = "1M"
json.dump(c, open(out.replace(".json", "-nr.json"), "w"), indent=1)
PY

# start BIN LOG [CONF] - the daemon in the background, waiting for its socket
start() {
	rm -f "$T/gw.sock"
	"$1" -f -c "${3:-$T/gw.json}" </dev/null >"$2" 2>&1 &
	DPID=$!
	for _ in $(seq 300); do
		[ -S "$T/gw.sock" ] && return 0
		alive "$DPID" || break
		sleep 0.05
	done
	ko "$1 listens: $(tail -3 "$2")"
	t_done
}

# sampler - the daemon's thread count every 20 ms, the largest seen
sampler() {
	local max=0 n
	while alive "$DPID"; do
		n=$(awk '/^Threads:/ {print $2}' "/proc/$DPID/status" 2>/dev/null)
		[ -n "$n" ] && [ "$n" -gt "$max" ] && { max=$n; echo "$max" > "$T/threads"; }
		sleep 0.02
	done
}

# 1. release build: bounds
start "$GW" "$T/gw.log"
base=$(awk '/^VmRSS:/ {print $2}' "/proc/$DPID/status")
sampler & SPID=$!
"$H" -s "unix:$T/gw.sock" -n "$MAXC" >"$T/h1.out" 2>&1
grep '^FAIL' "$T/h1.out"
t_figures "$(tail -1 "$T/h1.out")"
if alive "$DPID"; then ok "release: daemon still running"; else ko "release: daemon died"; fi
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$DPID/status")
bound=$((base + 8192 + 32768))
if [ "$hwm" -lt "$bound" ]; then
	ok "release: peak RSS $hwm kB < $bound kB (start $base kB + message_memory 8 MB + 32 MB)"
else
	ko "release: peak RSS $hwm kB, want < $bound kB (start $base kB)"
fi
stop_pid "$SPID"
thr=$(cat "$T/threads" 2>/dev/null || echo 0)
if [ "$thr" -gt 0 ] && [ "$thr" -le $((MAXC + 8)) ]; then
	ok "release: at most $thr threads (max_connections $MAXC + 8)"
else
	ko "release: $thr threads, want 1..$((MAXC + 8))"
fi
if grep -q "milter.max_connections ($MAXC) reached: connection refused" "$T/gw.log"; then
	ok "release: the max_connections line is logged"
else
	ko "release: the max_connections line is logged"
fi
stop_pid "$DPID"

# 2. sanitizers: no report, leaks included, and a clean exit
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    start "$ASAN_GW" "$T/asan.log"
"$H" -s "unix:$T/gw.sock" -n "$MAXC" >"$T/h2.out" 2>&1
grep '^FAIL' "$T/h2.out"
t_figures "$(tail -1 "$T/h2.out" | sed 's/^hostile:/hostile (asan):/')"
if alive "$DPID"; then ok "asan: daemon still running"; else ko "asan: daemon died"; fi
kill -TERM "$DPID"
st=0
wait "$DPID" || st=$?
DPID=""
check_eq "asan: exit status after SIGTERM" "$st" 0
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/asan.log"; then
	ko "asan: no sanitizer report" "$(grep -m3 -E 'ERROR|runtime error|#[0-9] ' "$T/asan.log")"
else
	ok "asan: no sanitizer report"
fi

# 3. the steps without a reply, past the memory bound
start "$GW" "$T/nr.log" "$T/gw-nr.json"
"$H" -s "unix:$T/gw.sock" -c nr >"$T/h3.out" 2>&1
grep '^FAIL' "$T/h3.out"
t_figures "$(tail -1 "$T/h3.out" | sed 's/^hostile:/hostile (no reply):/')"
if alive "$DPID"; then ok "no reply: daemon still running"; else ko "no reply: daemon died"; fi
stop_pid "$DPID"
t_done
