#!/bin/sh
# Rate limits and the store: the Redis store against a real redis-server,
# the example configurations, `gatewarden test` counting and `limits`,
# then three daemons sharing one Redis, driven concurrently through the
# milter protocol (miltertest), with Redis killed and restarted mid-run.
# Everything on 127.0.0.1, ports 30200-30399; processes stopped by PID.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init ratelimit
RPORT=$(free_port 30300 30399) || RPORT=30300
DPORT0=30211
RPID=""; DPIDS=""
# check_got GOT WANT DESC - check_eq with this suite's argument order
check_got() { check_eq "$3" "$1" "$2"; }
cleanup() {
	for p in $DPIDS $RPID; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
}
RCLI() { redis-cli -p "$RPORT" "$@"; }

# start_redis - on $RPORT (the next port when taken, first start only)
start_redis() {
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
	    --dir "$T" >"$T/redis.log" 2>&1 &
	RPID=$!
	for _ in $(seq 200); do
		RCLI ping >/dev/null 2>&1 && return 0
		alive "$RPID" || return 1
		sleep 0.05
	done
	return 1
}
stop_redis() {
	kill -KILL "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; RPID=""
}

tries=0
until start_redis; do
	tries=$((tries + 1)); RPORT=$((RPORT + 1))
	[ $tries -lt 20 ] || { ko "redis-server did not start: $(tail -2 "$T/redis.log")"; t_done; }
done
ok "redis-server on 127.0.0.1:$RPORT"

# --- 1. the Redis store itself ----------------------------------------
# the driver is the Makefile's; a sanitizer build links it with the same
# runtime as its libgw.a
rsc=$BUILD/tests/redis_store_check
make --no-print-directory -s BUILD="$BUILD" "$BUILD/libgw.a" >/dev/null
san=""
nm "$BUILD/libgw.a" 2>/dev/null | grep -q __asan && san="-fsanitize=address,undefined"
if make --no-print-directory -s BUILD="$BUILD" ${san:+SAN="$san"} "$rsc" \
    >"$T/cc.err" 2>&1; then
	"$rsc" "$RPORT" >"$T/rsc.out" 2>"$T/rsc.err"
	line=$(grep -E '^redis_store: [0-9]+ passed, [0-9]+ failed' "$T/rsc.out")
	grep FAIL "$T/rsc.err"
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')
	if [ -n "$line" ]; then
		pass=$((pass + p)); fail=$((fail + f)); echo "$line"
	else
		ko "redis_store_check gave no result line"
	fi
else
	ko "redis_store_check does not build: $(head -3 "$T/cc.err")"
fi

# --- 2. examples and `gatewarden test` ----------------------------------
for f in conf/examples/ratelimit-memory.json conf/examples/ratelimit-redis.json; do
	out=$("$GW" -n -c "$f" 2>&1 | no_root_warning)
	check_got "$out" "configuration OK" "gatewarden -n $f"
done
sed "s/127.0.0.1:6379/127.0.0.1:$RPORT/" conf/examples/ratelimit-redis.json >"$T/ex-redis.json"

J() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
gwtest() {	# gwtest CONF IP [ARGS...]: one message, JSON out
	c=$1; ip=$2; shift 2
	"$GW" test -c "$c" --ip "$ip" --from a@example.com --rcpt b@example.org "$@" </dev/null 2>>"$T/test.log"
}
RL='[(l["remaining"], l["exceeded"]) for l in d["results"]["ratelimit"]["limits"]]'

out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 | J 'd["verdict"], '"$RL")
check_got "$out" "accept [(2, False)]" "memory example: first message admitted, 2 left"

for i in 1 2 3; do
	out=$(gwtest "$T/ex-redis.json" 203.0.113.9 | J 'd["verdict"], '"$RL")
	check_got "$out" "accept [($((3 - i)), False)]" "redis example: run $i admitted"
done
out=$(gwtest "$T/ex-redis.json" 203.0.113.9 | J 'd["verdict"], d["stage"], d["reply"]["code"], d["reply"]["xcode"], d["reply"]["text"]')
check_got "$out" "tempfail mail 451 4.7.1 rate limit inbound_per_ip exceeded, try again later" \
    "redis example: 4th run gets 451 4.7.1 at MAIL, naming the limit not the key"
