#!/bin/bash
# sentinel - store.redis.sentinels: three daemons share a
# limit of 50 on a Sentinel-managed Redis (1 master, 2 replicas, 3
# sentinels) while a paced load of 200 messages runs; the master is killed
# mid-run.  Checks: every message answered; the failover followed within
# the sentinels' down-after time + 2 s; on_error applied during it
# (tempfail on two daemons, local on the third); admitted <= limit + what
# on_error=local allows (the third daemon's local bucket: 50); exact
# counting afterwards; no script ever run on a replica; limits show/reset
# and greylist inspection through Sentinel; then TLS through stunnel to a
# Redis that speaks only TLS, with AUTH (the path docs/scaling.md
# recommends).  Redis and the sentinels each require their own password.
# Everything on 127.0.0.1, ports 30400-30439, every process
# stopped by PID.
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init redis-sentinel
B=30400			# master; replicas +1 +2; sentinels +10..+12
DPORT0=30420		# daemons +1..+3
TLS_PORT=30430 TUN_PORT=30431
LIMIT=50 LOAD=200 GAP=0.1
TOPO_DOWN_MS=1000
TOPO_PASS=redis-s3cret TOPO_SENTINEL_PASS=sentinel-s3cret	# both AUTHs in use
# check GOT WANT DESC - this suite's argument order for check_eq
check() { check_eq "$3" "$1" "$2"; }
finish() { t_done; }
. tests/ratelimit/redis_topo.sh
cleanup() { topo_stop_all; }

for c in redis-server redis-cli miltertest; do
	command -v $c >/dev/null || { ko "$c is not installed (make deps-test)"; finish; }
done
topo_free $B 32 || { ko "ports $B-$((B + 31)) of 127.0.0.1 are taken"; finish; }
if topo_sentinel $B; then
	ok "sentinel group up: master :$B, replicas :$((B + 1)) :$((B + 2)), sentinels :$((B + 10))-:$((B + 12))"
else
	ko "sentinel group did not come up: $(tail -3 "$T"/sentinel0.log)"; finish
fi
SENTINELS="\"127.0.0.1:$((B + 10))\", \"127.0.0.1:$((B + 11))\", \"127.0.0.1:$((B + 12))\""

dconf() {	# dconf N ON_ERROR [rules]: "rules" adds greylisting
	rules="" port=$DPORT0
	case $1 in [0-9]) port=$((DPORT0 + $1));; esac
	[ -n "${3:-}" ] && rules=', "rules": { "greylist": { "delay": "1s",
      "retry_window": "1h", "pass_lifetime": "1d", "auto_allow_after": 0 } }'
	cat >"$T/d$1.json" <<EOC
{ "milter": { "socket": "inet:$port@127.0.0.1" },
  "log": { "level": "info" },
  "store": { "backend": "redis", "on_error": "$2",
    "redis": { "sentinels": [$SENTINELS], "master_name": "mymaster",
      "password": "$TOPO_PASS", "sentinel_password": "$TOPO_SENTINEL_PASS",
      "connect_timeout_ms": 200, "command_timeout_ms": 500, "pool_size": 4 } },
  "policies": { "ratelimit": { "limits": [
    { "name": "shared", "key": "client_ip", "count": "messages",
      "rate": "$LIMIT/1h", "burst": $LIMIT, "stage": "mail" } ] }$rules } }
EOC
}
MODES="tempfail tempfail local"
n=0
for m in $MODES; do n=$((n + 1)); dconf $n "$m"; done
dconf gl tempfail rules
out=$({ "$GW" -n -c "$T/d1.json" 2>&1; "$GW" -n -c "$T/dgl.json" 2>&1; } |
    no_root_warning)
check "$(echo $out)" "configuration OK configuration OK" "sentinel configurations pass -n"

# --- gatewarden test, limits, greylist through Sentinel -------------------
J() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
gwt() {	# gwt IP [ARGS]: one message through `gatewarden test`
	ip=$1; shift
	"$GW" test -c "$T/dgl.json" --ip "$ip" --from a@example.com \
	    --rcpt b@example.org "$@" </dev/null 2>>"$T/test.log"
}
for bad in sentinel_password password; do
	sed "s/\"$bad\": \"[^\"]*\"/\"$bad\": \"wrong\"/" "$T/dgl.json" >"$T/bad.json"
	out=$("$GW" test -c "$T/bad.json" --ip 198.51.100.2 --from a@example.com \
	    --rcpt b@example.org </dev/null 2>>"$T/test.log" | J 'd["verdict"], d["reply"]["xcode"]')
	check "$out" "tempfail 4.3.0" "a wrong $bad: no store (on_error tempfail)"
