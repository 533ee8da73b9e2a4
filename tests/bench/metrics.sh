#!/bin/sh
# metrics.sh - throughput with metrics on vs off, in the same run: two
# daemons with the same policies (rules), one with metrics.listen and a
# scraper polling /metrics every 100 ms, one without; milterload drives
# the same load through each, alternating, ROUNDS times; the figure is the
# best rate of each and their difference (target: within 2%).  Figures,
# not pass/fail.  Run from the tree top; BUILD selects the build folder.
# Unix sockets in a temp dir; HTTP on 127.0.0.1, first free port from
# 31900; processes stopped by PID.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
GW=${GW:-$PWD/$BUILD/gatewarden}
MSGS=${METRICS_BENCH_MSGS:-20000}
ROUNDS=${METRICS_BENCH_ROUNDS:-3}
LOAD=$BUILD/bench/milterload
for b in "$GW" "$LOAD"; do
	[ -x "$b" ] || { echo "metrics bench: $b missing"; exit 1; }
done
dir=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=$(/usr/bin/python3 -c '
import socket
for p in range(31900, 32700):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        s.close()')

conf() {	# conf NAME METRICS
	cat > "$dir/$1.json" <<EOC
{ "milter": { "socket": "unix:$dir/$1.sock" }, "log": { "level": "warning" },
  "metrics": $2,
  "policies": { "rules": { "rules": [
    { "name": "block", "stage": "mail", "if": { "sender": { "is": ["x@bad.example"] } },
      "action": "reject" } ] } } }
EOC
	"$GW" -f -c "$dir/$1.json" >"$dir/$1.log" 2>&1 &
	pids="$pids $!"
	i=0
	until [ -S "$dir/$1.sock" ]; do
		i=$((i + 1)); [ $i -gt 200 ] && { echo "$1 did not start"; exit 1; }
		sleep 0.05
	done
}
conf off '{}'
conf on "{ \"listen\": \"127.0.0.1:$port\" }"
( while :; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; sleep 0.1; done ) &
pids="$pids $!"

rate() {	# rate NAME: messages per second of one run
	"$LOAD" -s "unix:$dir/$1.sock" -c 8 -m "$MSGS" -l "$1" -q 2>/dev/null |
	    sed -n 's/^RESULT .* rate=\([0-9.]*\).*/\1/p'
}
best_on=0; best_off=0
echo "== metrics: on vs off ($MSGS messages x $ROUNDS rounds, 8 sessions, unix socket)"
r=1
while [ $r -le "$ROUNDS" ]; do
	a=$(rate off); b=$(rate on)
	echo "round $r: off ${a} msg/s, on ${b} msg/s"
	best_off=$(echo "$a $best_off" | awk '{ print ($1 > $2) ? $1 : $2 }')
	best_on=$(echo "$b $best_on" | awk '{ print ($1 > $2) ? $1 : $2 }')
	r=$((r + 1))
done
echo "$best_off $best_on" | awk '{ d = ($1 - $2) * 100 / $1;
    printf "best: off %.0f msg/s, on %.0f msg/s, difference %.2f%% (target <= 2%%)\n", $1, $2, d }'