for i in 1 2 3 4 5; do gwtest "$T/ex-redis.json" 203.0.113.10 --no-count >/dev/null; done
out=$(gwtest "$T/ex-redis.json" 203.0.113.10 | J "$RL")
check_got "$out" "[(2, False)]" "--no-count runs do not count"
out=$(gwtest "$T/ex-redis.json" 203.0.113.11 --auth alice --rcpt c@example.org --rcpt postmaster@example.org | J 'd["verdict"], '"$RL")
check_got "$out" "accept [(99, False), (98, False), (97, False)]" "outbound per SASL user: one per recipient, postmaster@ counted"
out=$(gwtest "$T/ex-redis.json" 203.0.113.12 --rcpt postmaster@example.org | J 'd["verdict"], '"$RL")
check_got "$out" "accept [(2, False)]" "inbound limit counts a message once"

# --repeat: one process, one store - the memory store's limit is reached
VR='[(r["verdict"], r["stage"], r["reply"]["code"], r["reply"]["xcode"]) for r in d]'
A250="('accept', 'eom', '250', '2.0.0')"
T451="('tempfail', 'mail', '451', '4.7.1')"
out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 --repeat 5 | J "$VR")
check_got "$out" "[$A250, $A250, $A250, $T451, $T451]" \
    "memory store, --repeat 5: accept x3 then 451 4.7.1 at MAIL x2"
out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 --repeat 5 | J '[l["remaining"] for r in d for l in r["results"]["ratelimit"]["limits"]]')
check_got "$out" "[2, 1, 0, 0, 0]" "memory store, --repeat 5: remaining allowance 2, 1, 0, 0, 0"
out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 --repeat 5 | J '[r["reply"]["text"] for r in d][3:]')
check_got "$out" "['rate limit inbound_per_ip exceeded, try again later', 'rate limit inbound_per_ip exceeded, try again later']" \
    "memory store, --repeat 5: the refusals name the limit"
out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 --repeat 5 --no-count | J "$VR")
check_got "$out" "[$A250, $A250, $A250, $A250, $A250]" "memory store, --repeat 5 --no-count: all accepted"
out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 --repeat 1 | J 'type(d).__name__, len(d)')
check_got "$out" "list 1" "--repeat 1: an array of one result"
out=$(gwtest conf/examples/ratelimit-memory.json 203.0.113.9 | J 'type(d).__name__, d["verdict"]')
check_got "$out" "dict accept" "without --repeat: one object, as before"
for r in 0 -1 x 10001; do
	gwtest conf/examples/ratelimit-memory.json 203.0.113.9 --repeat "$r" >/dev/null 2>&1; st=$?
	check_got "$st" 64 "--repeat $r: usage error"
done
# Redis: separate processes share the counter; the 4th of 5 runs is refused
out=""
for i in 1 2 3 4 5; do
	out="$out $(gwtest "$T/ex-redis.json" 203.0.113.20 | J 'd["verdict"] + "/" + d["reply"]["code"]')"
done
check_got "$out" " accept/250 accept/250 accept/250 tempfail/451 tempfail/451" \
    "redis store, 5 separate test runs: the limit is reached at the 4th"
out=$(gwtest "$T/ex-redis.json" 203.0.113.21 --repeat 5 | J "$VR")
check_got "$out" "[$A250, $A250, $A250, $T451, $T451]" "redis store, --repeat 5: same as the memory store"

out=$("$GW" limits show -c "$T/ex-redis.json" 2>&1 | cut -f1-3 | tr '\t' ' ')
echo "$out" | grep -qx "inbound_per_ip 203.0.113.9 remaining=0/3" && ok "limits show: exhausted key" || ko "limits show: $out"
echo "$out" | grep -qx "outbound_per_user alice remaining=97/100" && ok "limits show: SASL user" || ko "limits show alice: $out"
echo "$out" | grep -qx "inbound_per_ip 203.0.113.10 remaining=2/3" && ok "limits show: --no-count runs left no trace" || ko "limits show .10: $out"
out=$("$GW" limits show -c "$T/ex-redis.json" --json --key 203.0.113.9 | J '[(l["name"], l["remaining"]) for l in d["limits"]]')
check_got "$out" "[('inbound_per_ip', 0)]" "limits show --key --json"
pttl=$(RCLI pttl gw:rl:inbound_per_ip:203.0.113.9)
[ "$pttl" -gt 0 ] && [ "$pttl" -le 60000 ] && ok "counter key has a TTL ($pttl ms)" || ko "counter TTL: $pttl"
"$GW" limits reset -c "$T/ex-redis.json" --name inbound_per_ip --key 203.0.113.9 >/dev/null; st=$?
check_got "$st" 0 "limits reset: exit 0"
out=$(gwtest "$T/ex-redis.json" 203.0.113.9 | J 'd["verdict"], '"$RL")
check_got "$out" "accept [(2, False)]" "after reset the key starts afresh"
"$GW" limits reset -c "$T/ex-redis.json" --name inbound_per_ip --key 198.51.100.1 >/dev/null; st=$?
check_got "$st" 1 "limits reset of an absent counter: exit 1"