done
out=$(gwt 198.51.100.1 | J 'd["verdict"], d["results"]["rules"]["greylist"]')
case $out in "tempfail "*"new triplet") ok "greylist through Sentinel: new triplet deferred";;
	*) ko "greylist first attempt: $out";; esac
out=$(gwt 198.51.100.1 --no-count | J 'd["results"]["rules"]["greylist"]')
case $out in *"too early"*) ok "greylist inspection (test --no-count) sees the shared triplet";;
	*) ko "greylist inspection: $out";; esac
for _ in $(seq 100); do	# replication is asynchronous
	out=$(topo_cli - -p $((B + 1)) --scan --pattern 'gw:gl:t:*' | wc -l)
	[ "$out" = 1 ] && break
	sleep 0.05
done
check "$out" 1 "the triplet reached the replicas"
out=$("$GW" limits show -c "$T/d1.json" --key 198.51.100.1 | cut -f1-3 | tr '\t' ' ')
check "$out" "shared 198.51.100.1 remaining=$((LIMIT - 1))/$LIMIT" "limits show through Sentinel"
"$GW" limits reset -c "$T/d1.json" --name shared --key 198.51.100.1 >/dev/null; st=$?
check "$st" 0 "limits reset through Sentinel"
out=$(topo_cli - -p $B exists gw:rl:shared:198.51.100.1)
check "$out" 0 "the reset removed the key on the master"

# --- three daemons, a paced load, the master killed -------------------------
for n in 1 2 3; do
	"$GW" -f -c "$T/d$n.json" >"$T/d$n.log" 2>&1 &
	echo $! >"$T/pid.d$n"; TOPO_NAMES="$TOPO_NAMES d$n"
done
sock() { echo "inet:$((DPORT0 + $1))@127.0.0.1"; }
for n in 1 2 3; do
	up=0
	for _ in $(seq 100); do
		miltertest -D sock="$(sock $n)" -s tests/ratelimit/ready.lua >/dev/null 2>&1 && { up=1; break; }
		sleep 0.05
	done
	[ $up = 1 ] && ok "daemon $n up ($(echo $MODES | cut -d' ' -f$n))" || ko "daemon $n did not start: $(tail -2 "$T/d$n.log")"
done
tally() {	# tally FILE...: "admitted refused undecided total"
	cat "$@" | awk '$1 == "MSG" { t++; if ($5 == "c" && $7 == "c" && ($9 == "c" || $9 == "a")) a++;
	    else if ($7 == "y" || $7 == "t") r++; else u++ }
	    END { printf "%d %d %d %d\n", a, r, u, t }'
}
IP=203.0.113.50
per=$((LOAD / 3))
SP=""
for n in 1 2 3; do
	cnt=$per; [ $n = 3 ] && cnt=$((LOAD - 2 * per))
	miltertest -D sock="$(sock $n)" -D ip=$IP -D n=$cnt -D tag=d$n -D gap=$GAP \
	    -s tests/ratelimit/paced.lua >"$T/load$n.out" 2>>"$T/mt.err" &
	SP="$SP $!"
done
for _ in $(seq 400); do	# kill once 30 messages are through
	[ "$(cat "$T"/load?.out 2>/dev/null | grep -c '^MSG')" -ge 30 ] && break
	sleep 0.02
done
before=$(tally "$T"/load?.out)
kill_at=$(date -u +%s.%3N)
topo_kill master
ok "master killed after $(echo $before | cut -d' ' -f4) messages ($(echo $before | cut -d' ' -f1) admitted)"
wait $SP
set -- $(tally "$T"/load?.out)
adm=$1 ref=$2 und=$3 tot=$4
check "$und $tot" "0 $LOAD" "all $LOAD messages answered across the failover"
echo "     admitted $adm, refused $ref (limit $LIMIT; on_error tempfail, tempfail, local)"
[ "$adm" -le $((LIMIT + LIMIT)) ] && ok "admitted $adm <= limit $LIMIT + local allowance $LIMIT (daemon 3's bucket)" ||
    ko "admitted $adm > $((2 * LIMIT))"
