#!/bin/bash
# faults-dns - SPF when DNS fails: down, slow, truncating, garbage.
# The configuration says temperror -> tempfail (451 4.4.3) and fail ->
# reject (550); the zone publishes "v=spf1 -all" for good.example, the
# fault servers answer "v=spf1 +all" (a pass, if it were ever taken).  For
# each fault `gatewarden test` checks MAIL FROM a@good.example:
#   down      nothing listens on the port
#   slow      tests/dns/faultdns.py answers after 3 s (timeout_ms 300)
#   garbage   random bytes;  wrongid: an answer with another ID;
#   short     a cut header;  servfail: tests/dns/fixture.py says SERVFAIL
# and each must give temperror and 451, never a pass or an accept, well
# within the message's DNS budget (answer in under 2.5 s).  Truncating:
# fixture.py with --udp-max 60 sends every UDP answer truncated (TC), the
# resolver falls back to TCP and gets the real record: fail, 550.  Then
# the same under load, the server changing at random moments (part 2,
# below): not one message accepted.
# Ends "faults-dns: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init faults-dns
t_built "$GW"
SPID=""
cleanup() {
	stop_pid "$SPID"
}

cat >"$T/zone.json" <<'Z'
{"zonedata": {"good.example": [{"TXT": "v=spf1 -all"}]}}
Z
cat >"$T/servfail.json" <<'Z'
{"zonedata": {"good.example": ["SERVFAIL"]}}
Z

# conf PORT - SPF only, MAIL FROM identity only, the resolver on PORT
conf() {
	"$PY" - "$T/gw.json" "$1" <<'PY'
import json, sys
c = json.load(open("conf/gatewarden.json"))
c["dns"] = {"servers": ["127.0.0.1@" + sys.argv[2]], "timeout_ms": 300,
            "message_budget_ms": 2000}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k == "spf"
p["spf"]["helo_check"] = False
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
}

# start CMD... - a server in the background, waiting for its JSON line
start() {
	"$@" >"$T/srv.out" 2>"$T/srv.err" &
	SPID=$!
	for _ in $(seq 100); do
		grep -q '"port"' "$T/srv.out" 2>/dev/null && return 0
		alive "$SPID" || break
		sleep 0.05
	done
	ko "server starts: $* $(tail -2 "$T/srv.err")"
	return 1
}

# judge WHAT WANT_RESULT WANT_CODE - test mode against the resolver
judge() {
	local t0 ms out res code
	t0=$(date +%s%N)
	out=$("$GW" test -c "$T/gw.json" --ip 192.0.2.10 --helo h.example \
	    --from a@good.example --rcpt b@dest.example "$T/m.eml" 2>/dev/null)
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	res=$(echo "$out" | "$PY" -c 'import json,sys; j=json.load(sys.stdin); print(j["results"]["spf"]["result"], j["reply"]["code"])' 2>/dev/null)
	check_eq "$1: SPF result and reply" "$res" "$2 $3"
	if [ "$ms" -lt 2500 ]; then
		ok "$1: answered in $ms ms"
	else
		ko "$1: answered in $ms ms, want < 2500"
	fi
}

printf 'From: a@good.example\nTo: b@dest.example\nSubject: x\n\nbody\n' >"$T/m.eml"
PORT=$(free_port 29900 29999) || { ko "no free port"; t_done; }

conf "$PORT"
judge "DNS down" temperror 451

for mode in slow garbage wrongid short; do
	start "$PY" tests/dns/faultdns.py --port "$PORT" --mode "$mode" || continue
	judge "DNS $mode" temperror 451
	stop_pid "$SPID"; SPID=""
done

if start "$PY" tests/dns/fixture.py --port "$PORT" "$T/servfail.json"; then
	judge "DNS SERVFAIL" temperror 451
	stop_pid "$SPID"; SPID=""
fi
if start "$PY" tests/dns/fixture.py --port "$PORT" --udp-max 60 \
    --log "$T/q.log" "$T/zone.json"; then
	judge "DNS truncating (TCP fallback)" fail 550
	check "DNS truncating: the answer came over TCP" grep -qi tcp "$T/q.log"
	stop_pid "$SPID"; SPID=""
fi

# 2. under load, the DNS server changing at random moments: the daemon
# (SPF, MAIL FROM sender@load.example, whose domain publishes -all) gets
# 20,000 messages over 10 connections while the server on PORT is in turn
# the fixture, nothing, slow, garbage, SERVFAIL, the fixture ...  Every
# message must be refused (550 fail, or 451 temperror): not one accepted.
LOAD=$BUILD/bench/milterload
DPID=""
cleanup() {
	stop_pid "$SPID" "$DPID" "$LPID"
}
LPID=""
cat >"$T/load-zone.json" <<'Z'
{"zonedata": {"load.example": [{"TXT": "v=spf1 -all"}]}}
Z
cat >"$T/load-servfail.json" <<'Z'
{"zonedata": {"load.example": ["SERVFAIL"]}}
Z
"$PY" - "$T/gw.json" "unix:$T/gw.sock" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["milter"] = {"socket": sys.argv[2], "timeout": "30s", "shutdown_timeout": "1s"}
c["log"] = {"level": "warning", "stderr": True}
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
"$GW" -f -c "$T/gw.json" </dev/null >"$T/gw.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$T/gw.sock" ] && break; alive "$DPID" || break; sleep 0.05; done
[ -S "$T/gw.sock" ] || { ko "daemon listens: $(tail -3 "$T/gw.log")"; t_done; }
"$LOAD" -s "unix:$T/gw.sock" -c 10 -m 20000 -k 50 -l dnsfaults \
    >"$T/load.out" 2>&1 &
LPID=$!
n=0
while alive "$LPID" && [ $n -lt 200 ]; do
	case $((n % 5)) in
	0) start "$PY" tests/dns/fixture.py --port "$PORT" "$T/load-zone.json" ;;
	1) : ;;		# nothing listens
	2) start "$PY" tests/dns/faultdns.py --port "$PORT" --mode slow ;;
	3) start "$PY" tests/dns/faultdns.py --port "$PORT" --mode garbage ;;
	4) start "$PY" tests/dns/fixture.py --port "$PORT" "$T/load-servfail.json" ;;
	esac
	sleep "0.$(( RANDOM % 5 + 2 ))"
	stop_pid "$SPID"; SPID=""
	n=$((n + 1))
done
wait "$LPID"
lrc=$?
LPID=""
res=$(grep '^RESULT' "$T/load.out")
echo "     $res; $(grep -o 'verdicts:.*' "$T/load.out"); $n DNS changes"
check_eq "under load: every message got a verdict (milterload exit)" "$lrc" 0
if [ "$n" -ge 5 ]; then ok "under load: $n DNS changes, every kind at least once"; else ko "under load: only $n DNS changes"; fi
if grep -qE 'verdicts:.* (continue|accept)=' "$T/load.out"; then
	ko "under load: no message accepted" "$(grep -o 'verdicts:.*' "$T/load.out")"
else
	ok "under load: no message accepted"
fi
if alive "$DPID"; then ok "under load: daemon still running"; else ko "under load: daemon died"; fi
t_done
