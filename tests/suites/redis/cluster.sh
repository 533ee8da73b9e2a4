#!/bin/bash
# cluster - store.redis.cluster against a real Redis
# Cluster: 3 masters + 3 replicas (redis-server cluster mode, redis-cli
# --cluster create), three daemons sharing limits through it.
#
#  - the shared limit: 3 daemons x concurrent messages, exactly the limit
#    admitted; keys spread over the masters; limits show/reset and greylist
#    inspection across the masters;
#  - a slot migration during load: redis-cli --cluster reshard moves 2000
#    slots while 12 keys living in them get paced messages from all three
#    daemons: every key admits exactly its limit (nothing lost, nothing
#    counted twice), redirections followed (no store errors), the keys end
#    on the new master;
#  - ASK step by step: a key MIGRATEd while its slot is still migrating is
#    counted on the importing node behind ASKING, then MOVED when the slot
#    is handed over, the count going on exactly;
#  - a master killed: its replica takes over, keys of the other masters
#    never notice, keys of its slots fail to on_error then count again.
# Everything on 127.0.0.1, ports 30450-30479 and 30500-30505 (cluster bus);
# processes stopped by PID.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init redis-cluster
B=30450			# nodes +0..+5 (masters +0..+2)
DPORT0=30460		# daemons +1..+3
LIMIT=50 MIG_LIMIT=5 MIG_SLOTS=2000
# check GOT WANT DESC - this suite's argument order for check_eq
check() { check_eq "$3" "$1" "$2"; }
finish() { t_done; }
. tests/ratelimit/redis_topo.sh
cleanup() { topo_stop_all; }
RC() { redis-cli -p "$@"; }

for c in redis-server redis-cli miltertest; do
	command -v $c >/dev/null || { ko "$c is not installed (make deps-test)"; finish; }
done
topo_free $B 30 && topo_free $((B + 50)) 6 ||
    { ko "ports $B-$((B + 29)) or $((B + 50))-$((B + 55)) (cluster bus) of 127.0.0.1 are taken"; finish; }
NODES=""
for i in 0 1 2 3 4 5; do
	topo_cluster_node "node$i" 127.0.0.1 $((B + i)) || { ko "node $i did not start"; finish; }
	NODES="$NODES 127.0.0.1:$((B + i))"
done
# shellcheck disable=SC2086
if topo_cluster_create - $NODES; then
	ok "cluster up: 3 masters, 3 replicas, all 16384 slots"
else
	ko "cluster create failed: $(tail -3 "$T/cluster-create.log")"; finish
fi
master_of() {	# master_of SLOT: the port of the master serving it
	RC $B cluster nodes | awk -v s="$1" '$3 ~ /master/ && $3 !~ /fail/ {
	    for (i = 9; i <= NF; i++) { n = split($i, r, "-"); if (n == 1) r[2] = r[1]
		if (r[1] ~ /^[0-9]+$/ && s >= r[1] + 0 && s <= r[2] + 0) {
		    split($2, a, "[:@]"); print a[2]; exit } } }'
}
first_slot() {	# first_slot PORT: the lowest slot that master serves
	RC "$1" cluster nodes | awk '$3 ~ /myself/ { split($9, r, "-"); print r[1] }'
}

dconf() {	# dconf N ON_ERROR [rules]
	rules="" port=$DPORT0
	case $1 in [0-9]) port=$((DPORT0 + $1));; esac
	[ -n "${3:-}" ] && rules=', "rules": { "greylist": { "delay": "1s",
      "retry_window": "1h", "pass_lifetime": "1d", "auto_allow_after": 0 } }'
	cat >"$T/d$1.json" <<EOC
{ "milter": { "socket": "inet:$port@127.0.0.1" },
  "log": { "level": "info" },
  "store": { "backend": "redis", "on_error": "$2",
    "redis": { "cluster": ["127.0.0.1:$((B + 5))", "127.0.0.1:$B"],
      "connect_timeout_ms": 200, "command_timeout_ms": 500, "pool_size": 4 } },
  "policies": { "ratelimit": { "limits": [
    { "name": "shared", "key": "client_ip", "count": "messages",
      "rate": "$LIMIT/1h", "burst": $LIMIT, "stage": "mail" } ] }$rules } }
