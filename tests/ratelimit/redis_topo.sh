# shellcheck shell=bash
# redis_topo.sh - Redis topologies for the scale-out suites (41-43) and the
# store bench: a Sentinel group, a Cluster, TLS through stunnel.  Sourced;
# the caller sets T (a private folder) and calls topo_stop_all at exit.
# Every process is started here, recorded with its PID in $T/pid.NAME, and
# stopped by that PID; nothing is stopped by name.
#
#   topo_free BASE N            the ports BASE..BASE+N-1 of 127.0.0.1 are free
#   topo_redis NAME PORT [ARGS] a redis-server on 127.0.0.1:PORT
#   topo_cli NS ARGS / topo_scli ARGS        redis-cli with the passwords
#   topo_sentinel BASE          master BASE, replicas BASE+1/+2, sentinels
#                               BASE+10/+11/+12 monitoring "mymaster"
#                               (TOPO_DOWN_MS, default 1000)
#   topo_cluster_node NAME HOST PORT [NS]   a cluster-mode node (in netns NS)
#   topo_cluster_create NS HOST:PORT...     redis-cli --cluster create, 1 replica each
#   topo_pid NAME / topo_kill NAME          the PID / SIGKILL it
# TOPO_PASS set: Redis nodes require it (AUTH, and between the nodes);
# TOPO_SENTINEL_PASS set: so do the sentinels.
TOPO_DOWN_MS=${TOPO_DOWN_MS:-1000}
TOPO_PASS=${TOPO_PASS:-}
TOPO_SENTINEL_PASS=${TOPO_SENTINEL_PASS:-}
TOPO_NAMES=""

topo_alive() { alive "$1"; }	# tests/lib.sh
topo_pid() { cat "$T/pid.$1" 2>/dev/null; }

# topo_free BASE N - every port of the block can be bound on 127.0.0.1
topo_free() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys
base, n = int(sys.argv[1]), int(sys.argv[2])
for p in range(base, base + n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        sys.exit(1)
    finally:
        s.close()
PY
}

# topo_start NAME [NS] CMD... - run CMD in the background (in netns NS
# when NS is not "-"), output to $T/NAME.log
topo_start() {
	local name=$1 ns=$2
	shift 2
	if [ "$ns" = - ]; then
		"$@" </dev/null >"$T/$name.log" 2>&1 &
	else
		ip netns exec "$ns" "$@" </dev/null >"$T/$name.log" 2>&1 &
	fi
	echo $! >"$T/pid.$name"
	TOPO_NAMES="$TOPO_NAMES $name"
}

# topo_kill NAME - SIGKILL, wait
topo_kill() {
	local p
	p=$(topo_pid "$1")
	topo_alive "$p" && kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

# topo_stop_all - TERM everything started here (newest first), then KILL
topo_stop_all() {
	local n p list=""
	for n in $TOPO_NAMES; do list="$n $list"; done
	for n in $list; do
		p=$(topo_pid "$n")
		topo_alive "$p" && kill -TERM "$p" 2>/dev/null
	done
	for _ in $(seq 40); do
		p=""
		for n in $list; do topo_alive "$(topo_pid "$n")" && p=1; done
		[ -z "$p" ] && break
		sleep 0.05
	done
	for n in $list; do topo_kill "$n"; done
}

# topo_cli [NS] ARGS... - redis-cli (in netns NS unless "-"), with AUTH
topo_cli() {
	local ns=$1
	shift
	set -- ${TOPO_PASS:+-a "$TOPO_PASS" --no-auth-warning} "$@"
	if [ "$ns" = - ]; then redis-cli "$@"; else ip netns exec "$ns" redis-cli "$@"; fi
}

# topo_scli ARGS... - redis-cli to a sentinel, with its AUTH
topo_scli() {
	redis-cli ${TOPO_SENTINEL_PASS:+-a "$TOPO_SENTINEL_PASS" --no-auth-warning} "$@"
}

# topo_ping HOST PORT [NS [CLI [NAME]]] - wait until it answers PING
# (10 s); CLI is topo_cli (default) or topo_scli; gives up at once when
# the process started as NAME has exited (a port taken)
topo_ping() {
	for _ in $(seq 200); do
		[ -n "${5:-}" ] && ! topo_alive "$(topo_pid "$5")" && return 1
		if [ "${4:-topo_cli}" = topo_scli ]; then
			topo_scli -h "$1" -p "$2" ping 2>/dev/null | grep -q PONG && return 0
		else
			topo_cli "${3:--}" -h "$1" -p "$2" ping 2>/dev/null | grep -q PONG && return 0
		fi
		sleep 0.05
	done
	return 1
}

# topo_redis NAME PORT [ARGS...] - redis-server on 127.0.0.1:PORT
topo_redis() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$T/$name.d"
	topo_start "$name" - redis-server --port "$port" --bind 127.0.0.1 \
	    --save '' --appendonly no --dir "$T/$name.d" "$@"
	topo_ping 127.0.0.1 "$port" - topo_cli "$name"
}

