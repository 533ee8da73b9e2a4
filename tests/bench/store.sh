#!/bin/sh
# store.sh - store figures: memory decisions/s per core and RSS with 1M
# keys; Redis decisions/s with 1, 8 and 64 connections and round trips per
# decision; then per topology (single Redis, Sentinel-managed master,
# 3-master Cluster with 3 replicas) decisions/s, p50/p99 latency and
# decisions per CPU second of gatewarden and of Redis, the figures of
# docs/scaling.md.  Figures, not pass/fail.  Topology ports: 30910-30922
# (Sentinel), 30930-30935 and 30980-30985 (Cluster and its bus);
# STORE_BENCH_TOPO_DECISIONS (32000), STORE_BENCH_MILTER_MSGS (20000).  Run from the tree top; BUILD selects
# the build folder (the Makefile builds $BUILD/bench/bench_store if missing).  Redis runs on
# 127.0.0.1, first free port from 30900 (store range), started and
# stopped here by PID.
cd "$(dirname "$0")/../.." || exit 1
BUILD=${BUILD:-build}
KEYS=${STORE_BENCH_KEYS:-1000000}
SECS=${STORE_BENCH_SECONDS:-2}
DECISIONS=${STORE_BENCH_REDIS_DECISIONS:-64000}
PORT=${STORE_BENCH_REDIS_PORT:-30900}

bin=$BUILD/bench/bench_store
make --no-print-directory -s BUILD="$BUILD" "$bin" || exit 1

echo "== store: memory back-end ($KEYS keys, ${SECS}s per run, $(nproc) cores)"
"$bin" memory "$KEYS" "$SECS" 2>/dev/null

if ! command -v redis-server >/dev/null 2>&1; then
	echo "== store: redis back-end: redis-server missing, skipped"
	exit 0
fi
# shellcheck source=../lib.sh
. tests/lib.sh	# alive(), which redis_topo.sh uses; it resets T
dir=$(mktemp -d)
rpid=
T=$dir
# shellcheck source=../ratelimit/redis_topo.sh
. tests/ratelimit/redis_topo.sh
trap '[ -n "$rpid" ] && kill $rpid 2>/dev/null; topo_stop_all; wait 2>/dev/null; rm -rf "$dir"' EXIT

# start_redis - on $PORT; fails when it exits (port taken) or never answers
start_redis() {
	redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no \
	    --dir "$dir" >"$dir/redis.log" 2>&1 &
	rpid=$!
	i=0
	until redis-cli -p "$PORT" ping >/dev/null 2>&1; do
		grep -q '^State:.*Z' /proc/$rpid/status 2>/dev/null && return 1
		[ -d /proc/$rpid ] || return 1
		i=$((i + 1)); [ $i -gt 200 ] && return 1
		sleep 0.05
	done
}
tries=0
until start_redis; do
	kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rpid=
	tries=$((tries + 1))
	if [ $tries -ge 20 ]; then
		echo "redis did not start:"; cat "$dir/redis.log"; exit 1
	fi
	PORT=$((PORT + 1))
done
echo "== store: redis back-end (127.0.0.1:$PORT over TCP loopback, $DECISIONS decisions per run)"
"$bin" redis "$PORT" "$DECISIONS" 2>/dev/null

# --- topologies: the same decisions through each way of reaching Redis ------
TD=${STORE_BENCH_TOPO_DECISIONS:-32000}
MM=${STORE_BENCH_MILTER_MSGS:-20000}
ML=${BENCH_BIN:-$BUILD/bench}/milterload
GWB=${GW:-$BUILD/gatewarden}