EOC
}
for n in 1 2 3; do dconf $n tempfail; done
dconf gl tempfail rules
out=$({ "$GW" -n -c "$T/d1.json" 2>&1; "$GW" -n -c "$T/dgl.json" 2>&1; } |
    no_root_warning)
check "$(echo $out)" "configuration OK configuration OK" "cluster configurations pass -n"

# --- gatewarden test, limits, greylist through the cluster ----------------
J() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
gwt() {	# gwt CONF IP [ARGS]
	c=$1 ip=$2; shift 2
	"$GW" test -c "$c" --ip "$ip" --from a@example.com --rcpt b@example.org \
	    "$@" </dev/null 2>>"$T/test.log"
}
for i in $(seq 1 12); do gwt "$T/d1.json" "198.51.100.$i" >/dev/null; done
nk=""
for i in 0 1 2; do nk="$nk $(RC $((B + i)) --scan --pattern 'gw:rl:shared:*' | wc -l)"; done
set -- $nk
[ $(($1 + $2 + $3)) = 12 ] && [ "$1" -gt 0 ] && [ "$2" -gt 0 ] && [ "$3" -gt 0 ] &&
    ok "12 keys spread over the 3 masters ($nk)" || ko "keys per master:$nk"
out=$("$GW" limits show -c "$T/d1.json" | grep -c "remaining=$((LIMIT - 1))/$LIMIT")
check "$out" 12 "limits show walks every master"
slot=$(RC $B cluster keyslot gw:rl:shared:198.51.100.7)
"$GW" limits reset -c "$T/d1.json" --name shared --key 198.51.100.7 >/dev/null; st=$?
check "$st" 0 "limits reset: exit 0"
check "$(RC "$(master_of "$slot")" exists gw:rl:shared:198.51.100.7)" 0 "reset removed the key on its master (slot $slot)"
out=$(gwt "$T/dgl.json" 192.0.2.44 | J 'd["verdict"], d["results"]["rules"]["greylist"]')
case $out in "tempfail "*"new triplet") ok "greylist through the cluster: new triplet deferred";;
	*) ko "greylist first attempt: $out";; esac
out=$(gwt "$T/dgl.json" 192.0.2.44 --no-count | J 'd["results"]["rules"]["greylist"]')
case $out in *"too early"*) ok "greylist inspection (test --no-count) finds the triplet";;
	*) ko "greylist inspection: $out";; esac

# --- three daemons, one shared limit ----------------------------------------
for n in 1 2 3; do
	topo_start "d$n" - "$GW" -f -c "$T/d$n.json"
done
sock() { echo "inet:$((DPORT0 + $1))@127.0.0.1"; }
for n in 1 2 3; do
	up=0
	for _ in $(seq 100); do
		miltertest -D sock="$(sock $n)" -s tests/ratelimit/ready.lua >/dev/null 2>&1 && { up=1; break; }
		sleep 0.05
	done
	[ $up = 1 ] && ok "daemon $n up" || ko "daemon $n did not start: $(tail -2 "$T/d$n.log")"
done
tally() {	# send.lua lines: "admitted refused undecided total"
	awk '$1 == "MSG" { t++; if ($5 == "c" && $7 == "c" && ($9 == "c" || $9 == "a")) a++;
	    else if ($7 == "y" || $7 == "t") r++; else u++ }
	    END { printf "%d %d %d %d\n", a, r, u, t }' "$@"
}
SP=""
for n in 1 2 3; do
	miltertest -D sock="$(sock $n)" -D ip=203.0.113.50 -D n=25 -D tag=s$n \
	    -s tests/ratelimit/send.lua >"$T/s$n.out" 2>>"$T/mt.err" &
	SP="$SP $!"
done
wait $SP
check "$(tally "$T"/s?.out)" "$LIMIT 25 0 75" "3 daemons x 25 concurrent messages: exactly $LIMIT admitted"