[ "$adm" -ge "$LIMIT" ] && ok "admitted $adm >= limit: the shared count went on after the failover" ||
    ko "admitted $adm < $LIMIT"

# when each daemon answered from the new master again
new=$(topo_scli -p $((B + 10)) sentinel get-master-addr-by-name mymaster | tail -1)
case $new in $((B + 1))|$((B + 2))) ok "sentinels promoted a replica (:$new)";; *) ko "no promotion: '$new'";; esac
for n in 1 2 3; do
	grep -q "redis master mymaster is now 127.0.0.1:$new" "$T/d$n.log" &&
	    ok "daemon $n followed the failover event" || ko "daemon $n: no failover line"
	ms=$(/usr/bin/python3 - "$kill_at" "$T/d$n.log" <<'PY'
import datetime, sys
k = float(sys.argv[1])
for line in open(sys.argv[2]):
    if "answers again" in line:
        t = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f")
        t = t.replace(tzinfo=datetime.timezone.utc).timestamp()
        if t >= k:
            print(int((t - k) * 1000)); break
else:
    print(-1)
PY
)
	if [ "$ms" -ge 0 ] && [ "$ms" -le $((TOPO_DOWN_MS + 2000)) ]; then
		ok "daemon $n counts on the new master ${ms} ms after the kill (<= down-after $TOPO_DOWN_MS + 2000)"
	else
		ko "daemon $n back after ${ms} ms (want 0..$((TOPO_DOWN_MS + 2000)))"
	fi
done
n43=$(cat "$T"/d1.log "$T"/d2.log | grep -c "451 4.3.0")
[ "$n43" -gt 0 ] && ok "on_error tempfail during the failover: $n43 messages got 451 4.3.0" || ko "no 451 4.3.0 from the tempfail daemons"
grep -q "counting on this host only" "$T/d3.log" && ok "on_error local: daemon 3 counted on its own meanwhile" || ko "daemon 3 did not fall back"
n47=$(cat "$T"/d?.log | grep -c "451 4.7.1 rate limit shared")
[ "$n47" -gt 0 ] && ok "the shared limit refused $n47 messages (451 4.7.1)" || ko "no limit refusal"
out=$("$GW" limits show -c "$T/d1.json" --key $IP | cut -f1-3 | tr '\t' ' ')
check "$out" "shared $IP remaining=0/$LIMIT" "limits show on the new master: the shared limit is used up"

# exact counting after the failover: 3 x 25 concurrent, a fresh key
SP=""
for n in 1 2 3; do
	miltertest -D sock="$(sock $n)" -D ip=203.0.113.60 -D n=25 -D tag=x$n \
	    -s tests/ratelimit/send.lua >"$T/after$n.out" 2>>"$T/mt.err" &
	SP="$SP $!"
done
wait $SP
check "$(tally "$T"/after?.out)" "$LIMIT 25 0 75" "after the failover: exactly $LIMIT of 75 concurrent messages admitted"

# never a script on a replica: a replica that was never promoted ran
# none.  The sentinels may fail over more than once on a loaded machine
# (the new master missing a ping for down-after): every master they
# named is in their logs ("+switch-master ... OLD-IP OLD-PORT IP PORT"),
# and the master now is the last of them.
new=$(topo_scli -p $((B + 10)) sentinel get-master-addr-by-name mymaster | tail -1)
promoted=$(cat "$T"/sentinel?.log | awk '/\+switch-master/ { print $NF }' | sort -u | tr '\n' ' ')
echo "     masters named by the sentinels: ${promoted:-none}; now :$new"
for r in $((B + 1)) $((B + 2)); do
	[ "$r" = "$new" ] && continue
	out=$(topo_cli - -p $r role | head -1)
	check "$out" "slave" "127.0.0.1:$r is a replica of the new master"
	case " $promoted " in
	*" $r "*) # master for a while: scripts ran there then, and a script
		# that reached it as a replica would have failed (READONLY)
		out=$(topo_cli - -p $r info commandstats | grep '^cmdstat_evalsha' |
		    sed -E 's/.*rejected_calls=([0-9]+),failed_calls=([0-9]+).*/\1 \2/')
		check "${out:-0 0}" "0 0" "replica :$r (master for a while) refused no EVALSHA" ;;
	*)	out=$(topo_cli - -p $r info commandstats | grep -c '^cmdstat_evalsha')
		check "$out" 0 "no EVALSHA ever reached the replica :$r" ;;
	esac
