#!/bin/bash
# addresses - a MAIL FROM that is not an RFC 5321 path gets SPF "none" and
# is never checked against a domain guessed from it (the part after the
# last '@').  The DNS fixture publishes "v=spf1 +all" for evil.example and
# "v=spf1 -all" for good.example; a valid sender at evil.example passes,
# so a guessed evil.example would show as "pass".  `gatewarden test` runs
# the SPF policy against the fixture on loopback.
# Ends "addresses: N passed, N failed".
cd "$(dirname "$0")/../../.." || exit 1
. tests/lib.sh
t_init addresses
DPID=""

cleanup() {
	stop_pid "$DPID"
}

t_built "$GW"
cat > "$T/zone.json" <<'Z'
{"zonedata": {"evil.example": [{"TXT": "v=spf1 +all"}],
              "good.example": [{"TXT": "v=spf1 -all"}]}}
Z
PORT=""
for p in $(seq 29480 29499); do
	$PY tests/dns/fixture.py --port "$p" "$T/zone.json" \
	    >"$T/dns.out" 2>"$T/dns.log" &
	DPID=$!
	for _ in $(seq 100); do
		[ -s "$T/dns.out" ] && break
		alive "$DPID" || break
		sleep 0.05
	done
	if grep -q '"port"' "$T/dns.out"; then PORT=$p; break; fi
	stop_pid "$DPID"; DPID=""
done
[ -n "$PORT" ] || { ko "DNS fixture did not start: $(tail -2 "$T/dns.log")"; t_done; }

"$PY" - "$T/gw.json" "$PORT" <<'PY' || { ko "cannot write the configuration"; t_done; }
import json, sys
c = json.load(open("conf/gatewarden.json"))
c["dns"] = {"servers": ["127.0.0.1@" + sys.argv[2]], "timeout_ms": 1000}
c["log"] = {"level": "info", "stderr": True}
p = c["policies"]
for k in p:
    if isinstance(p[k], dict):
        p[k]["enabled"] = k == "spf"
p["spf"]["helo_check"] = False
json.dump(c, open(sys.argv[1], "w"), indent=1)
PY
printf 'From: a@good.example\nTo: b@dest.example\nSubject: x\n\nbody\n' > "$T/m.eml"

# spf FROM - the SPF result for that MAIL FROM
spf() {
	"$GW" test -c "$T/gw.json" --ip 192.0.2.10 --helo client.example \
	    --from "$1" --rcpt b@dest.example "$T/m.eml" 2>"$T/err" |
	    "$PY" -c 'import json,sys; print(json.load(sys.stdin)["results"]["spf"]["result"])' 2>&1
}

check_eq "valid sender at evil.example: pass (the fixture answers)" \
    "$(spf 'x@evil.example')" pass
check_eq "valid sender at good.example: fail" "$(spf 'x@good.example')" fail
check_eq "quoted @ in the local part is a path" "$(spf '"x@good.example"@evil.example')" pass
for from in 'x@good.example@evil.example' 'x@good.example,y@evil.example' \
    'x@good.example y@evil.example' 'x y@evil.example' 'x,y@evil.example' \
    'x..y@evil.example' '<x@good.example>@evil.example' 'evil.example' \
    '@evil.example'; do
	check_eq "MAIL FROM '$from': none, no guessed domain" "$(spf "$from")" none
done
t_done
