#!/bin/bash
# soak.sh - many messages through the milter protocol while the
# configuration is reloaded under them; RSS sampled all along.
#
#   tests/reliability/soak.sh OUTDIR
#
# Knobs (environment): SOAK_MSGS (messages, default 1000000), SOAK_CONC
# (concurrent connections, 200), SOAK_PER_CONN (messages per connection,
# 100), SOAK_SAMPLE (seconds between RSS samples, 10), SOAK_HUP_MS
# (milliseconds between reloads, 10000), SOAK_LOG (the daemon's log level:
# warning, or info to count the good reloads too: a line per message), SOAK_PLOT (1: draw OUTDIR/rss.png
# with matplotlib), SOAK_STOP (1: a SIGTERM under load at the end).
#
# The daemon runs with two good configurations that judge alike (the rules
# policy rejects every message at end of message with 550 5.7.1, the rate
# limit counts every client at MAIL with a limit it never reaches), one on
# the memory store and one on Redis (redis-server on loopback), and a bad
# one (a value out of range).  Every SOAK_HUP_MS the live file is replaced
# by the next of good-memory, bad, good-redis, bad, ... and the daemon gets
# SIGHUP: a bad one must be refused and the previous generation kept.
# tests/bench/milterload pushes the messages.  Checks, printed as
# "ok   soak: ..." / "FAIL soak: ...":
#   - every message got its verdict, all of them "reject" (replycode):
#     none lost, none judged by a missing or half-loaded configuration;
#   - milterload saw 0 errors; the daemon is still running;
#   - every bad reload was refused ("keeping the running configuration")
#     and, with SOAK_LOG=info, every good one taken;
#   - RSS is flat: the mean of the last quarter of the samples is within
#     10% + 4 MB of the mean of the second quarter (after warm-up);
#   - with SOAK_STOP: SIGTERM during a second load, the daemon exits 0
#     within milter.shutdown_timeout + 2 s.
# Writes OUTDIR/rss.csv (seconds, RSS kB), OUTDIR/summary.txt, the logs,
# and OUTDIR/rss.png when asked.  Last line "soak: N passed, N failed".
# All traffic on loopback and a unix socket; processes stopped by PID.
cd "$(dirname "$0")/../.." || exit 1
. tests/lib.sh
OUT=${1:?usage: soak.sh OUTDIR}
MSGS=${SOAK_MSGS:-1000000}
CONC=${SOAK_CONC:-200}
PERC=${SOAK_PER_CONN:-100}
SAMPLE=${SOAK_SAMPLE:-10}
HUP_MS=${SOAK_HUP_MS:-10000}
LOGLEVEL=${SOAK_LOG:-warning}
t_init soak
mkdir -p "$OUT"
LOAD=$BUILD/bench/milterload
DPID=""
RPID=""
LPID=""
SPID=""

cleanup() {
	stop_pid "$LPID" "$SPID" "$DPID" "$RPID"
}

t_built "$GW" "$LOAD"
t_require redis-server redis-cli

# Redis on loopback, no persistence
RPORT=$(free_port 29600 29699) || { ko "no free port for Redis"; t_done; }
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --dir "$T" >"$T/redis.log" 2>&1 &
RPID=$!
for _ in $(seq 100); do
	redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
	sleep 0.05
done
redis-cli -p "$RPORT" ping >/dev/null 2>&1 || { ko "redis-server starts"; t_done; }