# cpu_ticks PID - utime + stime of a process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# redis_cpu HOST:PORT... - CPU seconds those Redis nodes have used
redis_cpu() {
	local n t=0
	for n in "$@"; do
		t=$(redis-cli -h "${n%:*}" -p "${n##*:}" info cpu | tr -d '\r' |
		    awk -F: -v t="$t" '/^used_cpu_(user|sys):/ { t += $2 } END { print t }')
	done
	echo "$t"
}
# milter_run MODE STORE_REDIS_JSON DATA_NODES... - the daemon with one
# rate limit on this store, driven by milterload (8 sessions): messages/s,
# and messages per CPU second of gatewarden and of the Redis data nodes
milter_run() {
	local mode=$1 redis=$2 pid out g0 g1 r0 r1 hz
	shift 2
	[ -x "$ML" ] && [ -x "$GWB" ] || { echo "${mode}_milter: milterload or gatewarden missing (make bench-tools all), skipped"; return; }
	cat >"$dir/gw-$mode.json" <<EOC
{ "milter": { "socket": "unix:$dir/gw-$mode.sock" }, "log": { "level": "warning" },
  "store": { "backend": "redis", "on_error": "accept", "redis": $redis },
  "policies": { "ratelimit": { "limits": [ { "name": "bench", "key": "sender",
    "rate": "1G/1h", "burst": 1000000000, "stage": "mail" } ] } } }
EOC
	"$GWB" -f -c "$dir/gw-$mode.json" >"$dir/gw-$mode.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do [ -S "$dir/gw-$mode.sock" ] && break; sleep 0.05; done
	"$ML" -s "unix:$dir/gw-$mode.sock" -c 8 -m 200 -q >/dev/null 2>&1	# warm
	hz=$(getconf CLK_TCK)
	g0=$(cpu_ticks $pid); r0=$(redis_cpu "$@")
	out=$("$ML" -s "unix:$dir/gw-$mode.sock" -c 8 -m "$MM" -l "$mode" -q 2>&1 | grep '^RESULT')
	g1=$(cpu_ticks $pid); r1=$(redis_cpu "$@")
	kill $pid 2>/dev/null; wait $pid 2>/dev/null
	echo "$out" | awk -v m="$mode" -v g=$(( g1 - g0 )) -v hz="$hz" -v r0="$r0" -v r1="$r1" -v n=$# '
	    { for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
	    END { r = r1 - r0; printf "%s_milter %.0f msgs/s (8 sessions, %d msgs, p99 %s us, %s errors); %.0f msgs per gatewarden CPU s, %s msgs per Redis CPU s over %d node%s\n",
		m, f["rate"], f["msgs"], f["p99_us"], f["errors"], (g > 0 ? f["msgs"] / (g / hz) : 0),
		(r > 0 ? sprintf("%.0f", f["msgs"] / r) : "n/a"), n, (n == 1 ? "" : "s") }'
}

echo "== store: topologies ($TD decisions per run, $(nproc) cores shared by client and servers)"
"$bin" topo servers "127.0.0.1:$PORT" "127.0.0.1:$PORT" "$TD" 2>/dev/null
milter_run servers "{ \"servers\": [\"127.0.0.1:$PORT\"] }" "127.0.0.1:$PORT"
if topo_free 30910 13 && topo_sentinel 30910; then
	"$bin" topo sentinel 127.0.0.1:30920,127.0.0.1:30921,127.0.0.1:30922 \
	    127.0.0.1:30910 "$TD" 2>/dev/null
	milter_run sentinel '{ "sentinels": ["127.0.0.1:30920", "127.0.0.1:30921", "127.0.0.1:30922"], "master_name": "mymaster" }' 127.0.0.1:30910
else
	echo "sentinel: ports 30910-30922 busy or the group did not start, skipped"
fi
ok=1
topo_free 30930 6 && topo_free 30980 6 || ok=0
for i in 0 1 2 3 4 5; do
	[ $ok = 1 ] && { topo_cluster_node "c$i" 127.0.0.1 $((30930 + i)) || ok=0; }
done
if [ $ok = 1 ] && topo_cluster_create - 127.0.0.1:30930 127.0.0.1:30931 \
    127.0.0.1:30932 127.0.0.1:30933 127.0.0.1:30934 127.0.0.1:30935; then
	"$bin" topo cluster 127.0.0.1:30930 \
	    127.0.0.1:30930,127.0.0.1:30931,127.0.0.1:30932 "$TD" 2>/dev/null
	milter_run cluster '{ "cluster": ["127.0.0.1:30930"] }' 127.0.0.1:30930 127.0.0.1:30931 127.0.0.1:30932
else
	echo "cluster: ports 30930-30935 busy or the cluster did not start, skipped"
fi
