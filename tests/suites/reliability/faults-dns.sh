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
# resolver falls back to TCP and gets the real record: fail, 550.
# Ends "faults-dns: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init faults-dns
[ -x "$GW" ] || { ko "no $GW (make all)"; t_done; }
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
t_done