done

# the old master comes back as a replica; writes still go to the new one
topo_redis master $B --requirepass "$TOPO_PASS" --masterauth "$TOPO_PASS" >/dev/null || true
for _ in $(seq 100); do
	[ "$(topo_cli - -p $B role 2>/dev/null | head -1)" = slave ] && break
	sleep 0.1
done
check "$(topo_cli - -p $B role | head -1)" "slave" "the old master rejoined as a replica"
out=$(miltertest -D sock="$(sock 1)" -D ip=203.0.113.61 -D n=2 -D tag=z \
    -s tests/ratelimit/send.lua 2>>"$T/mt.err" | tally /dev/stdin)
check "$out" "2 0 0 2" "decisions go on after the old master rejoined"
check "$(topo_cli - -p "$new" exists gw:rl:shared:203.0.113.61)" 1 "counted on the new master"
for n in 1 2 3; do
	topo_alive "$(topo_pid d$n)" && ok "daemon $n alive" || ko "daemon $n died"
done

# --- TLS: stunnel in front of a Redis that only speaks TLS ------------------
if ! command -v stunnel4 >/dev/null && ! command -v stunnel >/dev/null; then
	ko "stunnel4 not installed (make deps-test)"
else
	ST=$(command -v stunnel4 || command -v stunnel)
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=gw-test-ca \
	    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 \
	    -keyout "$T/srv.key" -out "$T/srv.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:127.0.0.1\n' >"$T/san.ext"
	openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 1 -extfile "$T/san.ext" -out "$T/srv.pem" >/dev/null 2>&1
	mkdir -p "$T/tls.d"
	topo_start tlsredis - redis-server --port 0 --tls-port $TLS_PORT \
	    --bind 127.0.0.1 --tls-cert-file "$T/srv.pem" --tls-key-file "$T/srv.key" \
	    --tls-ca-cert-file "$T/ca.pem" --tls-auth-clients no \
	    --requirepass s3cret --save '' --appendonly no --dir "$T/tls.d"
	cat >"$T/stunnel.conf" <<EOC
foreground = yes
pid =
[redis]
client = yes
accept = 127.0.0.1:$TUN_PORT
connect = 127.0.0.1:$TLS_PORT
CAfile = $T/ca.pem
verifyChain = yes
checkIP = 127.0.0.1
EOC
	topo_start stunnel - "$ST" "$T/stunnel.conf"
	for _ in $(seq 100); do topo_free $TUN_PORT 1 || break; sleep 0.05; done
	tconf() {	# tconf FILE SERVER PASSWORD
		cat >"$1" <<EOC
{ "store": { "backend": "redis", "on_error": "tempfail",
    "redis": { "servers": ["$2"], "password": "$3" } },
  "policies": { "ratelimit": { "limits": [
    { "name": "tls", "key": "client_ip", "rate": "3/1m", "burst": 3 } ] } } }
EOC
	}
	tconf "$T/tls.json" 127.0.0.1:$TUN_PORT s3cret
	tconf "$T/plain.json" 127.0.0.1:$TLS_PORT s3cret
	tconf "$T/badpw.json" 127.0.0.1:$TUN_PORT wrong
	tt() { "$GW" test -c "$1" --ip 192.0.2.9 --from a@example.com --rcpt b@example.org </dev/null 2>>"$T/test.log" |
	    J 'd["verdict"], d["reply"]["code"], d["reply"]["xcode"]'; }
	check "$(tt "$T/tls.json")" "accept 250 2.0.0" "through stunnel (TLS, AUTH): decision made"
	out=$(redis-cli --tls --cacert "$T/ca.pem" -p $TLS_PORT -a s3cret --no-auth-warning pttl gw:rl:tls:192.0.2.9)
	[ "${out:-0}" -gt 0 ] && ok "the counter is in the TLS-only Redis" || ko "no counter behind TLS: $out"
	check "$(tt "$T/plain.json")" "tempfail 451 4.3.0" "plain TCP to the TLS port: no store (on_error tempfail)"
	check "$(tt "$T/badpw.json")" "tempfail 451 4.3.0" "wrong password through stunnel: no store"
fi

bad=$(grep -l -E "AddressSanitizer|runtime error|LeakSanitizer" "$T"/d?.log "$T/test.log" 2>/dev/null)
[ -z "$bad" ] && ok "no sanitizer reports" || ko "sanitizer reports in: $bad"
finish
