#!/bin/bash
# faults-redis - the rate limit on Redis while Redis fails under load.
# One limit: 20 messages an hour per client, over it 550 5.7.1; every
# message of tests/bench/milterload comes from the same client.  While 10
# connections push 120,000 messages, Redis (on loopback, AOF with fsync always,
# so a restart keeps the counters) is in turn paused (SIGSTOP for 1.5 s),
# out of memory (maxmemory 1 byte, noeviction: writes fail with OOM),
# read-only (a replica of a port where nothing listens: READONLY), killed
# (SIGKILL) and restarted, each at a random moment.  For each store.on_error:
#   - local: at most 20 (Redis) + 20 (this host's memory store while Redis
#     is away) messages pass;
#   - tempfail: at most 20 pass;
# and always: every message gets a verdict (no hang), 0 protocol errors,
# p99 per message under 5 s (Postfix's milter_command_timeout is 30 s), the
# daemon is still running, the outage and the recovery are logged.
# Ends "faults-redis: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init faults-redis
t_require redis-server redis-cli
LOAD=$BUILD/bench/milterload
DPID=""
RPID=""
LPID=""
LIMIT=20
MSGS=120000	# 12..20 s here: longer than the faults take (checked), also idle

cleanup() {
	stop_pid "$LPID" "$DPID" "$RPID"
}
t_built "$GW" "$LOAD"
RPORT=$(free_port 29700 29799) || { ko "no free port for Redis"; t_done; }
DEAD=$(free_port 29800 29899) || { ko "no free port"; t_done; }

redis_start() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	    --appendonly yes --appendfsync always --dir "$T/redis" \
	    --daemonize no >>"$T/redis.log" 2>&1 &
	RPID=$!
	for _ in $(seq 200); do
		redis-cli -p "$RPORT" ping 2>/dev/null | grep -q PONG && return 0
		sleep 0.05
	done
	return 1
}
rc() { redis-cli -p "$RPORT" "$@" >/dev/null 2>&1; }

# pause - a random 0.05..0.30 s
pause() { sleep "0.$(( RANDOM % 26 + 5 ))"; }

# faults - each fault once, at random moments, Redis healthy in between
faults() {
	pause; kill -STOP "$RPID"; sleep 1.5; kill -CONT "$RPID"
	pause; rc config set maxmemory-policy noeviction; rc config set maxmemory 1
	pause; rc config set maxmemory 0
	pause; rc replicaof 127.0.0.1 "$DEAD"
	pause; rc replicaof no one
	pause; kill -KILL "$RPID"; wait "$RPID" 2>/dev/null
	pause; redis_start
}

run() {	# run ON_ERROR MAX_PASS
	local mode=$1 max=$2 res npass p99
	rm -rf "$T/redis"; mkdir -p "$T/redis"
	redis_start || { ko "$mode: redis-server starts"; return; }
	"$PY" - "$T/gw.json" "unix:$T/gw.sock" "$RPORT" "$mode" "$LIMIT" <<'PY'
import json, sys
out, sock, rport, mode, limit = sys.argv[1:6]
c = json.load(open("conf/gatewarden.json"))
c["milter"] = {"socket": sock, "timeout": "30s", "shutdown_timeout": "2s"}
c["log"] = {"level": "info", "stderr": True}
c["dns"] = {"servers": ["127.0.0.1@31495"], "timeout_ms": 200}
c["store"] = {"backend": "redis", "on_error": mode,
              "redis": {"servers": ["127.0.0.1:" + rport], "pool_size": 4,
                        "connect_timeout_ms": 250, "command_timeout_ms": 250}}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k == "ratelimit"
p["ratelimit"] = {"enabled": True, "limits": [
    {"name": "faults", "key": "client_ip", "count": "messages",
     "rate": limit + "/1h", "burst": int(limit), "stage": "mail",
     "action": "reject", "code": "550", "xcode": "5.7.1",
     "exempt_trusted": False}]}
json.dump(c, open(out, "w"), indent=1)
PY
	rm -f "$T/gw.sock"
	"$GW" -f -c "$T/gw.json" </dev/null >"$T/gw-$mode.log" 2>&1 &
	DPID=$!
	for _ in $(seq 200); do [ -S "$T/gw.sock" ] && break; sleep 0.05; done
	[ -S "$T/gw.sock" ] || { ko "$mode: daemon listens: $(tail -3 "$T/gw-$mode.log")"; return; }
	"$LOAD" -s "unix:$T/gw.sock" -c 10 -m "$MSGS" -k 50 -l "$mode" \
	    >"$T/load-$mode.out" 2>&1 &
	LPID=$!
	faults
	if alive "$LPID"; then
		ok "$mode: every fault happened under load"
	else
		ko "$mode: every fault happened under load (the load ended first)"
	fi
	wait "$LPID"
	local lrc=$?
	LPID=""
	res=$(grep '^RESULT' "$T/load-$mode.out")
	echo "     $mode: $res; $(grep -o 'verdicts:.*' "$T/load-$mode.out")"
	check_eq "$mode: every message got a verdict (milterload exit)" "$lrc" 0
	check_eq "$mode: protocol errors" "$(echo "$res" | sed -nE 's/.* errors=([0-9]+).*/\1/p')" 0
	npass=$(grep -o 'verdicts:.*' "$T/load-$mode.out" | grep -oE '(continue|accept)=[0-9]+' |
	    cut -d= -f2 | paste -sd+ | bc)
	npass=${npass:-0}
	if [ "$npass" -le "$max" ]; then
		ok "$mode: $npass of $MSGS messages passed, at most $max"
	else
		ko "$mode: $npass of $MSGS messages passed, want at most $max"
	fi
	p99=$(echo "$res" | sed -nE 's/.* p99_us=([0-9]+).*/\1/p')
	if [ -n "$p99" ] && [ "$p99" -lt 5000000 ]; then
		ok "$mode: p99 per message $p99 us < 5 s"
	else
		ko "$mode: p99 per message ${p99:-?} us, want < 5 s"
	fi
	if alive "$DPID"; then ok "$mode: daemon still running"; else ko "$mode: daemon died"; fi
	check "$mode: the outage is logged" grep -q 'redis back-end unavailable' "$T/gw-$mode.log"
	stop_pid "$DPID" "$RPID"
	DPID=""; RPID=""
}
run local $((LIMIT * 2))
run tempfail "$LIMIT"
t_done