# --- 3. three daemons, one Redis ----------------------------------------
LIMIT=10
dconf() {	# dconf N MODE
	cat >"$T/d$1.json" <<EOC
{ "milter": { "socket": "inet:$((DPORT0 + $1))@127.0.0.1" },
  "log": { "level": "info" },
  "trusted": { "networks": ["127.0.0.0/8"] },
  "store": { "backend": "redis", "on_error": "$2",
    "redis": { "servers": ["127.0.0.1:$RPORT"], "connect_timeout_ms": 200,
      "command_timeout_ms": 500, "pool_size": 4 } },
  "policies": { "ratelimit": { "limits": [
    { "name": "shared", "key": "client_ip", "count": "messages",
      "rate": "$LIMIT/1h", "burst": $LIMIT, "stage": "mail" } ] } } }
EOC
}
sock() { echo "inet:$((DPORT0 + $1))@127.0.0.1"; }
send() {	# send N IP COUNT TAG: lines "MSG TAG i CONNECT c MAIL x EOM y"
	miltertest -D sock="$(sock "$1")" -D ip="$2" -D n="$3" -D tag="$4" \
	    -s tests/ratelimit/send.lua 2>>"$T/mt.err"
}
mode=""
for n in 1 2 3; do
	case $n in 1) m=continue;; 2) m=tempfail;; 3) m=local;; esac
	mode="$mode $m"
	dconf $n $m
	"$GW" -f -c "$T/d$n.json" >"$T/d$n.log" 2>&1 &
	DPIDS="$DPIDS $!"
done
for n in 1 2 3; do
	up=0
	for _ in $(seq 100); do
		miltertest -D sock="$(sock $n)" -s tests/ratelimit/ready.lua >/dev/null 2>&1 && { up=1; break; }
		sleep 0.05
	done
	[ $up = 1 ] && ok "daemon $n up on $(sock $n)" || ko "daemon $n did not start: $(tail -2 "$T/d$n.log")"
done

tally() {	# tally FILE: "admitted refused undecided total"
	awk '$1 == "MSG" { t++; if ($7 == "c" && ($9 == "c" || $9 == "a")) a++;
	    else if ($7 == "y" || $7 == "t") r++; else u++ }
	    END { printf "%d %d %d %d\n", a, r, u, t }' "$1"
}
# concurrently, 8 messages each from one client address
SP=""
for n in 1 2 3; do send $n 203.0.113.50 8 d$n >"$T/s$n.out" & SP="$SP $!"; done
wait $SP
cat "$T/s1.out" "$T/s2.out" "$T/s3.out" >"$T/all.out"
check_got "$(tally "$T/all.out")" "$LIMIT 14 0 24" \
    "3 daemons x 8 concurrent messages: exactly $LIMIT admitted, 14 refused, all answered"
n451=$(cat "$T"/d?.log | grep -c "451 4.7.1 rate limit shared exceeded")
check_got "$n451" 14 "every refusal logged as 451 4.7.1 naming the limit"
pttl=$(RCLI pttl gw:rl:shared:203.0.113.50)
[ "$pttl" -gt 3000000 ] && [ "$pttl" -le 3600000 ] && ok "shared key TTL about the period ($pttl ms)" || ko "shared key TTL: $pttl"

# NOSCRIPT: the script is loaded again on its own
loads0=$(RCLI info commandstats | sed -n 's/^cmdstat_script|load:calls=\([0-9]*\).*/\1/p')
RCLI script flush >/dev/null
out=$(send 1 203.0.113.51 2 ns | tally /dev/stdin)
check_got "$out" "2 0 0 2" "after SCRIPT FLUSH decisions go on"
loads1=$(RCLI info commandstats | sed -n 's/^cmdstat_script|load:calls=\([0-9]*\).*/\1/p')
[ "${loads1:-0}" -gt "${loads0:-0}" ] && ok "script re-loaded after NOSCRIPT" || ko "script loads $loads0 -> $loads1"
pttl=$(RCLI pttl gw:rl:shared:203.0.113.51)
[ "$pttl" -gt 0 ] && ok "counted in Redis after the reload" || ko "no key after reload: $pttl"

# Redis killed mid-run: every message still gets a definite answer
SP=""
for n in 1 2 3; do send $n 203.0.113.52 40 k$n >"$T/k$n.out" & SP="$SP $!"; done
for _ in $(seq 200); do	# kill once every stream is under way
	[ "$(cat "$T"/k?.out 2>/dev/null | grep -c '^MSG')" -ge 6 ] && break
	sleep 0.01