# topo_sentinel BASE - 1 master + 2 replicas + 3 sentinels (quorum 2)
topo_sentinel() {
	local b=$1 i s
	set -- ${TOPO_PASS:+--requirepass "$TOPO_PASS" --masterauth "$TOPO_PASS"}
	topo_redis master "$b" "$@" || return 1
	for i in 1 2; do
		topo_redis "replica$i" $((b + i)) --replicaof 127.0.0.1 "$b" \
		    "$@" || return 1
	done
	for i in 0 1 2; do
		s=$((b + 10 + i))
		cat >"$T/sentinel$i.conf" <<EOF
port $s
bind 127.0.0.1
dir $T
sentinel monitor mymaster 127.0.0.1 $b 2
sentinel down-after-milliseconds mymaster $TOPO_DOWN_MS
sentinel failover-timeout mymaster 4000
sentinel parallel-syncs mymaster 2
EOF
		[ -n "$TOPO_PASS" ] &&
		    echo "sentinel auth-pass mymaster $TOPO_PASS" >>"$T/sentinel$i.conf"
		[ -n "$TOPO_SENTINEL_PASS" ] && printf '%s\n' \
		    "requirepass $TOPO_SENTINEL_PASS" \
		    "sentinel sentinel-pass $TOPO_SENTINEL_PASS" >>"$T/sentinel$i.conf"
		topo_start "sentinel$i" - redis-server "$T/sentinel$i.conf" \
		    --sentinel
	done
	for i in 0 1 2; do
		topo_ping 127.0.0.1 $((b + 10 + i)) - topo_scli "sentinel$i" ||
		    return 1
	done
	# every sentinel sees both replicas and the other sentinels, and both
	# replicas have finished their first sync (a write then reaches them
	# at once, not after a full resync)
	for _ in $(seq 200); do
		i=0
		for s in 0 1 2; do
			topo_scli -p $((b + 10 + s)) sentinel master mymaster 2>/dev/null |
			    tr '\n' ' ' | grep -Eq 'num-slaves 2 .*num-other-sentinels 2 ' &&
			    i=$((i + 1))
		done
		for s in 1 2; do
			topo_cli - -p $((b + s)) info replication 2>/dev/null |
			    grep -q '^master_link_status:up' && i=$((i + 1))
		done
		[ "$i" = 5 ] && return 0
		sleep 0.1
	done
	return 1
}

# topo_cluster_node NAME HOST PORT [NS] - a cluster-mode redis-server; its
# cluster bus on PORT+50 (the default, PORT+10000, lies in the kernel's
# ephemeral range, where any client socket may hold it)
topo_cluster_node() {
	local name=$1 host=$2 port=$3 ns=${4:--}
	mkdir -p "$T/$name.d"
	topo_start "$name" "$ns" redis-server --port "$port" --bind "$host" \
	    ${TOPO_PASS:+--requirepass "$TOPO_PASS" --masterauth "$TOPO_PASS"} \
	    --cluster-enabled yes --cluster-config-file "$T/$name.d/nodes.conf" \
	    --cluster-port $((port + 50)) \
	    --cluster-node-timeout 1000 --cluster-announce-ip "$host" \
	    --save '' --appendonly no --dir "$T/$name.d"
	topo_ping "$host" "$port" "$ns" topo_cli "$name"
}

# topo_cluster_create NS HOST:PORT... - masters first, one replica each;
# waits until every node says cluster_state:ok
topo_cluster_create() {
	local ns=$1 n ok
	shift
	topo_cli "$ns" --cluster create "$@" --cluster-replicas 1 \
	    --cluster-yes >"$T/cluster-create.log" 2>&1 || return 1
	for _ in $(seq 200); do
		ok=1
		for n in "$@"; do
			topo_cli "$ns" -h "${n%:*}" -p "${n##*:}" cluster info 2>/dev/null |
			    grep -q '^cluster_state:ok' || ok=0
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	return 1
}