"$PY" - "$T" "unix:$T/gw.sock" "$RPORT" "$LOGLEVEL" <<'PY' || { ko "cannot write the configurations"; t_done; }
import json, sys
d, sock, rport, level = sys.argv[1:5]
def conf(store):
    c = json.load(open("conf/gatewarden.json"))
    c["milter"] = {"socket": sock, "max_connections": 1000,
                   "timeout": "60s", "shutdown_timeout": "5s"}
    c["log"] = {"level": level, "stderr": True}
    c["dns"] = {"servers": ["127.0.0.1@31497"], "timeout_ms": 200}
    c["store"] = store
    p = c["policies"]
    for k in p:
        if isinstance(p[k], dict):
            p[k]["enabled"] = k in ("rules", "ratelimit")
    p["rules"] = {"enabled": True, "rules": [
        {"name": "soak_reject", "stage": "eom",
         "if": {"subject": {"regex": "milterload"}},
         "action": "reject", "code": 550, "xcode": "5.7.1",
         "text": "soak"}]}
    p["ratelimit"] = {"enabled": True, "limits": [
        {"name": "soak_client", "key": "client_ip", "count": "messages",
         "stage": "mail", "rate": "1G/1h", "action": "tempfail"}]}
    return c
json.dump(conf({"backend": "memory"}), open(d + "/good-memory.json", "w"), indent=1)
json.dump(conf({"backend": "redis", "redis": {"servers": ["127.0.0.1:" + rport]}}),
          open(d + "/good-redis.json", "w"), indent=1)
bad = conf({"backend": "memory"})
bad["limits"] = {"max_rcpts": 0}
json.dump(bad, open(d + "/bad.json", "w"), indent=1)
PY
for c in good-memory good-redis; do
	"$GW" -n -c "$T/$c.json" >"$T/$c.n" 2>&1 ||
	    { ko "$c configuration loads: $(cat "$T/$c.n")"; t_done; }
done
if "$GW" -n -c "$T/bad.json" >/dev/null 2>&1; then
	ko "the bad configuration is refused by -n"
	t_done
fi
cp "$T/good-memory.json" "$T/gw.json"

"$GW" -f -c "$T/gw.json" </dev/null >"$OUT/gw.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do
	[ -S "$T/gw.sock" ] && break
	alive "$DPID" || break
	sleep 0.05
done
[ -S "$T/gw.sock" ] || { ko "daemon listens: $(tail -3 "$OUT/gw.log")"; t_done; }

# RSS every SAMPLE seconds, from the start of the load
: >"$OUT/rss.csv"
(
	t0=$(date +%s.%N)
	while alive "$DPID"; do
		r=$(awk '/^VmRSS:/ {print $2}' "/proc/$DPID/status" 2>/dev/null)
		[ -n "$r" ] && echo "$(echo "$(date +%s.%N) - $t0" | bc),$r" >>"$OUT/rss.csv"
		sleep "$SAMPLE"
	done
) &
SPID=$!

"$LOAD" -s "unix:$T/gw.sock" -c "$CONC" -m "$MSGS" -k "$PERC" -l soak \
    >"$OUT/load.out" 2>&1 &
LPID=$!
start=$(date +%s)
goods=0; bads=0; i=0
while alive "$LPID"; do
	sleep "$(echo "scale=3; $HUP_MS / 1000" | bc)"
	alive "$LPID" || break
	case $((i % 4)) in
	0|2)	next=bad; bads=$((bads + 1)) ;;
	1)	next=good-redis; goods=$((goods + 1)) ;;
	3)	next=good-memory; goods=$((goods + 1)) ;;
	esac
	cp "$T/$next.json" "$T/gw.json.new" && mv "$T/gw.json.new" "$T/gw.json"
	kill -HUP "$DPID"
	i=$((i + 1))
done
wait "$LPID"
lrc=$?
LPID=""
secs=$(( $(date +%s) - start ))
sleep "$SAMPLE"
stop_pid "$SPID"
SPID=""

# figures
res=$(grep '^RESULT' "$OUT/load.out")
echo "$res"
if [ "$lrc" = 0 ]; then ok "milterload: every message got a verdict ($MSGS in ${secs}s)"; else ko "milterload exit $lrc" "$(tail -5 "$OUT/load.out")"; fi
check_eq "milterload errors" "$(echo "$res" | sed -nE 's/.* errors=([0-9]+).*/\1/p')" 0
if grep -q "verdicts: replycode=$MSGS\$" "$OUT/load.out"; then
	ok "all $MSGS messages judged by a live configuration (reject)"
