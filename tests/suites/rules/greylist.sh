#!/bin/sh
# greylist.sh - greylisting of the rules policy on a real
# redis-server (127.0.0.1, ports 31800-31999): two configurations stand
# for two MTA hosts sharing one Redis; each `$GW test` run is a separate
# process, so whatever the second one knows came through Redis.
# Ends with "greylist-suite: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init greylist-suite
RPID=
DPIDS=
cleanup() {
	for p in $DPIDS; do
		alive "$p" && kill -KILL "$p" 2>/dev/null
	done
	[ -z "$RPID" ] || stop_pid "$RPID"
}

if ! command -v redis-server >/dev/null; then
	ko "redis-server not installed"
	t_done
fi
RPORT=$(free_port 31800 31949) || RPORT=31800
RCLI() { redis-cli -p "$RPORT" "$@"; }
started=
for try in 1 2 3 4 5 6 7 8 9 10; do
	redis-server --port "$RPORT" --bind 127.0.0.1 --save '' \
	    --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
	RPID=$!
	for _ in $(seq 100); do
		RCLI ping >/dev/null 2>&1 && { started=1; break; }
		alive "$RPID" || break
		sleep 0.05
	done
	[ -n "$started" ] && break
	stop_pid "$RPID"; RPID=
	RPORT=$((RPORT + 1))
done
if [ -z "$started" ]; then
	ko "redis-server did not start: $(tail -2 "$T/redis.log")"
	t_done
fi
ok

for host in a b; do
	cat >"$T/$host.json" <<EOF
{
  "milter": {"socket": "unix:$T/$host.sock"},
  "store": {"backend": "redis", "on_error": "tempfail",
            "redis": {"servers": ["127.0.0.1:$RPORT"]}},
  "policies": {"rules": {
    "greylist": {"delay": "1s", "retry_window": "1h", "pass_lifetime": "1d",
                 "auto_allow_after": 0}
  }}
}
EOF
done
printf 'Subject: hello\r\n\r\nhi\r\n' >"$T/msg.eml"

# gwt HOST NAME IP FROM - one run; JSON in $T/NAME.json
gwt() {
	"$GW" test -c "$T/$1.json" --ip "$3" --helo mx.sender.example \
	    --from "$4" --rcpt user@dest.example "$T/msg.eml" \
	    >"$T/$2.json" 2>"$T/$2.err"
}
check_json() { # check_json WHAT NAME PYEXPR (d: the JSON)
	if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
	    "$T/$2.json" "$3"; then
		ok
	else
		ko "$1"; head -c 1200 "$T/$2.json"; echo; cat "$T/$2.err"
	fi
}

gwt a first 203.0.113.5 sender@sender.example
check_json "first attempt: 451 4.7.1 at RCPT" first \
    'd["verdict"] == "tempfail" and d["stage"] == "rcpt" and d["reply"]["code"] == "451" and d["reply"]["xcode"] == "4.7.1"'
n=$(RCLI --scan --pattern 'gw:gl:t:*' | wc -l)
if [ "$n" -eq 1 ]; then ok; else ko "triplet stored in Redis ($n keys)"; fi

gwt b early 203.0.113.9 sender@sender.example
check_json "host b, same /24, at once: still too early (state shared)" early \
    'd["verdict"] == "tempfail" and "too early" in d["results"]["rules"]["greylist"]'

# wait out the 1 s delay (the delay is the point of the test)
i=0
while [ $i -lt 40 ]; do
	gwt b retry 203.0.113.9 sender@sender.example
	grep -q '"verdict": "accept"' "$T/retry.json" && break
	sleep 0.1; i=$((i + 1))
done
check_json "host b retries after the delay: delivered" retry \
    'd["verdict"] == "accept" and "passed" in d["results"]["rules"]["greylist"]'
n=$(RCLI --scan --pattern 'gw:gl:p:*' | wc -l)
if [ "$n" -eq 1 ]; then ok; else ko "pass stored in Redis ($n keys)"; fi

gwt a again 203.0.113.5 sender@sender.example
check_json "host a knows the pass" again \
    'd["verdict"] == "accept" and "passed before" in d["results"]["rules"]["greylist"]'

gwt a bounce 203.0.113.5 ""
check_json "null sender: accepted at RCPT, 451 at DATA" bounce \
    'd["verdict"] == "tempfail" and d["stage"] == "data" and d["rcpts"][0]["verdict"] == "accept"'

gwt a v6 2001:db8::7 other@sender.example
check_json "IPv6 client greylisted" v6 \
    'd["verdict"] == "tempfail" and "2001:db8::/64" in d["results"]["rules"]["greylist"]'

# Two daemons (two MTA hosts) on the same Redis, over the milter protocol:
# host a greylists a new triplet, host b sees the same state at once and
# lets the retry through once the delay is over.
for host in a b; do
	"$GW" -f -c "$T/$host.json" >"$T/gw-$host.log" 2>&1 &
	DPIDS="$DPIDS $!"
done
for host in a b; do
	for _ in $(seq 100); do [ -S "$T/$host.sock" ] && break; sleep 0.05; done
done
probe() {	# probe HOST -> the RCPT reply char
	miltertest -D sock="unix:$T/$1.sock" -D ip=198.51.100.20 \
	    -D sender=daemon@sender.example -D rcpt=user@dest.example \
	    -s tests/daemon/probe_rcpt.lua 2>&1 | sed -n 's/^REPLY //p'
}
r=$(probe a)
case $r in y|t) ok ;; *) ko "daemon a: first attempt not tempfailed (reply '$r': $(tail -2 "$T/gw-a.log"))" ;; esac
r=$(probe b)
case $r in y|t) ok ;; *) ko "daemon b: retry at once not tempfailed (reply '$r')" ;; esac
i=0; r=
while [ $i -lt 40 ]; do
	r=$(probe b)
	[ "$r" = c ] && break
	sleep 0.1; i=$((i + 1))
done
if [ "$r" = c ]; then ok; else ko "daemon b: retry after the delay not accepted (reply '$r')"; fi
r=$(probe a)
if [ "$r" = c ]; then ok; else ko "daemon a: the pass recorded by b is not seen (reply '$r')"; fi
for p in $DPIDS; do kill "$p" 2>/dev/null; done
for p in $DPIDS; do wait "$p" 2>/dev/null; done
DPIDS=

# Redis gone: store.on_error tempfail answers 451 4.3.0
kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; RPID=
gwt a down 198.51.100.1 x@sender.example
check_json "Redis down: store on_error tempfail" down \
    'd["verdict"] == "tempfail" and d["reply"]["xcode"] == "4.3.0"'

t_done