# --- a slot migration during load ----------------------------------------
# keys whose slots are among the first MIG_SLOTS of master 0: those are
# the slots `reshard` moves, in ascending order, while the load runs
src=$(RC $B cluster myid) dst=$(RC $((B + 1)) cluster myid)
first=$(first_slot $B)
IPS=$(for i in $(seq 1 254); do echo "CLUSTER KEYSLOT gw:rl:mig:203.0.113.$i"; done |
    RC $B | awk -v lo="$first" -v n=$MIG_SLOTS '{ if ($1 >= lo && $1 < lo + n) print NR, $1 }' |
    sort -k2,2n | awk '{ ip[NR] = $1 } END { for (i = 0; i < 12 && NR >= 12; i++)
	printf "%s203.0.113.%d", (i ? "," : ""), ip[int(i * NR / 12) + 1] }')
nips=$(echo "$IPS" | tr ',' '\n' | grep -c .)
check "$nips" 12 "12 keys chosen in the slots that will move"
sed -i "s/\"name\": \"shared\"/\"name\": \"mig\"/; s/\"$LIMIT\/1h\", \"burst\": $LIMIT/\"$MIG_LIMIT\/1h\", \"burst\": $MIG_LIMIT/" "$T"/d[123].json
for n in 1 2 3; do kill -HUP "$(topo_pid d$n)"; done
for n in 1 2 3; do
	for _ in $(seq 100); do grep -q "reload: configuration" "$T/d$n.log" && break; sleep 0.05; done
done
redis-cli --cluster reshard 127.0.0.1:$B --cluster-from "$src" --cluster-to "$dst" \
    --cluster-slots $MIG_SLOTS --cluster-yes >"$T/reshard.log" 2>&1 &
RS=$!
SP=""
for n in 1 2 3; do
	miltertest -D sock="$(sock $n)" -D ips="$IPS" -D rounds=4 -D tag=m$n -D gap=0.1 \
	    -s tests/ratelimit/multi.lua >"$T/m$n.out" 2>>"$T/mt.err" &
	SP="$SP $!"
done
wait $SP
migrating_end=$(tail -1 "$T/reshard.log")
wait $RS; st=$?
check "$st" 0 "redis-cli --cluster reshard of $MIG_SLOTS slots ran alongside the load"
case $migrating_end in "Moving slot"*) ok "the load ended before the reshard did (overlap)";;
	*) echo "     note: reshard finished before the load ($migrating_end)";; esac
per=$(cat "$T"/m?.out | awk '$1 == "MSG" { t[$3]++; if ($5 == "MAIL" && $6 == "c" && ($8 == "c" || $8 == "a")) a[$3]++;
    else if ($6 != "y" && $6 != "t") u++ }
    END { for (k in t) printf "%s %d/%d\n", k, a[k], t[k]; if (u) print "undecided", u }' | sort)
bad=$(echo "$per" | grep -v " $MIG_LIMIT/12$")
[ -z "$bad" ] && ok "every migrated key admitted exactly $MIG_LIMIT of 12 (no lost or double count)" ||
    ko "per key admitted/sent: $(echo $per)"
n43=$(cat "$T"/d?.log | grep -c "451 4.3.0")
check "$n43" 0 "no store errors during the migration (MOVED/ASK followed)"
on=0
for ip in $(echo "$IPS" | tr ',' ' '); do
	[ "$(RC $((B + 1)) exists "gw:rl:mig:$ip")" = 1 ] && on=$((on + 1))
done
check "$on" 12 "all 12 keys now live on the new master"
out=$(miltertest -D sock="$(sock 2)" -D ips="$IPS" -D rounds=1 -D tag=after -D gap=0 \
    -s tests/ratelimit/multi.lua 2>>"$T/mt.err" | grep -c "MAIL y")
check "$out" 12 "after the migration every key is still used up"

# --- ASK, step by step: a key moved while its slot is still migrating -------
k_ask=$(for i in $(seq 1 254); do echo "CLUSTER KEYSLOT gw:rl:mig:198.51.100.$i"; done |
    RC $B | awk -v lo=$((MIG_SLOTS + 100)) '$1 >= lo && $1 < 5461 { print "198.51.100." NR; exit }')