else
	ko "all $MSGS messages judged reject" "$(grep -i verdicts "$OUT/load.out")"
fi
if alive "$DPID"; then ok "daemon still running"; else ko "daemon died" "$(tail -5 "$OUT/gw.log")"; fi
nfail=$(grep -c 'keeping the running configuration' "$OUT/gw.log")
nok=$(grep -c 'reload: configuration .* loaded' "$OUT/gw.log")
check_eq "every bad reload refused ($bads sent)" "$nfail" "$bads"
if [ "$LOGLEVEL" = info ]; then
	check_eq "every good reload taken ($goods sent)" "$nok" "$goods"
fi
"$PY" - "$OUT/rss.csv" >"$OUT/flat.txt" <<'PY'
import sys
v = [int(l.split(",")[1]) for l in open(sys.argv[1]) if "," in l]
n = len(v)
if n < 8:
    print("few", n, 0, 0)
    sys.exit()
q2 = v[n // 4: n // 2]
q4 = v[3 * n // 4:]
a, b = sum(q2) / len(q2), sum(q4) / len(q4)
print("ok" if b <= a * 1.10 + 4096 else "grows", n, int(a), int(b))
PY
read -r flat nsamp q2 q4 <"$OUT/flat.txt"
if [ "$flat" = ok ]; then
	ok "RSS flat: $nsamp samples, 2nd quarter mean $q2 kB, last quarter mean $q4 kB"
else
	ko "RSS flat: $flat: $nsamp samples, 2nd quarter mean $q2 kB, last quarter mean $q4 kB"
fi
{
	echo "messages=$MSGS conc=$CONC per_conn=$PERC secs=$secs"
	echo "$res"
	echo "reloads good=$goods bad=$bads refused=$nfail taken=$nok"
	echo "rss samples=$nsamp q2_mean_kb=$q2 q4_mean_kb=$q4 max_kb=$(cut -d, -f2 "$OUT/rss.csv" | sort -n | tail -1)"
} >"$OUT/summary.txt"

if [ "${SOAK_PLOT:-0}" = 1 ]; then
	if "$PY" - "$OUT/rss.csv" "$OUT/rss.png" "$MSGS" "$CONC" <<'PY'
import sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
t, r = [], []
for l in open(sys.argv[1]):
    a, b = l.strip().split(",")
    t.append(float(a)); r.append(int(b) / 1024)
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(t, r, marker=".")
ax.set_xlabel("seconds")
ax.set_ylabel("RSS (MB)")
ax.set_ylim(0, max(r) * 1.3)
ax.set_title("gatewarden RSS, %s messages, %s connections, reload every %s ms"
             % (sys.argv[3], sys.argv[4], sys.argv[5]))
ax.grid(True)
fig.tight_layout()
fig.savefig(sys.argv[2], dpi=80)
PY
	then ok "RSS plot written: $OUT/rss.png"; else ko "RSS plot (python3-matplotlib)"; fi
fi

# SIGTERM under load: in-flight work finishes, exit 0 within the bound
if [ "${SOAK_STOP:-1}" = 1 ] && alive "$DPID"; then
	"$LOAD" -s "unix:$T/gw.sock" -c 20 -m 1000000 -k 10 -l stop -q \
	    >"$OUT/stop.out" 2>&1 &
	LPID=$!
	sleep 1
	t0=$(date +%s%N)
	kill -TERM "$DPID"
	st=0
	wait "$DPID" || st=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	DPID=""
	check_eq "SIGTERM under load: exit status" "$st" 0
	if [ "$ms" -le 7000 ]; then
		ok "SIGTERM under load: stopped in $ms ms (shutdown_timeout 5 s + 2 s)"
	else
		ko "SIGTERM under load: stopped in $ms ms, want <= 7000"
	fi
	echo "sigterm exit=$st ms=$ms" >>"$OUT/summary.txt"
	stop_pid "$LPID"
	LPID=""
fi
t_done