done
stop_redis
wait $SP
for n in 1 2 3; do
	set -- $(tally "$T/k$n.out")
	[ "$3" = 0 ] && [ "$4" = 40 ] && ok "daemon $n ($(echo $mode | cut -d' ' -f$n)): 40 messages, all answered across the kill ($1 admitted, $2 refused)" ||
	    ko "daemon $n across the kill: $*"
done
# each mode does what it says
out=$(send 1 203.0.113.50 3 acc | tally /dev/stdin)
check_got "$out" "3 0 0 3" "on_error continue: an exhausted key passes while Redis is down"
out=$(send 2 203.0.113.53 2 tf | tally /dev/stdin)
check_got "$out" "0 2 0 2" "on_error tempfail: a fresh key is refused while Redis is down"
grep -q "451 4.3.0" "$T/d2.log" && ok "on_error tempfail answers 451 4.3.0" || ko "no 451 4.3.0 in daemon 2 log"
out=$(send 3 203.0.113.54 12 loc | tally /dev/stdin)
check_got "$out" "$LIMIT 2 0 12" "on_error local: this host counts on its own ($LIMIT of 12)"
for n in 1 2 3; do
	c=$(grep -c "back-end unavailable" "$T/d$n.log")
	check_got "$c" 1 "daemon $n logs the switch once"
	alive "$(echo $DPIDS | cut -d' ' -f$n)" && ok "daemon $n alive" || ko "daemon $n died"
done

# Redis restarted: the daemons reconnect by themselves
start_redis && ok "redis restarted on the same port" || ko "redis restart"
i=0
for n in 1 2 3; do
	back=0
	for _ in $(seq 100); do
		i=$((i + 1))
		send $n "198.51.100.$((i % 250 + 1))" 1 probe >/dev/null
		grep -q "answers again" "$T/d$n.log" && { back=1; break; }
		sleep 0.05
	done
	[ $back = 1 ] && ok "daemon $n reconnected and logged it" || ko "daemon $n did not reconnect"
done
SP=""
for n in 1 2 3; do send $n 203.0.113.70 6 r$n >"$T/r$n.out" & SP="$SP $!"; done
wait $SP
cat "$T/r1.out" "$T/r2.out" "$T/r3.out" >"$T/rall.out"
check_got "$(tally "$T/rall.out")" "$LIMIT 8 0 18" "after the restart: shared counting again, exactly $LIMIT of 18"
out=$("$GW" limits show -c "$T/d1.json" --key 203.0.113.70 | cut -f1-3 | tr '\t' ' ')
check_got "$out" "shared 203.0.113.70 remaining=0/$LIMIT" "limits show from another process sees the shared counter"

# --- 4. memory store: counters survive a reload -----------------------
cat >"$T/d4.json" <<EOC
{ "milter": { "socket": "inet:$((DPORT0 + 4))@127.0.0.1" },
  "log": { "level": "info" },
  "store": { "backend": "memory" },
  "policies": { "ratelimit": { "limits": [
    { "name": "m", "key": "client_ip_prefix", "rate": "3/1h", "burst": 3 } ] } } }
EOC
"$GW" -f -c "$T/d4.json" >"$T/d4.log" 2>&1 &
D4=$!; DPIDS="$DPIDS $D4"
for _ in $(seq 100); do
	miltertest -D sock="$(sock 4)" -s tests/ratelimit/ready.lua >/dev/null 2>&1 && break
	sleep 0.05
done
out=$(send 4 203.0.113.80 2 m1 | tally /dev/stdin)
check_got "$out" "2 0 0 2" "memory store: 2 of 3 taken"
sed -i 's/"3\/1h"/"3\/60m"/' "$T/d4.json"	# a changed policy, same store
kill -HUP "$D4"
for _ in $(seq 100); do grep -q "reload: configuration" "$T/d4.log" && break; sleep 0.05; done
grep -q "reload: configuration" "$T/d4.log" && ok "memory daemon reloaded" || ko "no reload: $(tail -2 "$T/d4.log")"
out=$(send 4 203.0.113.99 2 m2 | tally /dev/stdin)
check_got "$out" "1 1 0 2" "after SIGHUP the counter (same /24) is still there"
out=$("$GW" limits show -c "$T/d4.json" 2>/dev/null; echo "rc=$?")
check_got "$out" "rc=0" "limits show on a memory store: nothing to show, exit 0"

bad=$(grep -l -E "AddressSanitizer|runtime error|LeakSanitizer" "$T"/d?.log "$T/rsc.err" "$T/test.log" 2>/dev/null)
[ -z "$bad" ] && ok "no sanitizer reports" || ko "sanitizer reports in: $bad"

t_done