s_ask=$(RC $B cluster keyslot "gw:rl:mig:$k_ask")
sendk() {	# sendk DAEMON IP N: "admitted refused undecided total"
	miltertest -D sock="$(sock "$1")" -D ip="$2" -D n="$3" -D tag=k \
	    -s tests/ratelimit/send.lua 2>>"$T/mt.err" | tally
}
check "$(sendk 1 "$k_ask" 2)" "2 0 0 2" "key $k_ask (slot $s_ask) counted on master 0"
asking0=$(RC $((B + 1)) info commandstats | sed -n 's/^cmdstat_asking:calls=\([0-9]*\).*/\1/p')
RC $((B + 1)) cluster setslot "$s_ask" importing "$src" >/dev/null
RC $B cluster setslot "$s_ask" migrating "$dst" >/dev/null
out=$(RC $B migrate 127.0.0.1 $((B + 1)) "" 0 5000 keys "gw:rl:mig:$k_ask")
check "$out" "OK" "MIGRATE moved the key; its slot is still migrating"
check "$(sendk 2 "$k_ask" 2)" "2 0 0 2" "during the migration: answered (ASK followed)"
asking1=$(RC $((B + 1)) info commandstats | sed -n 's/^cmdstat_asking:calls=\([0-9]*\).*/\1/p')
[ "${asking1:-0}" -gt "${asking0:-0}" ] && ok "ASKING sent to the importing node (${asking0:-0} -> $asking1)" ||
    ko "no ASKING on the importing node (${asking0:-0} -> ${asking1:-0})"
for i in 0 1 2; do RC $((B + i)) cluster setslot "$s_ask" node "$dst" >/dev/null; done
check "$(sendk 3 "$k_ask" 3)" "1 2 0 3" "slot handed over (MOVED): the count went on, $MIG_LIMIT in all"
check "$(RC $((B + 1)) exists "gw:rl:mig:$k_ask")" 1 "the key lives on the new master"

# --- a master lost: its replica takes over ----------------------------------
k_other=$(for i in $(seq 1 254); do echo "CLUSTER KEYSLOT gw:rl:mig:203.0.113.$i"; done |
    RC $B | awk -v lo=$MIG_SLOTS -v x="$s_ask" '$1 >= lo && $1 < 5461 && $1 != x { print "203.0.113." NR; exit }')
k_dead=$(for i in $(seq 1 254); do echo "CLUSTER KEYSLOT gw:rl:mig:192.0.2.$i"; done |
    RC $B | awk '$1 >= 10923 { print "192.0.2." NR; exit }')
dead=$(master_of 10923)
kill_at=$(date +%s%N)
topo_kill "node$((dead - B))"
out=$(miltertest -D sock="$(sock 1)" -D ip="$k_other" -D n=2 -D tag=o \
    -s tests/ratelimit/send.lua 2>>"$T/mt.err" | tally)
check "$out" "2 0 0 2" "master :$dead killed: keys on the other masters go on"
back=0
for _ in $(seq 100); do
	r=$(miltertest -D sock="$(sock 1)" -D ip="$k_dead" -D n=1 -D tag=p \
	    -s tests/ratelimit/send.lua 2>>"$T/mt.err")
	case $r in *"MAIL c"*) back=1; break;; esac
	sleep 0.1
done
ms=$(( ($(date +%s%N) - kill_at) / 1000000 ))
[ $back = 1 ] && ok "keys of the lost master count again on its replica after $ms ms" ||
    ko "keys of the lost master not served again after $ms ms"
grep -q "451 4.3.0" "$T/d1.log" && ok "meanwhile on_error tempfail answered 451 4.3.0" ||
    echo "     note: the failover was quicker than the first try"
SP=""
for n in 1 2 3; do
	miltertest -D sock="$(sock $n)" -D ip="$k_dead" -D n=4 -D tag=f$n \
	    -s tests/ratelimit/send.lua >"$T/f$n.out" 2>>"$T/mt.err" &
	SP="$SP $!"
done
wait $SP
check "$(tally "$T"/f?.out)" "$((MIG_LIMIT - 1)) $((12 - MIG_LIMIT + 1)) 0 12" \
    "on the promoted replica: exact again ($((MIG_LIMIT - 1)) left of $MIG_LIMIT, 12 sent)"
for n in 1 2 3; do
	topo_alive "$(topo_pid d$n)" && ok "daemon $n alive" || ko "daemon $n died"
done
bad=$(grep -l -E "AddressSanitizer|runtime error|LeakSanitizer" "$T"/d?.log "$T/test.log" 2>/dev/null)
[ -z "$bad" ] && ok "no sanitizer reports" || ko "sanitizer reports in: $bad"
finish
