#!/bin/sh
# store.sh - store figures: memory decisions/s per core and RSS with 1M
# keys; Redis decisions/s with 1, 8 and 64 connections and round trips per
# decision.  Figures, not pass/fail.  Run from the tree top; BUILD selects
# the build folder (the Makefile builds $BUILD/bench/bench_store if
# missing).  Redis runs on 127.0.0.1, first free port from 30900 (store
# range), started and stopped here by PID.
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
dir=$(mktemp -d)
rpid=
trap '[ -n "$rpid" ] && kill $rpid 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT

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
